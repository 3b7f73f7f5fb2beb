"""Run a text through a model in chunks and measure it: the reference pass and a candidate's pass.

The definitions are llama-perplexity's (shared facts/evaluation.md): the text is tokenized once (with BOS
only if the model asks for one); it is cut into non-overlapping chunks of n_ctx tokens (the rest dropped);
the cache is cleared before each chunk, whose first token is replaced by BOS when the model uses one; only
the second half of each chunk is scored. Flash attention is on, as llama-perplexity has it on the CPU.

The reference pass stores its log-probabilities (logprobs.py); a candidate pass reads the tokens from that
file, so both see exactly the same tokens, and compares row by row (stats.py). Between decodes, the rows
are worked on by as many threads as llama.cpp uses (as llama-perplexity does), so the arithmetic costs
little next to the evaluation itself (tests/bench/bench_evaluate.py). Both run in a child process
(app/core/jobs/evaluate.py), report (chunks done, chunks) and write through a partial file.
"""

from __future__ import annotations

import ctypes
import os
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from app.core.disk import check_free_space, partial_path
from app.core.errors import EvaluationError
from app.core.evaluate.logprobs import ReferenceLogProbs, scored_per_chunk, write_header
from app.core.evaluate.stats import (
    ComparisonTotals,
    QualityNumbers,
    compare_rows,
    row_width,
    store_reference_rows,
)
from app.core.evaluate.text import read_text
from app.core.llama_log import LlamaLogCapture
from app.core.llama_tokens import TokenizeFailed, tokenize
from app.core.progress import ProgressCallback, no_progress

FLASH_ATTN_ENABLED = 1  # llama_flash_attn_type: -1 auto, 0 off, 1 on


def default_threads() -> int:
    import psutil

    return max(1, psutil.cpu_count(logical=False) or os.cpu_count() or 1)


@dataclass(frozen=True)
class ReferenceRun:
    path: str  # the log-probabilities file
    n_ctx: int
    n_chunks: int
    n_tokens: int  # of the whole text
    ppl: float  # the reference's own perplexity (full precision)
    seconds: float
    tokens_per_second: float  # evaluated tokens over the evaluation time (loading excluded)


@dataclass(frozen=True)
class CandidateRun:
    numbers: QualityNumbers
    n_chunks: int
    seconds: float
    tokens_per_second: float


class ChunkEvaluator:
    """A model and a context sized for one chunk; `scored_logits(chunk)` evaluates it."""

    def __init__(self, model_path: Path, n_ctx: int, threads: int | None = None, n_gpu_layers: int = 0) -> None:
        import llama_cpp as L

        self._L = L
        self.log = LlamaLogCapture(echo=False)
        self.log.install()
        L.llama_backend_init()
        self.model_path = Path(model_path)
        self.model = self.ctx = self.batch = None
        params = L.llama_model_default_params()
        params.n_gpu_layers = n_gpu_layers
        self.model = L.llama_model_load_from_file(os.fsencode(self.model_path), params)
        if not self.model:
            raise EvaluationError(f"{self.model_path.name} could not be loaded to measure it.",
                                  "\n".join(self.log.problems_since(0)) or str(self.model_path))
        self.vocab = L.llama_model_get_vocab(self.model)
        self.n_vocab = int(L.llama_vocab_n_tokens(self.vocab))
        self.add_bos = bool(L.llama_vocab_get_add_bos(self.vocab))
        self.bos = int(L.llama_vocab_bos(self.vocab))
        self.n_ctx = n_ctx
        self.first = n_ctx // 2
        ctx_params = L.llama_context_default_params()
        ctx_params.n_ctx = n_ctx
        ctx_params.n_batch = n_ctx
        ctx_params.n_ubatch = min(n_ctx, 512)
        ctx_params.n_seq_max = 1
        ctx_params.flash_attn_type = FLASH_ATTN_ENABLED
        ctx_params.n_threads = ctx_params.n_threads_batch = threads or default_threads()
        self.ctx = L.llama_init_from_model(self.model, ctx_params)
        if not self.ctx:
            self.close()
            raise EvaluationError(f"There was not enough memory to measure {self.model_path.name} with a "
                                  f"context of {n_ctx} tokens.", "\n".join(self.log.problems_since(0)))
        self.batch = L.llama_batch_init(n_ctx, 0, 1)
        # Everything but the tokens is the same for every chunk: positions, one sequence, and outputs for
        # the second half only (the first half is context, and its output rows would cost time).
        self.batch.n_tokens = n_ctx
        np.ctypeslib.as_array(self.batch.pos, shape=(n_ctx,))[:] = np.arange(n_ctx)
        np.ctypeslib.as_array(self.batch.n_seq_id, shape=(n_ctx,))[:] = 1
        for i in range(n_ctx):
            self.batch.seq_id[i][0] = 0
        flags = np.ctypeslib.as_array(self.batch.logits, shape=(n_ctx,))
        flags[:] = 0
        flags[self.first:] = 1
        self._tokens = np.ctypeslib.as_array(self.batch.token, shape=(n_ctx,))

    def close(self) -> None:
        L = self._L
        if self.batch is not None:
            L.llama_batch_free(self.batch)
            self.batch = None
        if self.ctx:
            L.llama_free(self.ctx)
            self.ctx = None
        if self.model:
            L.llama_model_free(self.model)
            self.model = None

    def __enter__(self) -> ChunkEvaluator:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def tokenize(self, text: str) -> np.ndarray:
        try:  # the text as written: a control token's spelling in it stays text, as in llama-perplexity
            return np.array(tokenize(self.vocab, text, add_special=True, parse_special=False), dtype=np.int32)
        except TokenizeFailed as error:
            raise EvaluationError("The text could not be split into tokens.", str(error)) from None

    def scored_logits(self, chunk: np.ndarray) -> np.ndarray:
        """Evaluate one chunk from an empty cache; the (n_ctx − first, n_vocab) logits of its second half.

        The array is llama.cpp's own buffer: valid until the next chunk."""
        L = self._L
        self._tokens[:] = chunk
        if self.add_bos:
            self._tokens[0] = self.bos
        L.llama_memory_clear(L.llama_get_memory(self.ctx), True)
        status = L.llama_decode(self.ctx, self.batch)
        if status != 0:
            raise EvaluationError("llama.cpp could not evaluate the text.",
                                  f"llama_decode returned {status}\n" + "\n".join(self.log.problems_since(0)))
        pointer = ctypes.cast(L.llama_get_logits(self.ctx), ctypes.POINTER(ctypes.c_float))
        return np.ctypeslib.as_array(pointer, shape=(self.n_ctx - self.first, self.n_vocab))


def _check_length(n_tokens: int, n_ctx: int, source: str) -> None:
    if n_tokens < 2 * n_ctx:
        raise EvaluationError(
            f"The text is too short for a context of {n_ctx} tokens: it has {n_tokens} tokens and at least "
            f"{2 * n_ctx} are needed. Use a longer text or a shorter context.",
            f"{source}: {n_tokens} tokens, n_ctx {n_ctx}")


def measure_reference(model_path: Path, text_path: Path, n_ctx: int, out_path: Path, threads: int | None = None,
                      on_progress: ProgressCallback = no_progress) -> ReferenceRun:
    """Run the text through the reference model and store its log-probabilities at `out_path`."""
    text = read_text(Path(text_path))
    started = time.perf_counter()
    threads = threads or default_threads()
    with ChunkEvaluator(model_path, n_ctx, threads) as ev, ThreadPoolExecutor(threads) as pool:
        tokens = ev.tokenize(text)
        _check_length(len(tokens), n_ctx, str(text_path))
        n_chunks = len(tokens) // n_ctx
        n_scored = scored_per_chunk(n_ctx)
        out_path = Path(out_path)
        out_path.parent.mkdir(parents=True, exist_ok=True)
        size = 20 + 4 * n_chunks * n_ctx + 2 * row_width(ev.n_vocab) * n_chunks * n_scored
        check_free_space(out_path.parent, size, "the reference model's measurements")
        part = partial_path(out_path)
        total_nll = 0.0
        on_progress(0, n_chunks)
        eval_started = time.perf_counter()
        with part.open("wb") as out:
            write_header(out, n_ctx, ev.n_vocab, tokens)
            for i in range(n_chunks):
                chunk = tokens[i * n_ctx:(i + 1) * n_ctx]
                logits = ev.scored_logits(chunk)[:n_scored]
                rows, nll = store_reference_rows(logits, chunk[ev.first + 1:], pool)
                out.write(rows.tobytes())
                total_nll += float(nll.sum())
                on_progress(i + 1, n_chunks)
        seconds = time.perf_counter() - eval_started
        os.replace(part, out_path)
    return ReferenceRun(str(out_path), n_ctx, n_chunks, len(tokens), float(np.exp(total_nll / (n_chunks * n_scored))),
                        time.perf_counter() - started, n_chunks * n_ctx / seconds if seconds > 0 else 0.0)


def measure_candidate(model_path: Path, reference_path: Path, threads: int | None = None,
                      on_progress: ProgressCallback = no_progress) -> CandidateRun:
    """Run the reference's tokens through the candidate and compare it with the stored log-probabilities."""
    reference = ReferenceLogProbs.open(Path(reference_path))
    started = time.perf_counter()
    threads = threads or default_threads()
    with ChunkEvaluator(model_path, reference.n_ctx, threads) as ev, ThreadPoolExecutor(threads) as pool:
        if ev.n_vocab != reference.n_vocab:
            raise EvaluationError(
                f"{Path(model_path).name} is not a version of the reference model: their vocabularies differ "
                f"({ev.n_vocab} and {reference.n_vocab} tokens), so their predictions cannot be compared.",
                f"n_vocab {ev.n_vocab} vs reference {reference.n_vocab} ({reference.path})")
        totals = ComparisonTotals()
        n_scored = scored_per_chunk(reference.n_ctx)
        on_progress(0, reference.n_chunk)
        eval_started = time.perf_counter()
        for i in range(reference.n_chunk):
            chunk = reference.chunk_tokens(i)
            logits = ev.scored_logits(chunk)[:n_scored]
            totals.add(compare_rows(logits, reference.chunk_rows(i), chunk[ev.first + 1:], pool))
            on_progress(i + 1, reference.n_chunk)
        seconds = time.perf_counter() - eval_started
    evaluated = reference.n_chunk * reference.n_ctx
    return CandidateRun(totals.numbers(), reference.n_chunk, time.perf_counter() - started,
                        evaluated / seconds if seconds > 0 else 0.0)


def describe(run: Any) -> str:
    """One line for logs."""
    if isinstance(run, CandidateRun):
        n = run.numbers
        return (f"PPL {n.ppl:.4f} (reference {n.ppl_reference:.4f}), KLD {n.kld_mean:.6f} (p99 {n.kld_p99:.5f}), "
                f"same top {100 * n.same_top:.2f} %, {run.tokens_per_second:.0f} tokens/s")
    return f"PPL {run.ppl:.4f} over {run.n_chunks} chunks, {run.tokens_per_second:.0f} tokens/s"
