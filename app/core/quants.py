"""The one catalogue of quantization types: what each llama.cpp file type is made of and what it costs.

Every number here comes from outside QuantDesk and says where from:
- Block sizes (weights and bytes per block) of each ggml tensor type, and llama.cpp's file-type numbers
  (include/llama.h's llama_ftype), are read from gguf-py (GGML_QUANT_SIZES, LlamaFileType), not copied.
- Each whole-file type's main block type (the type most of its tensors get) and the legacy type rows fall
  back to when their length is not a multiple of 256 follow llama.cpp's src/llama-quant.cpp. Which types need
  an importance matrix follows tools/quantize/quantize.cpp ("Missing importance matrix for tensor ...": IQ1_S,
  IQ1_M, IQ2_XXS, IQ2_XS, IQ2_S, IQ2_M and Q2_K_S refuse to run without one).
- The published quality figures: llama.cpp `tools/perplexity/README.md` ("LLaMA 3 8b Scoreboard", wikitext,
  against FP16 at perplexity 6.233); bits/weight of whole files from `tools/quantize/README.md`
  (Llama-3.1-8B). Losses depend on the model (small models lose more), so the app always says which model
  they were measured on.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from app.core.errors import UnknownQuantTypeError

QUALITY_SOURCE = "measured on Llama-3-8B by llama.cpp"
QUALITY_REFERENCE = "llama.cpp tools/perplexity/README.md, LLaMA 3 8b Scoreboard (wikitext, against FP16)"
_GUESSED_FLAG = 1024  # LLAMA_FTYPE_GUESSED, or-ed into general.file_type by old converters
#: Bytes per weight of the unquantized types: what the formats are, so the pages built at start-up can describe
#: them without gguf-py (tests/core/test_quants.py holds them against gguf-py's GGML_QUANT_SIZES).
FLOAT_WIDTHS = {"F32": 4, "F16": 2, "BF16": 2}


@dataclass(frozen=True)
class QualityLoss:
    """How far a quant level moves a model's predictions from the unquantized model."""

    delta_perplexity: float  # perplexity above FP16 (6.233 on Llama-3-8B)
    mean_kld: float | None  # mean KL divergence from FP16's token probabilities
    same_top_token: float | None  # share of positions where the top token is FP16's (0..1)
    source: str = QUALITY_SOURCE


def block_size(ggml_type: str) -> tuple[int, int]:
    """(weights per block, bytes per block) of a ggml tensor type such as "Q4_K" or "F16"."""
    if ggml_type in FLOAT_WIDTHS:
        return 1, FLOAT_WIDTHS[ggml_type]
    # gguf-py (and numpy behind it) is imported here, not at the top: the window's start-up reaches this
    # module through the job registry and would pay about 0.2 s for tables nothing on screen needs yet.
    from gguf import GGML_QUANT_SIZES, GGMLQuantizationType

    block, nbytes = GGML_QUANT_SIZES[GGMLQuantizationType[ggml_type]]
    return int(block), int(nbytes)


def block_bits(ggml_type: str) -> float:
    """Bits per weight of a ggml block type such as "Q4_K" (its bytes per block × 8 / weights per block)."""
    block, nbytes = block_size(ggml_type)
    return nbytes * 8 / block


def tensor_bytes(ggml_type: str, n_elements: int) -> int:
    """Exact bytes of a tensor of `n_elements` weights stored as `ggml_type`."""
    block, nbytes = block_size(ggml_type)
    return n_elements // block * nbytes


def ggml_type_name(type_id: int) -> str:
    """"Q4_K" for ggml type id 12; ValueError for an id gguf-py does not know."""
    from gguf import GGMLQuantizationType

    return GGMLQuantizationType(type_id).name


def file_type_number(name: str) -> int:
    """llama.cpp's llama_ftype number of a whole-file type, as written in general.file_type."""
    from gguf import LlamaFileType

    return int(LlamaFileType["ALL_F32" if name == "F32" else f"MOSTLY_{name}"])


@dataclass(frozen=True)
class QuantType:
    """One whole-file type ("Q4_K_M", as llama-quantize spells it): what it is made of and what it costs."""

    name: str
    main_type: str  # the ggml block type most tensors get ("Q4_K" for Q4_K_M)
    needs_imatrix: bool = False  # llama.cpp refuses to make it without an importance matrix
    imatrix_recommended: bool = False  # it works without one, but is much worse
    fallback_type: str | None = None  # the legacy type for rows not a multiple of 256
    quality: QualityLoss | None = None  # published loss on Llama-3-8B; None where the scoreboard has no row
    words: str = ""  # a few plain words for people
    published_bits_per_weight: float | None = None  # whole file, Llama-3.1-8B (tools/quantize/README.md)

    @property
    def ftype(self) -> int:
        """llama.cpp's llama_ftype number (general.file_type)."""
        return file_type_number(self.name)

    @property
    def main_bits_per_weight(self) -> float:
        """Of the main block type; mixes (_M, _L) keep a few tensors higher."""
        return block_bits(self.main_type)

    @property
    def fallback_bits(self) -> float | None:
        return block_bits(self.fallback_type) if self.fallback_type else None

    @property
    def file_bits_per_weight(self) -> float:
        """Bits per weight of a whole file of this type: the published figure where there is one, else the
        main block type's (a little low: the file's more sensitive tensors get more bits)."""
        return self.published_bits_per_weight or self.main_bits_per_weight

    @property
    def is_float(self) -> bool:
        return self.name in ("F32", "F16", "BF16")


def _needs_imatrix(name: str, main_type: str) -> QuantType:
    return QuantType(name, main_type, needs_imatrix=True, fallback_type="IQ4_NL")


def _imatrix_helps(name: str, main_type: str) -> QuantType:
    return QuantType(name, main_type, imatrix_recommended=True, fallback_type="IQ4_NL")


_Q = QualityLoss
# Every type llama.cpp's quantizer writes, from largest to smallest: the order a person reads a ladder in.
QUANT_TYPES: tuple[QuantType, ...] = (
    QuantType("F32", "F32"),
    QuantType("F16", "F16", quality=_Q(0.0, 0.0, 1.0), words="unquantized: the original weights",
              published_bits_per_weight=16.0),
    QuantType("BF16", "BF16"),
    QuantType("Q8_0", "Q8_0", quality=_Q(0.003, 0.0014, 0.977), words="practically lossless",
              published_bits_per_weight=8.50),
    QuantType("Q6_K", "Q6_K", fallback_type="Q8_0", quality=_Q(0.022, 0.0055, 0.960),
              words="very close to the original", published_bits_per_weight=6.56),
    QuantType("Q5_K_M", "Q5_K", fallback_type="Q5_1", quality=_Q(0.057, 0.0108, None),
              words="close to the original", published_bits_per_weight=5.70),
    QuantType("Q5_K_S", "Q5_K", fallback_type="Q5_1"),
    QuantType("Q5_1", "Q5_1"),
    QuantType("Q5_0", "Q5_0"),
    QuantType("Q4_K_M", "Q4_K", fallback_type="Q5_0", quality=_Q(0.175, 0.0313, 0.919),
              words="the usual balance of size and quality", published_bits_per_weight=4.89),
    QuantType("Q4_K_S", "Q4_K", fallback_type="Q5_0"),
    QuantType("Q4_1", "Q4_1"),
    QuantType("Q4_0", "Q4_0"),
    QuantType("IQ4_NL", "IQ4_NL"),
    QuantType("IQ4_XS", "IQ4_XS", fallback_type="IQ4_NL"),
    QuantType("Q3_K_L", "Q3_K", fallback_type="Q5_0"),
    QuantType("Q3_K_M", "Q3_K", fallback_type="Q5_0", quality=_Q(0.657, 0.102, None), words="noticeably worse"),
    QuantType("Q3_K_S", "Q3_K", fallback_type="Q5_0"),
    _imatrix_helps("IQ3_M", "IQ3_S"),
    _imatrix_helps("IQ3_S", "IQ3_S"),
    _imatrix_helps("IQ3_XS", "IQ3_XXS"),
    _imatrix_helps("IQ3_XXS", "IQ3_XXS"),
    QuantType("Q2_K", "Q2_K", fallback_type="Q5_0", quality=_Q(3.52, 0.445, 0.711),
              words="much worse; a last resort", published_bits_per_weight=3.16),
    QuantType("Q2_K_S", "Q2_K", needs_imatrix=True, fallback_type="Q5_0"),
    _needs_imatrix("IQ2_M", "IQ2_S"),
    _needs_imatrix("IQ2_S", "IQ2_S"),
    _needs_imatrix("IQ2_XS", "IQ2_XS"),
    _needs_imatrix("IQ2_XXS", "IQ2_XXS"),
    _needs_imatrix("IQ1_M", "IQ1_M"),
    _needs_imatrix("IQ1_S", "IQ1_S"),
)

BY_NAME: dict[str, QuantType] = {t.name: t for t in QUANT_TYPES}


@cache
def _by_ftype() -> dict[int, QuantType]:
    return {t.ftype: t for t in QUANT_TYPES}


#: The levels the estimate and the recommendation offer, best quality first. All of them quantize without an
#: importance matrix.
OFFERED_NAMES: tuple[str, ...] = ("F16", "Q8_0", "Q6_K", "Q5_K_M", "Q4_K_M", "Q3_K_M", "Q2_K")
OFFERED: tuple[QuantType, ...] = tuple(BY_NAME[n] for n in OFFERED_NAMES)

#: A sensible ladder for the comparison panel: one near-lossless, one good, one small, one tiny.
DEFAULT_LADDER: tuple[str, ...] = ("Q8_0", "Q6_K", "Q4_K_M", "Q3_K_M", "Q2_K")


def quant_type(name: str) -> QuantType:
    """The type called `name` (case-insensitive); a clear error listing the choices otherwise."""
    found = BY_NAME.get(name.strip().upper())
    if found is None:
        raise UnknownQuantTypeError(
            f"{name!r} is not a quantization type llama.cpp can make. "
            f"Choose one of: {', '.join(t.name for t in QUANT_TYPES)}.",
            f"unknown file type name {name!r}",
        )
    return found


def quant_type_for_ftype(ftype: int) -> QuantType | None:
    """The type with llama.cpp file-type number `ftype` (general.file_type), if llama.cpp still makes it."""
    return _by_ftype().get(ftype & ~_GUESSED_FLAG)
