"""Quant types in plain words: what a type name means, and what a level costs and saves against F16.

Everything here is worded from the one catalogue (quants.py): bits per weight from the block sizes (or the
published whole-file figure), the quality loss from llama.cpp's published scoreboard on Llama-3-8B. "% worse"
is that scoreboard's rise in perplexity as a share of FP16's perplexity there (6.233): Q4_K_M's +0.175 is
about 3 % worse. It is one published measure on one model, and the words say so.
"""

from __future__ import annotations

from dataclasses import dataclass

from app.core.quants import BY_NAME, QuantType
from app.core.units import format_bytes

#: FP16's perplexity in the scoreboard the quality figures come from (llama.cpp tools/perplexity/README.md,
#: "LLaMA 3 8b Scoreboard", wikitext): the base that "% worse" is a share of.
FP16_PERPLEXITY = 6.233

KQUANT = ("A K-quant: weights are stored in blocks of 256 with a small scale for each group inside a block, "
          "so the few bits per weight are spent where they matter.")
IQUANT = ("An I-quant (IQ): weights are matched to a small codebook of patterns, which keeps more quality at "
          "very low bit counts. Best made with an importance matrix.")
LEGACY = "An older, simpler format: blocks of 32 weights with one scale each (a second number for _1 types)."
FLOAT = "Not quantized: every weight keeps its full number format."
IMATRIX = ("An importance matrix records which weights matter most, measured by running the model over sample "
           "text; the quantizer then spends its bits on those. QuantDesk can make one from a calibration text.")
MIX = {"_S": "S = small: the plainest mix.", "_M": "M = medium: a few sensitive parts get more bits.",
       "_L": "L = large: more parts get more bits.", "_XS": "XS = extra small.", "_XXS": "XXS = smallest."}


def percent_worse(name: str) -> float | None:
    """The published quality loss as a share of FP16's perplexity, in percent (None where unpublished)."""
    q = BY_NAME.get(name)
    if q is None or q.quality is None:
        return None
    return q.quality.delta_perplexity / FP16_PERPLEXITY * 100


def _family(q: QuantType) -> str:
    if q.is_float:
        return FLOAT
    if q.name.startswith("IQ"):
        return IQUANT
    if "_K" in q.name:
        return KQUANT
    return LEGACY


def explain_quant_type(name: str) -> str:
    """A tooltip for a type name: bits per weight, what kind of type it is, and its published cost."""
    q = BY_NAME.get(name.upper())
    if q is None:
        return ""
    lines = [f"{q.name}: about {q.file_bits_per_weight:.1f} bits per weight (F16 uses 16)."
             + (f" {q.words[0].upper()}{q.words[1:]}." if q.words else "")]
    lines.append(_family(q))
    mix = next((words for suffix, words in MIX.items() if q.name.endswith(suffix)), None)
    if mix and not q.is_float:
        lines.append(mix)
    worse = percent_worse(q.name)
    if worse is not None and q.quality is not None and q.name != "F16":
        lines.append(f"Published cost: {_about(worse)} worse than F16 (perplexity "
                     f"+{q.quality.delta_perplexity:g} on Llama-3-8B; small models lose more).")
    if q.needs_imatrix:
        lines.append("Needs an importance matrix. " + IMATRIX)
    elif q.imatrix_recommended:
        lines.append("Much better with an importance matrix. " + IMATRIX)
    return "\n".join(lines)


def _about(percent: float) -> str:
    """"about 3 %", "about 0.5 %", "less than 0.1 %"."""
    if percent < 0.1:
        return "less than 0.1 %"
    return f"about {percent:.1f} %" if percent < 1 else f"about {percent:.0f} %"


@dataclass(frozen=True)
class LadderStep:
    """One level of a model's ladder against its F16 size."""

    type: str
    file_bytes: int
    share_of_f16: float  # 0..1
    percent_smaller: float
    percent_worse: float | None
    measured: bool = False  # percent_worse measured here on this model (Compare page), not the published one

    def sentence(self, f16_bytes: int) -> str:
        """"14.2 GB → 4.1 GB at Q4_K_M, 71 % smaller, about 3 % worse on the published measure"."""
        text = (f"{format_bytes(f16_bytes)} → {format_bytes(self.file_bytes)} at {self.type}, "
                f"{self.percent_smaller:.0f} % smaller")
        if self.type == "F16":
            return f"{format_bytes(f16_bytes)} at F16: the full-size model"
        if self.percent_worse is not None:
            where = "measured here" if self.measured else "on the published measure"
            text += f", {_about(self.percent_worse)} worse {where}"
        return text


def ladder(sizes: dict[str, int], measured: dict[str, float] | None = None) -> list[LadderStep]:
    """Each level of `sizes` (type → file bytes, F16 included) against F16, largest first. `measured`: type →
    percent worse as measured here on this model; those levels use it instead of the published figure."""
    f16 = sizes["F16"]
    measured = measured or {}
    steps = [LadderStep(t, b, b / f16, (1 - b / f16) * 100, measured.get(t, percent_worse(t)), t in measured)
             for t, b in sizes.items()]
    return sorted(steps, key=lambda s: -s.file_bytes)
