"""The whole-file quantization types llama.cpp's quantizer offers, by name: the one table of them.

Each type is named with its main ggml block type (the type most of its tensors get, from llama.cpp's
src/llama-quant.cpp) and, for K- and i-quants, the legacy type rows fall back to when their length is not a
multiple of 256 (the 135M starter model, with rows of 576, shows this on most tensors). Everything numeric
is derived, not written down again: llama.cpp's file-type numbers from gguf-py's LlamaFileType (the values
of include/llama.h's llama_ftype) and bits per weight from ggml's block sizes (gguf-py's GGML_QUANT_SIZES).
Which types need an importance matrix follows tools/quantize/quantize.cpp and llama-quant.cpp ("Missing
importance matrix for tensor ...": IQ1_S, IQ1_M, IQ2_XXS, IQ2_XS, IQ2_S, IQ2_M and Q2_K_S refuse to run
without one). app/core/quants.py adds the published quality figures for the levels the estimate offers.
"""

from __future__ import annotations

from dataclasses import dataclass

from gguf import GGML_QUANT_SIZES, GGMLQuantizationType, LlamaFileType

from app.core.errors import QuantDeskError


def block_bits(ggml_type: str) -> float:
    """Bits per weight of a ggml block type such as "Q4_K" (its bytes per block × 8 / weights per block)."""
    block, nbytes = GGML_QUANT_SIZES[GGMLQuantizationType[ggml_type]]
    return nbytes * 8 / block


def file_type_number(name: str) -> int:
    """llama.cpp's llama_ftype number of a whole-file type, as written in general.file_type."""
    return int(LlamaFileType["ALL_F32" if name == "F32" else f"MOSTLY_{name}"])


@dataclass(frozen=True)
class QuantType:
    """One whole-file type: its name (as llama-quantize spells it) and what it is made of."""

    name: str
    main_type: str  # the ggml block type most tensors get ("Q4_K" for Q4_K_M)
    needs_imatrix: bool = False  # llama.cpp refuses to make it without an importance matrix
    imatrix_recommended: bool = False  # it works without one, but is much worse
    fallback_type: str | None = None  # the legacy type for rows not a multiple of 256

    @property
    def ftype(self) -> int:
        return file_type_number(self.name)

    @property
    def bits_per_weight(self) -> float:
        """Of the main block type; mixes (_M, _L) keep a few tensors higher."""
        return block_bits(self.main_type)

    @property
    def fallback_bits(self) -> float | None:
        return block_bits(self.fallback_type) if self.fallback_type else None

    @property
    def is_float(self) -> bool:
        return self.name in ("F32", "F16", "BF16")


def _needs_imatrix(name: str, main_type: str) -> QuantType:
    return QuantType(name, main_type, needs_imatrix=True, fallback_type="IQ4_NL")


def _imatrix_helps(name: str, main_type: str) -> QuantType:
    return QuantType(name, main_type, imatrix_recommended=True, fallback_type="IQ4_NL")


# In order from largest to smallest, the order a person reads a ladder in.
QUANT_TYPES: tuple[QuantType, ...] = (
    QuantType("F32", "F32"),
    QuantType("F16", "F16"),
    QuantType("BF16", "BF16"),
    QuantType("Q8_0", "Q8_0"),
    QuantType("Q6_K", "Q6_K", fallback_type="Q8_0"),
    QuantType("Q5_K_M", "Q5_K", fallback_type="Q5_1"),
    QuantType("Q5_K_S", "Q5_K", fallback_type="Q5_1"),
    QuantType("Q5_1", "Q5_1"),
    QuantType("Q5_0", "Q5_0"),
    QuantType("Q4_K_M", "Q4_K", fallback_type="Q5_0"),
    QuantType("Q4_K_S", "Q4_K", fallback_type="Q5_0"),
    QuantType("Q4_1", "Q4_1"),
    QuantType("Q4_0", "Q4_0"),
    QuantType("IQ4_NL", "IQ4_NL"),
    QuantType("IQ4_XS", "IQ4_XS", fallback_type="IQ4_NL"),
    QuantType("Q3_K_L", "Q3_K", fallback_type="Q5_0"),
    QuantType("Q3_K_M", "Q3_K", fallback_type="Q5_0"),
    QuantType("Q3_K_S", "Q3_K", fallback_type="Q5_0"),
    _imatrix_helps("IQ3_M", "IQ3_S"),
    _imatrix_helps("IQ3_S", "IQ3_S"),
    _imatrix_helps("IQ3_XS", "IQ3_XXS"),
    _imatrix_helps("IQ3_XXS", "IQ3_XXS"),
    QuantType("Q2_K", "Q2_K", fallback_type="Q5_0"),
    QuantType("Q2_K_S", "Q2_K", needs_imatrix=True, fallback_type="Q5_0"),
    _needs_imatrix("IQ2_M", "IQ2_S"),
    _needs_imatrix("IQ2_S", "IQ2_S"),
    _needs_imatrix("IQ2_XS", "IQ2_XS"),
    _needs_imatrix("IQ2_XXS", "IQ2_XXS"),
    _needs_imatrix("IQ1_M", "IQ1_M"),
    _needs_imatrix("IQ1_S", "IQ1_S"),
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
