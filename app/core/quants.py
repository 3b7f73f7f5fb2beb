"""The catalogue of quantization levels: what each llama.cpp file type is made of and what it costs.

Every number here comes from outside QuantDesk and says where from:
- Block sizes (weights per block, bytes per block) of each ggml tensor type: gguf-py's GGML_QUANT_SIZES, the
  same table llama.cpp's ggml uses, so they are read from there rather than copied.
- The published quality figures: llama.cpp `tools/perplexity/README.md` ("LLaMA 3 8b Scoreboard", wikitext,
  against FP16 at perplexity 6.233); bits/weight of whole files from `tools/quantize/README.md`
  (Llama-3.1-8B).
  Losses depend on the model (small models lose more), so the app always says which model they were
  measured on.
"""

from __future__ import annotations

from dataclasses import dataclass

from gguf import GGML_QUANT_SIZES, GGMLQuantizationType

from app.core.quant_types import block_bits, file_type_number, quant_type

QUALITY_SOURCE = "measured on Llama-3-8B by llama.cpp"
QUALITY_REFERENCE = "llama.cpp tools/perplexity/README.md, LLaMA 3 8b Scoreboard (wikitext, against FP16)"


@dataclass(frozen=True)
class QualityLoss:
    """How far a quant level moves a model's predictions from the unquantized model."""

    delta_perplexity: float  # perplexity above FP16 (6.233 on Llama-3-8B)
    mean_kld: float | None  # mean KL divergence from FP16's token probabilities
    same_top_token: float | None  # share of positions where the top token is FP16's (0..1)
    source: str = QUALITY_SOURCE


@dataclass(frozen=True)
class QuantLevel:
    """One llama.cpp file type ("Q4_K_M"): its main block type and its published quality loss."""

    name: str
    file_type: int  # llama.cpp's llama_ftype number, as written in general.file_type
    main_type: str  # the ggml block type most tensors get ("Q4_K" for Q4_K_M)
    quality: QualityLoss | None
    needs_imatrix: bool = False
    words: str = ""  # a few plain words for people
    published_bits_per_weight: float | None = None  # whole file, Llama-3.1-8B (tools/quantize/README.md)

    @property
    def main_bits_per_weight(self) -> float:
        return bits_per_weight(self.main_type)

    @property
    def file_bits_per_weight(self) -> float:
        """Bits per weight of a whole file of this level: the published figure where there is one, else
        the main block type's (a little low: the file's more sensitive tensors get more bits)."""
        return self.published_bits_per_weight or self.main_bits_per_weight


def block_size(ggml_type: str) -> tuple[int, int]:
    """(weights per block, bytes per block) of a ggml tensor type such as "Q4_K" or "F16"."""
    block, nbytes = GGML_QUANT_SIZES[GGMLQuantizationType[ggml_type]]
    return int(block), int(nbytes)


def bits_per_weight(ggml_type: str) -> float:
    return block_bits(ggml_type)


def tensor_bytes(ggml_type: str, n_elements: int) -> int:
    """Exact bytes of a tensor of `n_elements` weights stored as `ggml_type`."""
    block, nbytes = block_size(ggml_type)
    return n_elements // block * nbytes


def ggml_type_name(type_id: int) -> str:
    return GGMLQuantizationType(type_id).name


def _ftype(name: str) -> int:
    return file_type_number(name)


# Published quality (tools/perplexity/README.md, Llama-3-8B); None where the scoreboard has no row.
_Q = QualityLoss
LEVELS: tuple[QuantLevel, ...] = (
    QuantLevel(
        "F16",
        _ftype("F16"),
        "F16",
        _Q(0.0, 0.0, 1.0),
        words="unquantized: the original weights",
        published_bits_per_weight=16.0,
    ),
    QuantLevel(
        "Q8_0",
        _ftype("Q8_0"),
        "Q8_0",
        _Q(0.003, 0.0014, 0.977),
        words="practically lossless",
        published_bits_per_weight=8.50,
    ),
    QuantLevel(
        "Q6_K",
        _ftype("Q6_K"),
        "Q6_K",
        _Q(0.022, 0.0055, 0.960),
        words="very close to the original",
        published_bits_per_weight=6.56,
    ),
    QuantLevel(
        "Q5_K_M",
        _ftype("Q5_K_M"),
        "Q5_K",
        _Q(0.057, 0.0108, None),
        words="close to the original",
        published_bits_per_weight=5.70,
    ),
    QuantLevel(
        "Q4_K_M",
        _ftype("Q4_K_M"),
        "Q4_K",
        _Q(0.175, 0.0313, 0.919),
        words="the usual balance of size and quality",
        published_bits_per_weight=4.89,
    ),
    QuantLevel("Q3_K_M", _ftype("Q3_K_M"), "Q3_K", _Q(0.657, 0.102, None), words="noticeably worse"),
    QuantLevel(
        "Q2_K",
        _ftype("Q2_K"),
        "Q2_K",
        _Q(3.52, 0.445, 0.711),
        words="much worse; a last resort",
        published_bits_per_weight=3.16,
    ),
)
"""The levels QuantDesk offers, best quality first. All of them quantize without an importance matrix."""

BY_NAME: dict[str, QuantLevel] = {level.name: level for level in LEVELS}

# Other file types llama.cpp can write whose tensor mix quant_mix.py predicts, so a file of that type can be
# named and sized; their main block types and imatrix needs come from the quantizer's table.
_PREDICTED_EXTRAS = ("BF16", "Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q3_K_S", "Q3_K_L", "Q4_K_S", "Q5_K_S", "Q2_K_S",
                     "IQ4_NL", "IQ4_XS")
for _extra in _PREDICTED_EXTRAS:
    _t = quant_type(_extra)
    BY_NAME[_extra] = QuantLevel(_extra, _t.ftype, _t.main_type, None, needs_imatrix=_t.needs_imatrix)


def level(name: str) -> QuantLevel:
    """The level named `name` (case-insensitive); KeyError naming the known ones otherwise."""
    key = name.upper()
    if key not in BY_NAME:
        raise KeyError(f"unknown quant type {name!r}; known: {', '.join(BY_NAME)}")
    return BY_NAME[key]


def level_for_file_type(file_type: int) -> QuantLevel | None:
    """The level a GGUF's general.file_type names, if QuantDesk knows it."""
    for candidate in BY_NAME.values():
        if candidate.file_type == file_type:
            return candidate
    return None
