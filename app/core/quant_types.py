"""The whole-file quantization types llama.cpp's quantizer offers, by name: the one table of them.

Sources (facts, not code): the `llama_ftype` numbers are from llama.cpp's include/llama.h (as bound by
llama-cpp-python 0.3.36, llama_cpp.LLAMA_FTYPE_*); the names and which types need an importance matrix
follow tools/quantize/quantize.cpp and src/llama-quant.cpp ("Missing importance matrix for tensor ...":
IQ1_S, IQ1_M, IQ2_XXS, IQ2_XS, IQ2_S, IQ2_M and Q2_K_S refuse to run without one); bits per weight are
those of each type's main ggml block type (facts/quant-quality.md, from ggml's block layouts).

K-quant and i-quant blocks hold 256 weights; a tensor whose rows are not a multiple of 256 long falls back
to a legacy type (`fallback_bits`): the 135M starter model (rows of 576) shows this on most tensors.
"""

from __future__ import annotations

from dataclasses import dataclass

from app.core.errors import QuantDeskError


@dataclass(frozen=True)
class QuantType:
    """One whole-file type: its name (as llama-quantize spells it) and llama.cpp's number for it."""

    name: str
    ftype: int
    bits_per_weight: float  # of the main block type; mixes (_M, _L) keep a few tensors higher
    needs_imatrix: bool = False  # llama.cpp refuses to make it without an importance matrix
    imatrix_recommended: bool = False  # it works without one, but is much worse
    fallback_bits: float | None = None  # bits of the legacy type used for rows not a multiple of 256

    @property
    def is_float(self) -> bool:
        return self.name in ("F32", "F16", "BF16")


# In order from largest to smallest, the order a person reads a ladder in.
QUANT_TYPES: tuple[QuantType, ...] = (
    QuantType("F32", 0, 32.0),
    QuantType("F16", 1, 16.0),
    QuantType("BF16", 32, 16.0),
    QuantType("Q8_0", 7, 8.5),
    QuantType("Q6_K", 18, 6.5625, fallback_bits=8.5),
    QuantType("Q5_K_M", 17, 5.5, fallback_bits=6.0),
    QuantType("Q5_K_S", 16, 5.5, fallback_bits=6.0),
    QuantType("Q5_1", 9, 6.0),
    QuantType("Q5_0", 8, 5.5),
    QuantType("Q4_K_M", 15, 4.5, fallback_bits=5.5),
    QuantType("Q4_K_S", 14, 4.5, fallback_bits=5.5),
    QuantType("Q4_1", 3, 5.0),
    QuantType("Q4_0", 2, 4.5),
    QuantType("IQ4_NL", 25, 4.5),
    QuantType("IQ4_XS", 30, 4.25, fallback_bits=4.5),
    QuantType("Q3_K_L", 13, 3.4375, fallback_bits=5.5),
    QuantType("Q3_K_M", 12, 3.4375, fallback_bits=5.5),
    QuantType("Q3_K_S", 11, 3.4375, fallback_bits=5.5),
    QuantType("IQ3_M", 27, 3.4375, imatrix_recommended=True, fallback_bits=4.5),
    QuantType("IQ3_S", 26, 3.4375, imatrix_recommended=True, fallback_bits=4.5),
    QuantType("IQ3_XS", 22, 3.0625, imatrix_recommended=True, fallback_bits=4.5),
    QuantType("IQ3_XXS", 23, 3.0625, imatrix_recommended=True, fallback_bits=4.5),
    QuantType("Q2_K", 10, 2.625, fallback_bits=5.5),
    QuantType("Q2_K_S", 21, 2.625, needs_imatrix=True, fallback_bits=5.5),
    QuantType("IQ2_M", 29, 2.5625, needs_imatrix=True, fallback_bits=4.5),
    QuantType("IQ2_S", 28, 2.5625, needs_imatrix=True, fallback_bits=4.5),
    QuantType("IQ2_XS", 20, 2.3125, needs_imatrix=True, fallback_bits=4.5),
    QuantType("IQ2_XXS", 19, 2.0625, needs_imatrix=True, fallback_bits=4.5),
    QuantType("IQ1_M", 31, 1.75, needs_imatrix=True, fallback_bits=4.5),
    QuantType("IQ1_S", 24, 1.5625, needs_imatrix=True, fallback_bits=4.5),
)

_BY_NAME = {t.name: t for t in QUANT_TYPES}
_BY_FTYPE = {t.ftype: t for t in QUANT_TYPES}

#: A sensible ladder for the comparison panel: one near-lossless, one good, one small, one tiny.
DEFAULT_LADDER: tuple[str, ...] = ("Q8_0", "Q6_K", "Q4_K_M", "Q2_K")


class UnknownQuantTypeError(QuantDeskError):
    """A type name llama.cpp's quantizer does not offer."""


def quant_type(name: str) -> QuantType:
    """The type called `name` (case-insensitive); a clear error listing the choices otherwise."""
    found = _BY_NAME.get(name.strip().upper())
    if found is None:
        raise UnknownQuantTypeError(
            f"{name!r} is not a quantization type llama.cpp can make. "
            f"Choose one of: {', '.join(t.name for t in QUANT_TYPES)}.",
            f"unknown file type name {name!r}",
        )
    return found


def quant_type_for_ftype(ftype: int) -> QuantType | None:
    """The type with llama.cpp file-type number `ftype` (general.file_type), if it is one of ours."""
    return _BY_FTYPE.get(ftype & ~1024)  # 1024 = LLAMA_FTYPE_GUESSED
