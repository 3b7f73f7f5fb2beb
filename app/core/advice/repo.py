"""The recommendation for a Hub repo being inspected: which quant level fits this computer, where it runs,
why, and for a repo of ready GGUF files, which of its files to download.

The model is sized from what inspect_repo already fetched: the tensor shapes in the safetensors headers, or
a GGUF header (its tensor table came with the ranged read). Only config.json (a few KB) is fetched for a
safetensors repo: the Hub's model info carries just a part of it. When the model cannot be sized (an
architecture QuantDesk does not know, no config.json, a gated repo, offline), the result says why in plain
words instead of raising: the inspection is worth showing without it.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import PurePosixPath
from typing import TYPE_CHECKING

from app.core.advice.measured_speed import measured_speed
from app.core.advice.recommend import QuantOption, Recommendation, file_option, recommend
from app.core.errors import GatedModelError, ModelInfoError, OfflineModeError, QuantDeskError
from app.core.machine.hardware import HardwareReport, read_hardware
from app.core.models.facts import ModelFacts, facts_from_gguf_fields, tensors_from_raw
from app.core.progress import CancelToken, ProgressCallback, check_cancelled, no_progress
from app.core.quants import BY_NAME

if TYPE_CHECKING:  # the Hub client (huggingface_hub, httpx2) loads when a repo is first inspected, not at start-up
    from app.core.hub.inspect import GgufFileInfo, RepoInspection

log = logging.getLogger(__name__)

# a part of a split GGUF ("-00001-of-00003"): alone it holds only some of the tensors
_SPLIT_PART = re.compile(r"-\d{5}-of-\d{5}\.gguf$", re.IGNORECASE)


@dataclass(frozen=True)
class FileFit:
    """One ready GGUF file of the repo, sized for this computer."""

    path: str
    size: int
    quant: str | None  # from the header where it was read, else from the name
    option: QuantOption | None  # its memory need and placement; None when it could not be sized

    @property
    def fits(self) -> bool:
        return self.option is not None and self.option.placement != "none"


@dataclass(frozen=True)
class RepoRecommendation:
    recommendation: Recommendation | None
    problem: str | None = None  # plain words: why there is no recommendation
    files: tuple[FileFit, ...] = ()  # GGUF repos: every single-file GGUF, sized
    best_file: str | None = None  # GGUF repos: the file to download (pre-ticked)

    @property
    def recommended(self) -> str | None:
        return self.recommendation.recommended if self.recommendation is not None else None

    @property
    def chosen(self) -> QuantOption | None:
        rec = self.recommendation
        return rec.option(rec.recommended) if rec is not None and rec.recommended else None

    @property
    def sentence(self) -> str:
        """The one-sentence why, or the plain reason there is none."""
        if self.recommendation is not None:
            return self.recommendation.sentence
        return self.problem or ""


class HardwareOnce:
    """This computer's hardware, read on first use (on a worker thread: it asks NVML and llama.cpp) and then
    kept, so a page that inspects one repo after another reads it once."""

    def __init__(self, read: Callable[[], HardwareReport] = read_hardware) -> None:
        self._read = read
        self._lock = threading.Lock()
        self._report: HardwareReport | None = None

    def get(self) -> HardwareReport:
        with self._lock:
            if self._report is None:
                self._report = self._read()
            return self._report


def _cannot(reason: str) -> RepoRecommendation:
    return RepoRecommendation(None, f"QuantDesk can't estimate what this model needs. {reason}")


def _gguf_facts(repo_id: str, g: GgufFileInfo) -> ModelFacts | None:
    if g.header is None or g.header.raw is None:
        return None
    source = f"{repo_id}/{g.path}"
    raw = g.header.raw
    return facts_from_gguf_fields(raw.fields, tensors_from_raw(raw.tensors, source), source, "hub-gguf", g.size)


def model_facts(inspection: RepoInspection) -> ModelFacts:
    """The model's shape from what the inspection read; a QuantDeskError in plain words when it can't be."""
    st = inspection.safetensors
    if st is not None and st.tensors:
        # the Hub client and the converter's planning (gguf-py): with the first inspection, not at start-up
        from app.core.convert.predict import facts_from_metadata
        from app.core.hub.inspect import fetch_config

        config = fetch_config(inspection.repo_id, inspection.commit)
        return facts_from_metadata(config, st.tensors, inspection.repo_id)
    # a whole single file: its header has every tensor (a split set's first part has only some)
    for g in inspection.gguf_files:
        if not _SPLIT_PART.search(g.path):
            facts = _gguf_facts(inspection.repo_id, g)
            if facts is not None:
                return facts
    if inspection.gated:
        raise GatedModelError("The model is gated: save a token with access to it, then look again.",
                              f"{inspection.repo_id}: no readable safetensors headers or GGUF header")
    raise ModelInfoError("It has no weights whose shape QuantDesk could read.",
                         f"{inspection.repo_id}: no safetensors shapes and no readable single-file GGUF header")


def repo_facts(repo_id: str, revision: str = "main") -> ModelFacts:
    """A Hub repo's model facts before download, from the same small reads as its inspection."""
    from app.core.hub.inspect import inspect_repo

    return model_facts(inspect_repo(repo_id, revision))


def _file_fits(inspection: RepoInspection, facts: ModelFacts, rec: Recommendation,
               hardware: HardwareReport) -> tuple[FileFit, ...]:
    fits = []
    for g in inspection.gguf_files:
        if _SPLIT_PART.search(g.path):
            continue  # sized as a set it would need its parts summed; a person picks those by hand
        quant = (g.quant_from_header or g.quant_from_name or "").upper() or None
        own = _gguf_facts(inspection.repo_id, g)
        if own is not None:
            option: QuantOption | None = file_option(own, hardware, rec.n_ctx)
        else:  # header not read: the catalogue's prediction for the type its name says
            option = next((o for o in rec.options if o.type == quant), None)
        if option is not None:  # the same file (name and size) may have run here after a download
            option = replace(option, measured=measured_speed(PurePosixPath(g.path).name, g.size))
        fits.append(FileFit(g.path, g.size, quant, option))
    return tuple(fits)


def best_file(inspection: RepoInspection, files: tuple[FileFit, ...], recommended: str | None) -> str | None:
    """The recommended level's file if the repo has it, else the largest file that fits memory and disk."""
    usable = [f for f in files if f.fits and f.size <= inspection.free_bytes]
    exact = [f for f in usable if recommended is not None and f.quant == recommended]
    if exact:
        return min(exact, key=lambda f: f.size).path
    return max(usable, key=lambda f: f.size).path if usable else None


def recommend_for_inspection(inspection: RepoInspection, hardware: HardwareReport,
                             n_ctx: int | None = None) -> RepoRecommendation:
    """The recommendation for an inspected repo on this computer, or the plain reason there is none."""
    try:
        facts = model_facts(inspection)
        rec = recommend(facts, hardware, n_ctx)
        files = _file_fits(inspection, facts, rec, hardware) if inspection.gguf_files else ()
        return RepoRecommendation(rec, None, files, best_file(inspection, files, rec.recommended))
    except OfflineModeError:
        return _cannot("QuantDesk is offline, so it can't read the model's details.")
    except QuantDeskError as error:
        log.info("no recommendation for %s: %s (%s)", inspection.repo_id, error.message, error.detail)
        return _cannot(error.message)
    except Exception:  # a bug in sizing must not hide the inspection itself
        log.exception("sizing %s failed", inspection.repo_id)
        return _cannot("Something went wrong while sizing it (the log has the details).")


@dataclass(frozen=True)
class RepoAdvice:
    """An inspected repo and what QuantDesk recommends for it here; the inspection's disk estimate is sized
    for the recommended level (the catalogue's bits per weight for it)."""

    inspection: RepoInspection
    recommendation: RepoRecommendation


def advise(inspection: RepoInspection, recommendation: RepoRecommendation) -> RepoAdvice:
    level = BY_NAME.get(recommendation.recommended or "")
    if level is not None:
        inspection = inspection.with_quant_bits(level.file_bits_per_weight)
    return RepoAdvice(inspection, recommendation)


def inspect_and_recommend(repo_id: str, hardware: HardwareOnce, revision: str = "main", *,
                          on_progress: ProgressCallback = no_progress,
                          cancel: CancelToken | None = None) -> RepoAdvice:
    """inspect_repo and the recommendation for this computer (run it off the GUI thread)."""
    from app.core.hub.inspect import inspect_repo

    inspection = inspect_repo(repo_id, revision, on_progress=on_progress, cancel=cancel)
    check_cancelled(cancel)
    return advise(inspection, recommend_for_inspection(inspection, hardware.get()))
