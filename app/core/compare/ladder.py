"""A model's ladder on disk: its files at each quant level, and which one to measure the others against.

Files belong to one ladder when their headers describe the same model (name and shape; quantizing copies
the metadata), wherever they came from: QuantDesk's quantize jobs, a Hub download, a file added by hand.
The reference is the unquantized file (F16, BF16 or F32) when it fits in memory, else Q8_0, which loses
next to nothing (llama.cpp measured +0.003 perplexity on Llama-3-8B).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from app.core.advice.estimate import estimate_file, repacked_types
from app.core.advice.recommend import budget_for
from app.core.errors import QuantDeskError
from app.core.machine.hardware import HardwareReport
from app.core.models.facts import ModelFacts, read_gguf_facts
from app.core.models.gguf_header import read_gguf_header
from app.core.quantize.expand import EXPANDED_FROM_KEY
from app.core.quantize.quantizer import model_stem
from app.core.quants import BY_NAME, QUANT_TYPES
from app.core.units import format_bytes

FLOAT_TYPES = ("F16", "BF16", "F32")
EVAL_CTX = 512
_ORDER = {t.name: i for i, t in enumerate(QUANT_TYPES)}


def same_model(a: ModelFacts, b: ModelFacts) -> bool:
    return (a.architecture, a.name.strip().lower(), a.n_layers, a.n_embd, a.n_ff, a.vocab_size) == \
        (b.architecture, b.name.strip().lower(), b.n_layers, b.n_embd, b.n_ff, b.vocab_size)


@dataclass(frozen=True)
class LadderFile:
    type: str
    path: Path
    size_bytes: int
    facts: ModelFacts
    expanded_from: str | None = None  # an F16 QuantDesk expanded from a quant: that quant's type


def _expanded_from(path: Path) -> str | None:
    value = read_gguf_header(path).fields.get(EXPANDED_FROM_KEY)
    return str(value) if value else None


@dataclass(frozen=True)
class Ladder:
    model_name: str
    files: tuple[LadderFile, ...]  # one per level, largest (best quality) first

    def file(self, type_name: str) -> LadderFile | None:
        return next((f for f in self.files if f.type == type_name), None)

    @property
    def types(self) -> tuple[str, ...]:
        return tuple(f.type for f in self.files)


def find_ladder(model: Path, candidates: Iterable[Path]) -> Ladder:
    """`model` and every file among `candidates` that is the same model at a known level (one per level;
    where two files share a level, the one listed first wins). Unreadable candidates are skipped."""
    own = read_gguf_facts(model)
    found: dict[str, LadderFile] = {}
    for path in [Path(model), *candidates]:
        try:
            facts = own if Path(path) == Path(model) else read_gguf_facts(path)
        except (QuantDeskError, OSError):
            continue
        if facts.file_type in BY_NAME and same_model(own, facts) and facts.file_type not in found:
            source = _expanded_from(Path(path)) if facts.file_type in FLOAT_TYPES else None
            found[facts.file_type] = LadderFile(facts.file_type, Path(path), Path(path).stat().st_size, facts, source)
    files = tuple(sorted(found.values(), key=lambda f: _ORDER[f.type]))
    return Ladder(model_stem(Path(model)), files)


@dataclass(frozen=True)
class ReferenceChoice:
    file: LadderFile | None
    reason: str  # one sentence for the page


def choose_reference(ladder: Ladder, hardware: HardwareReport, n_ctx: int = EVAL_CTX) -> ReferenceChoice:
    """The unquantized file if it fits in memory for the evaluation, else Q8_0."""
    budget = budget_for(hardware)
    repack = repacked_types(hardware.cpu.features)
    floats = [f for f in ladder.files if f.type in FLOAT_TYPES]
    for f in floats:
        need = estimate_file(f.facts, n_ctx, 0, repack=repack).total
        if need <= budget.ram or (budget.gpu is not None and estimate_file(f.facts, n_ctx, -1).gpu.total
                                  <= budget.gpu):
            if f.expanded_from:
                return ReferenceChoice(f, f"{f.type} is the reference. It was expanded from the {f.expanded_from} "
                                          f"file (the original weights are not on this computer), so "
                                          f"{f.expanded_from} itself loses next to nothing against it.")
            return ReferenceChoice(f, f"{f.type} is the reference: the original weights.")
    q8 = ladder.file("Q8_0")
    if q8 is not None:
        if floats:
            need = estimate_file(floats[0].facts, n_ctx, 0, repack=repack).total
            why = (f"{floats[0].type} would need {format_bytes(need)}, more than this computer has to give, so "
                   "Q8_0 is the reference (it loses next to nothing).")
        else:
            why = "There is no unquantized file of this model, so Q8_0 is the reference (it loses next to nothing)."
        return ReferenceChoice(q8, why)
    return ReferenceChoice(None, "Measuring needs the model's F16 or Q8_0 file as the reference: make the ladder "
                                 "first.")
