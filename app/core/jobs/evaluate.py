"""Measuring one quant level against a reference, as a job: the reference pass if it is not cached, then the
candidate's pass, each in its own child process (Cancel is immediate), and the result kept in the cache.

A ladder is one job per level; the first job measures the reference, the others reuse its stored
log-probabilities. Asking again for a (file, reference, text, context) already measured returns at once.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from app.core.errors import EvaluationError
from app.core.jobs.kind import JobContext, JobKind
from app.core.process.runner import run_in_child
from app.core.progress import check_cancelled

DEFAULT_EVAL_CTX = 512  # llama-perplexity's default, and the context of the published figures


@dataclass(frozen=True)
class EvaluateJobParams:
    reference: str
    candidate: str
    text: str | None = None  # None: QuantDesk's evaluation text
    n_ctx: int = DEFAULT_EVAL_CTX
    threads: int | None = None

    def text_path(self) -> Path:
        from app.core.evaluate.text import default_text

        return Path(self.text) if self.text else default_text()


@dataclass(frozen=True)
class EvaluateJobResult:
    candidate: str
    reference: str
    text: str  # the text's title for people
    n_ctx: int
    type: str | None  # the candidate's quant type, from its header
    file_bytes: int
    ppl: float
    ppl_reference: float  # the reference's, from its stored log-probabilities (what delta_ppl is against)
    kld_mean: float
    kld_median: float
    kld_p90: float
    kld_p99: float
    kld_max: float
    same_top_pct: float
    rms_delta_p_pct: float
    n_positions: int
    seconds: float
    cached: bool
    reference_ppl_exact: float | None = None  # the reference's own perplexity at full precision

    @property
    def delta_ppl(self) -> float:
        return self.ppl - self.ppl_reference

    @property
    def path(self) -> str:
        """The file measured (what the Jobs page names and opens the folder of)."""
        return self.candidate

    @property
    def folder(self) -> str:
        return str(Path(self.candidate).parent)


def _result(entry: object, cached: bool, reference_ppl: float | None) -> EvaluateJobResult:
    from app.core.evaluate.cache import ResultEntry

    assert isinstance(entry, ResultEntry)
    return EvaluateJobResult(
        candidate=entry.candidate_path, reference=entry.reference_path, text=entry.text_title, n_ctx=entry.n_ctx,
        type=entry.file_type, file_bytes=entry.file_bytes, ppl=entry.ppl, ppl_reference=entry.ppl_reference,
        kld_mean=entry.kld_mean, kld_median=entry.kld_median, kld_p90=entry.kld_p90, kld_p99=entry.kld_p99,
        kld_max=entry.kld_max, same_top_pct=100 * entry.same_top, rms_delta_p_pct=100 * entry.rms_delta_p,
        n_positions=entry.n_positions, seconds=entry.seconds, cached=cached, reference_ppl_exact=reference_ppl)


def run_evaluate_job(params: EvaluateJobParams, context: JobContext) -> EvaluateJobResult:
    """Stages: "reference" (only when not cached), then "measure"; progress is in chunks of the text."""
    from app.core.evaluate.cache import EvaluationCache, ReferenceEntry, ResultEntry, logprobs_path_for
    from app.core.evaluate.measure import CandidateRun, ReferenceRun, measure_candidate, measure_reference
    from app.core.evaluate.measured import model_key
    from app.core.evaluate.text import text_digest, text_title
    from app.core.models.facts import read_gguf_facts
    from app.core.quantize.quantizer import model_stem

    reference, candidate, text = Path(params.reference), Path(params.candidate), params.text_path()
    candidate_facts = read_gguf_facts(candidate)  # a clear error for a file that is not a model, before any work
    reference_facts = read_gguf_facts(reference)
    if candidate_facts.vocab_size != reference_facts.vocab_size:
        raise EvaluationError(
            f"{candidate.name} is not a version of {reference.name}: their vocabularies differ "
            f"({candidate_facts.vocab_size} and {reference_facts.vocab_size} tokens), so their predictions "
            "cannot be compared. Measure levels of one model against that model's F16 or Q8_0.",
            f"vocab_size {candidate_facts.vocab_size} vs {reference_facts.vocab_size}")
    digest = text_digest(text)
    cache = EvaluationCache()
    try:
        ref_entry = cache.reference(reference, digest, params.n_ctx)
        found = cache.result(candidate, reference, digest, params.n_ctx)
        if found is not None:
            return _result(found, True, ref_entry.ppl if ref_entry else None)
        if ref_entry is None:
            check_cancelled(context.cancel)
            context.on_stage("reference")
            out = logprobs_path_for(reference, digest, params.n_ctx)
            run: ReferenceRun = run_in_child(measure_reference, args=(reference, text, params.n_ctx, out),
                                             kwargs={"threads": params.threads}, on_progress=context.on_progress,
                                             cancel=context.cancel, outputs=[out])
            ref_entry = ReferenceEntry(str(reference), run.path, run.ppl, run.n_chunks, run.n_tokens)
            cache.add_reference(reference, digest, params.n_ctx, ref_entry)
        check_cancelled(context.cancel)
        context.on_stage("measure")
        started = time.perf_counter()
        measured: CandidateRun = run_in_child(measure_candidate, args=(candidate, Path(ref_entry.logprobs_path)),
                                              kwargs={"threads": params.threads}, on_progress=context.on_progress,
                                              cancel=context.cancel)
        n = measured.numbers
        entry = ResultEntry(
            candidate_path=str(candidate), reference_path=str(reference), reference_type=reference_facts.file_type,
            text_digest=digest, text_title=text_title(text), n_ctx=params.n_ctx,
            model_key=model_key(candidate_facts), model_name=model_stem(candidate),
            file_type=candidate_facts.file_type, file_bytes=candidate.stat().st_size, ppl=n.ppl,
            ppl_reference=n.ppl_reference, kld_mean=n.kld_mean, kld_median=n.kld_median, kld_p90=n.kld_p90,
            kld_p99=n.kld_p99, kld_max=n.kld_max, same_top=n.same_top, rms_delta_p=n.rms_delta_p,
            n_positions=n.n_positions, seconds=time.perf_counter() - started, measured_at=time.time())
        cache.add_result(candidate, reference, entry)
        return _result(entry, False, ref_entry.ppl)
    finally:
        cache.close()


def _output_folders(params: EvaluateJobParams) -> tuple[Path, ...]:
    from app.core.evaluate.cache import evaluations_dir

    return (evaluations_dir(),)


def ladder_evaluations(reference: Path, candidates: list[Path], text: Path | None = None,
                       n_ctx: int = DEFAULT_EVAL_CTX) -> list[EvaluateJobParams]:
    """One job per candidate, in the order given."""
    return [EvaluateJobParams(str(reference), str(c), str(text) if text else None, n_ctx) for c in candidates]


EVALUATE = JobKind("evaluate", EvaluateJobParams, EvaluateJobResult, run_evaluate_job,
                   output_folders=_output_folders)
