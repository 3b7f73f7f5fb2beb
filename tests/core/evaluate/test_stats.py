"""The arithmetic of llama-perplexity's --kl-divergence, held against a plain float64 computation of the same
definitions (tests/fixtures/logits.py), on logits shaped like a real model's (a peaked head, a long tail)."""

from __future__ import annotations

import io
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from app.core.evaluate.logprobs import ReferenceLogProbs, scored_per_chunk, write_header
from app.core.evaluate.stats import (
    ComparisonTotals,
    compare_rows,
    percentile,
    row_width,
    store_reference_rows,
)
from tests.fixtures.logits import kl_divergence, log_softmax


def fake_logits(rng: np.random.Generator, n: int, n_vocab: int) -> np.ndarray:
    logits = rng.standard_normal((n, n_vocab)).astype(np.float32) * 2
    logits[np.arange(n), rng.integers(0, n_vocab, n)] += 12  # a confident top token, as language models have
    return logits


def test_stored_rows_keep_log_probabilities_within_a_quantization_step() -> None:
    rng = np.random.default_rng(1)
    logits = fake_logits(rng, 40, 1001)  # an odd vocabulary: the row is padded to even
    targets = rng.integers(0, 1001, 40)
    rows, nll = store_reference_rows(logits, targets)
    assert rows.shape == (40, row_width(1001)) == (40, 1006)
    header = np.ascontiguousarray(rows[:, :4]).view(np.float32)
    scale, low = header[:, 0:1], header[:, 1:2]
    restored = scale * rows[:, 4:4 + 1001] + low
    exact = log_softmax(logits)
    kept = exact > exact.max(axis=1, keepdims=True) - 16
    assert np.max(np.abs(restored - exact)[kept]) <= float(scale.max())  # one step of 16/65535
    assert np.allclose(nll, -exact[np.arange(40), targets], atol=1e-4)


def test_kl_divergence_ppl_and_same_top_match_the_float64_definitions() -> None:
    rng = np.random.default_rng(2)
    n, n_vocab = 64, 5000
    reference = fake_logits(rng, n, n_vocab)
    candidate = reference + rng.standard_normal((n, n_vocab)).astype(np.float32) * 0.3  # a "quantized" model
    targets = rng.integers(0, n_vocab, n)
    rows, _ = store_reference_rows(reference, targets)
    result = compare_rows(candidate, rows, targets)
    exact_kld = kl_divergence(reference, candidate)
    assert np.allclose(result.kld, exact_kld, rtol=0.01, atol=2e-4)
    exact_nll = -log_softmax(candidate)[np.arange(n), targets]
    assert np.allclose(result.nll, exact_nll, atol=1e-4)
    same = reference.argmax(axis=1) == candidate.argmax(axis=1)
    assert (result.same_top == same).all() and 0 < same.mean() <= 1

    with ThreadPoolExecutor(2) as pool:  # rows split between threads: the same figures
        threaded = compare_rows(candidate, rows, targets, pool)
        threaded_rows, _ = store_reference_rows(reference, targets, pool)
    assert (threaded.kld == result.kld).all() and (threaded_rows == rows).all()

    totals = ComparisonTotals()
    totals.add(compare_rows(candidate[:30], rows[:30], targets[:30]))
    totals.add(compare_rows(candidate[30:], rows[30:], targets[30:]))
    numbers = totals.numbers()
    assert numbers.n_positions == n
    assert numbers.kld_mean == pytest.approx(exact_kld.mean(), rel=0.01)
    assert numbers.ppl == pytest.approx(np.exp(exact_nll.mean()), rel=1e-4)
    assert numbers.same_top == pytest.approx(same.mean())
    assert numbers.kld_median <= numbers.kld_p90 <= numbers.kld_p99 <= numbers.kld_max


def test_a_model_compared_with_itself_loses_nothing() -> None:
    rng = np.random.default_rng(3)
    logits = fake_logits(rng, 20, 3000)
    targets = rng.integers(0, 3000, 20)
    rows, nll = store_reference_rows(logits, targets)
    result = compare_rows(logits, rows, targets)
    assert result.same_top.all()
    assert np.abs(result.kld).max() < 1e-5  # only the 16-bit storage of the reference
    assert np.allclose(result.nll, nll, atol=1e-6)


def test_percentile_interpolates_like_llama_perplexity() -> None:
    values = np.array([0.0, 1.0, 2.0, 3.0, 4.0], dtype=np.float32)
    assert percentile(values, 0.5) == 2.0
    assert percentile(values, 0.9) == pytest.approx(3.6)
    assert percentile(values, 0.0) == 0.0 and percentile(values, 1.0) == 4.0


def test_reference_file_round_trips_in_llama_perplexitys_layout(tmp_path: Path) -> None:
    rng = np.random.default_rng(4)
    n_ctx, n_vocab, n_chunks = 16, 101, 3
    tokens = rng.integers(0, n_vocab, n_ctx * n_chunks + 5).astype(np.int32)  # a leftover is dropped
    n_scored = scored_per_chunk(n_ctx)
    assert n_scored == 7  # positions 8…14 predict tokens 9…15
    chunks = [store_reference_rows(fake_logits(rng, n_scored, n_vocab), tokens[:n_scored])[0] for _ in range(3)]
    buffer = io.BytesIO()
    write_header(buffer, n_ctx, n_vocab, tokens)
    for rows in chunks:
        buffer.write(rows.tobytes())
    path = tmp_path / "ref.logprobs"
    path.write_bytes(buffer.getvalue())
    assert buffer.getvalue()[:8] == b"_logits_"
    ref = ReferenceLogProbs.open(path)
    assert (ref.n_ctx, ref.n_vocab, ref.n_chunk) == (n_ctx, n_vocab, n_chunks)
    assert (ref.chunk_tokens(2) == tokens[2 * n_ctx:3 * n_ctx]).all()
    assert (ref.chunk_rows(1) == chunks[1]).all()
    path.write_bytes(buffer.getvalue()[:-10])  # cut short: refused in plain words
    with pytest.raises(Exception, match="incomplete"):
        ReferenceLogProbs.open(path)
