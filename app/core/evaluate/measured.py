"""A model's measured ladder: its quant levels' measured loss, as the quality figures the advice shows.

Files of one model at different levels share its shape and name (quantizing copies the metadata), so they
are grouped by `model_key`. Of the measurements of a model, the most recent set (one reference, one text,
one context) is used: figures from different texts or references are not comparable with each other.
"""

from __future__ import annotations

import logging
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from app.core.evaluate.cache import EvaluationCache, ResultEntry
from app.core.models.facts import ModelFacts
from app.core.quants import QualityLoss

log = logging.getLogger(__name__)


def model_key(facts: ModelFacts) -> str:
    """What the files of one model at different quant levels have in common."""
    return "|".join(str(v) for v in (facts.architecture, facts.name.strip().lower(), facts.n_layers, facts.n_embd,
                                     facts.n_ff, facts.vocab_size))


def measured_source(entry: ResultEntry) -> str:
    reference = entry.reference_type or Path(entry.reference_path).name
    return (f"measured here on {entry.model_name} against {reference} "
            f"({entry.text_title}, context {entry.n_ctx})")


@dataclass(frozen=True)
class MeasuredLevel:
    type: str  # the file's quant type ("Q4_K_M"), or its file name when the header names none
    path: str
    file_bytes: int
    result: ResultEntry

    @property
    def quality(self) -> QualityLoss:
        r = self.result
        return QualityLoss(r.ppl - r.ppl_reference, r.kld_mean, r.same_top, measured_source(r))


@dataclass(frozen=True)
class MeasuredLadder:
    model_key: str
    model_name: str
    reference_path: str
    reference_type: str | None
    text_title: str
    n_ctx: int
    levels: tuple[MeasuredLevel, ...]  # largest file first

    def percent_worse_by_type(self) -> dict[str, float]:
        """Each measured level's rise in perplexity as a share of the reference's, in percent (the size bars'
        "% worse", as the published figures are a share of F16's perplexity)."""
        out = {level.type: 100 * (level.result.ppl - level.result.ppl_reference) / level.result.ppl_reference
               for level in self.levels if level.result.ppl_reference > 0}
        if self.reference_type and out:
            out.setdefault(self.reference_type, 0.0)
        return out

    def quality_by_type(self) -> dict[str, QualityLoss]:
        """Each measured level's loss; the reference's own level counts as measured with no loss."""
        out = {level.type: level.quality for level in self.levels}
        if self.reference_type and self.reference_type not in out and self.levels:
            r = self.levels[0].result
            out[self.reference_type] = QualityLoss(0.0, 0.0, 1.0, measured_source(r))
        return out


def ladder_from_results(results: list[ResultEntry]) -> MeasuredLadder | None:
    """The newest comparable set (same reference, text and context) of a model's results."""
    if not results:
        return None
    newest = max(results, key=lambda r: r.measured_at)
    group = [r for r in results if (r.reference_path, r.text_digest, r.n_ctx)
             == (newest.reference_path, newest.text_digest, newest.n_ctx)]
    by_type: dict[str, ResultEntry] = {}
    for r in sorted(group, key=lambda r: r.measured_at):  # a later measurement of the same level wins
        by_type[r.file_type or Path(r.candidate_path).name] = r
    levels = tuple(sorted((MeasuredLevel(t, r.candidate_path, r.file_bytes, r) for t, r in by_type.items()),
                          key=lambda level: level.file_bytes, reverse=True))
    return MeasuredLadder(newest.model_key, newest.model_name, newest.reference_path, newest.reference_type,
                          newest.text_title, newest.n_ctx, levels)


def measured_ladder(facts: ModelFacts, cache: EvaluationCache | None = None) -> MeasuredLadder | None:
    """The model's measured ladder, or None when none of its levels has been measured here (or the
    measurements can't be read: the advice then falls back on the published figures)."""
    try:
        own = cache is None
        cache = cache or EvaluationCache()
        try:
            return ladder_from_results(cache.results_for_model(model_key(facts)))
        finally:
            if own:
                cache.close()
    except sqlite3.Error as error:
        log.warning("measurements not readable: %s", error)
        return None
