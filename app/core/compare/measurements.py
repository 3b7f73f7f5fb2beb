"""A ladder's measurements as the Compare page shows them: which file is the reference, what each level
lost against it (from the evaluation cache), and the level the recommendation picks with those figures."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from app.core.advice.recommend import recommend
from app.core.compare.ladder import EVAL_CTX, Ladder, LadderFile, ReferenceChoice, choose_reference, find_ladder
from app.core.evaluate.cache import EvaluationCache, ResultEntry
from app.core.evaluate.measured import MeasuredLevel, measured_source
from app.core.evaluate.text import default_text, text_digest
from app.core.machine.hardware import HardwareReport
from app.core.quants import QualityLoss


@dataclass(frozen=True)
class LadderSurvey:
    ladder: Ladder
    reference: ReferenceChoice
    text: Path
    n_ctx: int
    results: dict[str, ResultEntry]  # level → its measurement against the reference (cached)
    recommended: str | None  # with the measured figures, at the chat's usual context

    @property
    def reference_source(self) -> str | None:
        """The level the reference was expanded from, when that level is in the ladder (it matches it)."""
        ref = self.reference.file
        if ref is None or not ref.expanded_from or self.ladder.file(ref.expanded_from) is None:
            return None
        return ref.expanded_from

    def to_measure(self) -> list[LadderFile]:
        """The levels still to be measured (everything but the reference and what is cached)."""
        ref = self.reference.file
        return [f for f in self.ladder.files if ref is not None and f.path != ref.path and f.type not in self.results]

    def quality(self) -> dict[str, QualityLoss]:
        out = {t: MeasuredLevel(t, r.candidate_path, r.file_bytes, r).quality for t, r in self.results.items()}
        ref = self.reference.file
        if ref is not None and self.results:
            out.setdefault(ref.type, QualityLoss(0.0, 0.0, 1.0, measured_source(next(iter(self.results.values())))))
        return out


def survey_ladder(model: Path, candidates: list[Path], hardware: HardwareReport, text: Path | None = None,
                  n_ctx: int = EVAL_CTX, reference: Path | None = None) -> LadderSurvey:
    """Read the ladder's headers and the cache (no model is loaded: quick enough for a worker thread)."""
    ladder = find_ladder(model, candidates)
    choice = choose_reference(ladder, hardware, n_ctx)
    if reference is not None:
        chosen = next((f for f in ladder.files if f.path == Path(reference)), None)
        if chosen is not None:
            choice = ReferenceChoice(chosen, f"{chosen.type} is the reference (your choice).")
    text = text or default_text()
    results: dict[str, ResultEntry] = {}
    if choice.file is not None:
        digest = text_digest(text)
        cache = EvaluationCache()
        try:
            for f in ladder.files:
                found = cache.result(f.path, choice.file.path, digest, n_ctx)
                if found is not None:
                    results[f.type] = found
        finally:
            cache.close()
    survey = LadderSurvey(ladder, choice, text, n_ctx, results, None)
    facts = (choice.file or ladder.files[0]).facts if ladder.files else None
    if facts is None or not results:
        return survey
    rec = recommend(facts, hardware, None, survey.quality())
    return LadderSurvey(ladder, choice, text, n_ctx, results, rec.recommended)
