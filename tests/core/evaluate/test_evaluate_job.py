"""Measuring the starter's ladder for real (llama.cpp through the evaluation job, in child processes):
the KL divergence orders the levels, results are cached per (file, reference, text, context), Cancel leaves
nothing behind, and the definitions agree with an independent float64 computation through llama-cpp-python.
(Agreement with llama.cpp's own llama-perplexity is checked by tests/bench/bench_evaluate_match.py.)"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import llama_cpp
import numpy as np
import pytest

from app.core.errors import Cancelled
from app.core.evaluate.cache import EvaluationCache, evaluations_dir
from app.core.evaluate.logprobs import ReferenceLogProbs
from app.core.evaluate.text import text_digest
from app.core.jobs.evaluate import EVALUATE, EvaluateJobParams, EvaluateJobResult
from app.core.jobs.kind import JobContext
from app.core.jobs.queue import run_now
from tests.fixtures.logits import kl_divergence, log_softmax

pytestmark = pytest.mark.slow
CTX = 64
THREADS = 1  # two llama.cpp threads wait for each other at every step and crawl on a shared machine
LADDER = ("Q8_0", "Q6_K", "Q4_K_M", "Q3_K_M", "Q2_K")


def measure(ladder: dict[str, Path], level: str, text: Path, stages: list[str] | None = None,
            n_ctx: int = CTX) -> EvaluateJobResult:
    params = EvaluateJobParams(str(ladder["F16"]), str(ladder[level]), str(text), n_ctx, threads=THREADS)
    context = JobContext(on_stage=(stages.append if stages is not None else lambda s: None))
    result: EvaluateJobResult = run_now(EVALUATE, params, context)
    return result


@dataclass
class Measured:
    results: dict[str, EvaluateJobResult]
    stages: list[str]
    data: Path


@pytest.fixture(scope="module")
def measured(starter_ladder: dict[str, Path], short_text: Path,
             tmp_path_factory: pytest.TempPathFactory) -> Iterator[Measured]:
    """The whole ladder measured once against F16 (each level a job: the reference pass, then its own)."""
    data = tmp_path_factory.mktemp("eval-data")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("QUANTDESK_DATA_DIR", str(data))
        stages: list[str] = []
        results = {level: measure(starter_ladder, level, short_text, stages) for level in LADDER}
        yield Measured(results, stages, data)


def test_kl_divergence_orders_the_starter_ladder(measured: Measured) -> None:
    results = measured.results
    assert measured.stages == ["reference", "measure"] + ["measure"] * (len(LADDER) - 1)  # the reference once
    klds = [results[level].kld_mean for level in LADDER]
    assert klds == sorted(klds) and len(set(klds)) == len(klds), dict(zip(LADDER, klds, strict=True))
    assert results["Q8_0"].kld_mean < 0.02 < results["Q2_K"].kld_mean
    assert results["Q8_0"].same_top_pct > results["Q2_K"].same_top_pct
    for r in results.values():
        assert r.kld_median <= r.kld_p90 <= r.kld_p99 <= r.kld_max
        assert r.n_positions == (r.n_positions // (CTX - 1 - CTX // 2)) * (CTX - 1 - CTX // 2) > 500
        assert r.ppl_reference == results["Q8_0"].ppl_reference and not r.cached
        assert r.type in LADDER and r.file_bytes == Path(r.candidate).stat().st_size
    assert results["Q2_K"].ppl > results["Q8_0"].ppl > 0.9 * results["Q8_0"].ppl_reference


def test_results_are_cached_per_file_reference_text_and_context(
        measured: Measured, starter_ladder: dict[str, Path], short_text: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QUANTDESK_DATA_DIR", str(measured.data))
    stages: list[str] = []
    again = measure(starter_ladder, "Q4_K_M", short_text, stages)
    assert again.cached and stages == [] and again.kld_mean == measured.results["Q4_K_M"].kld_mean
    assert again.reference_ppl_exact is not None
    cache = EvaluationCache()
    try:
        digest = text_digest(short_text)
        f16, q4 = starter_ladder["F16"], starter_ladder["Q4_K_M"]
        assert cache.result(q4, f16, digest, CTX) is not None
        assert cache.result(q4, f16, digest, 2 * CTX) is None  # a context is its own measurement
        assert cache.result(q4, f16, "0" * 64, CTX) is None  # so is a text
        assert cache.result(q4, starter_ladder["Q8_0"], digest, CTX) is None  # and a reference
    finally:
        cache.close()
    [reference_file] = evaluations_dir().glob("*.logprobs")
    assert ReferenceLogProbs.open(reference_file).n_ctx == CTX


def test_cancel_stops_the_measurement_and_leaves_no_partial_file(
        starter_ladder: dict[str, Path], short_text: Path, data_dir: Path) -> None:
    cancel = threading.Event()

    def on_progress(done: int, total: int) -> None:
        if done >= 2:
            cancel.set()

    params = EvaluateJobParams(str(starter_ladder["F16"]), str(starter_ladder["Q2_K"]), str(short_text), CTX, THREADS)
    with pytest.raises(Cancelled):
        run_now(EVALUATE, params, JobContext(on_progress=on_progress, cancel=cancel))
    assert list(evaluations_dir().iterdir()) == []  # neither the reference file nor its partial


def test_definitions_agree_with_an_independent_float64_computation(
        measured: Measured, starter_ladder: dict[str, Path], short_text: Path) -> None:
    """Chunks of n_ctx from a cleared cache, the second half scored, KL over the full vocabulary in float64:
    computed here with llama-cpp-python's high-level API (flash attention on, as llama-perplexity has it)."""
    q2 = measured.results["Q2_K"]
    first = CTX // 2

    def scored_logits(path: Path, tokens: list[int]) -> np.ndarray:
        llm = llama_cpp.Llama(str(path), n_ctx=CTX, n_batch=CTX, n_threads=THREADS, logits_all=True, flash_attn=True,
                              verbose=False)
        try:
            rows = []
            for start in range(0, len(tokens) - CTX + 1, CTX):
                llm.reset()
                llm.eval(tokens[start:start + CTX])
                rows.append(np.array(llm.scores[first:CTX - 1], dtype=np.float64))
            return np.concatenate(rows)
        finally:
            llm.close()

    vocab_only = llama_cpp.Llama(str(starter_ladder["F16"]), vocab_only=True, verbose=False)
    tokens = vocab_only.tokenize(short_text.read_bytes(), add_bos=False)  # SmolLM2 asks for no BOS
    vocab_only.close()
    tokens = tokens[: len(tokens) // CTX * CTX]
    reference = scored_logits(starter_ladder["F16"], tokens)
    candidate = scored_logits(starter_ladder["Q2_K"], tokens)
    targets = np.array([tokens[s + first + 1:s + CTX] for s in range(0, len(tokens), CTX)]).reshape(-1)
    assert len(targets) == q2.n_positions
    kld = kl_divergence(reference, candidate)
    nll = -log_softmax(candidate)[np.arange(len(targets)), targets]
    same = (reference.argmax(axis=1) == candidate.argmax(axis=1)).mean()
    assert q2.kld_mean == pytest.approx(kld.mean(), rel=0.01)
    assert q2.ppl == pytest.approx(np.exp(nll.mean()), rel=0.003)
    assert q2.same_top_pct == pytest.approx(100 * same, abs=0.5)
    assert q2.kld_p99 == pytest.approx(np.percentile(kld, 99), rel=0.05)
