"""The arithmetic of llama.cpp's perplexity tool with --kl-divergence, row by row, in numpy.

Each scored position is one row of logits (n_vocab floats). The reference's rows are stored the way
llama-perplexity stores them (--kl-divergence-base): per row, two float32 (the scale and the log-probability
of the lowest kept logit) followed by n_vocab uint16, each logit's distance above the lowest kept one
(at most 16 below the top) in steps of `scale`; the rest are 0. A candidate's row is then compared with
that stored row exactly as llama-perplexity does (tools/perplexity/perplexity.cpp, read for its behaviour):

- log-softmax in float32 with the sum of exponentials in float64, the top token the first largest logit;
- negative log-likelihood of the next token for the candidate (from its logits) and the reference (from the
  stored row), perplexity = exp(mean NLL);
- KL divergence = Σ p_ref · (log p_ref − log p_cand) over the tokens whose stored log-probability is above
  −16, summed in float64; "same top" when both put the same token first.

Working in float32 with the same rounding steps is what makes the figures agree with llama-perplexity's to
the fourth digit rather than to the second (shared facts/evaluation.md).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass, field

import numpy as np

#: Rows handled at once: small enough that the temporaries stay in the CPU's cache.
BLOCK_ROWS = 16
_F32 = np.float32
_CLIP = _F32(16.0)
_LEVELS = _F32(65535.0)


def row_width(n_vocab: int) -> int:
    """uint16 values per stored row: 4 for the two float32 header values, n_vocab rounded up to even."""
    return 2 * ((n_vocab + 1) // 2) + 4


def _run_parts(n: int, part: Callable[[int, int], None], pool: Executor | None) -> None:
    """part(lo, hi) over rows 0..n, split between the pool's threads (numpy releases the GIL in its loops,
    so the rows are worked on in parallel, as llama-perplexity spreads them over its threads)."""
    workers = getattr(pool, "_max_workers", 1) if pool is not None else 1
    if pool is None or workers < 2 or n < 2 * BLOCK_ROWS:
        part(0, n)
        return
    step = -(-n // workers)
    list(pool.map(lambda lo: part(lo, min(lo + step, n)), range(0, n, step)))


def store_reference_rows(logits: np.ndarray, targets: np.ndarray,
                         pool: Executor | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The stored form of reference rows and each row's negative log-likelihood of its target token.

    `logits`: (n, n_vocab) float32; `targets`: the n next tokens. Returns ((n, row_width) uint16, (n,) float64).
    """
    n, n_vocab = logits.shape
    out = np.zeros((n, row_width(n_vocab)), dtype=np.uint16)
    nll = np.empty(n, dtype=np.float64)

    def part(start: int, end: int) -> None:
        work = np.empty((min(BLOCK_ROWS, end - start), n_vocab), dtype=_F32)  # no allocation per block
        for lo in range(start, end, BLOCK_ROWS):
            hi = min(lo + BLOCK_ROWS, end)
            block, w = logits[lo:hi], work[:hi - lo]
            top = block.max(axis=1)
            low = np.maximum(block.min(axis=1), top - _CLIP)
            np.subtract(block, top[:, None], out=w)
            np.exp(w, out=w)
            lse = np.log(w.sum(axis=1, dtype=np.float64)).astype(_F32)
            scale = ((top - low) / _LEVELS).astype(_F32)
            header = out[lo:hi, :4].view(_F32)  # (rows, 2): scale, log-probability of the lowest kept logit
            header[:, 0] = scale
            header[:, 1] = low - top - lse
            inv = np.divide(_F32(1.0), scale, out=np.zeros_like(scale), where=scale > 0)
            # steps above the lowest kept logit, rounded to nearest (ties to even, as llama.cpp's
            # nearest_int); logits at or below it are 0
            np.subtract(block, low[:, None], out=w)
            w *= inv[:, None]
            np.maximum(w, 0, out=w)
            np.rint(w, out=w)
            out[lo:hi, 4:4 + n_vocab] = w
            rows = np.arange(hi - lo)
            nll[lo:hi] = (top + lse - block[rows, targets[lo:hi]]).astype(_F32)

    _run_parts(n, part, pool)
    return out, nll


@dataclass(frozen=True)
class RowComparison:
    """A candidate's rows against the stored reference rows."""

    nll: np.ndarray  # the candidate's negative log-likelihood of each next token
    nll_reference: np.ndarray  # the reference's, from its stored row
    kld: np.ndarray  # KL(reference ‖ candidate) at each position
    same_top: np.ndarray  # bool: both put the same token first


def compare_rows(logits: np.ndarray, stored: np.ndarray, targets: np.ndarray,
                 pool: Executor | None = None) -> RowComparison:
    """`logits`: the candidate's (n, n_vocab) float32; `stored`: the reference's (n, row_width) uint16 rows."""
    n, n_vocab = logits.shape
    nll = np.empty(n, dtype=np.float64)
    nll_ref = np.empty(n, dtype=np.float64)
    kld = np.empty(n, dtype=np.float64)
    same = np.empty(n, dtype=bool)

    def part(start: int, end: int) -> None:
        size = (min(BLOCK_ROWS, end - start), n_vocab)
        work, log_p_ref, keep = np.empty(size, _F32), np.empty(size, _F32), np.empty(size, bool)
        for lo in range(start, end, BLOCK_ROWS):
            hi = min(lo + BLOCK_ROWS, end)
            k = hi - lo
            block, w, lp, kept = logits[lo:hi], work[:k], log_p_ref[:k], keep[:k]
            rows = np.arange(k)
            tokens = targets[lo:hi]
            top_index = block.argmax(axis=1)
            top = block[rows, top_index]
            np.subtract(block, top[:, None], out=w)
            np.exp(w, out=w)
            lse = np.log(w.sum(axis=1, dtype=np.float64)).astype(_F32)
            log_norm = top + lse  # log p_cand = logit − log_norm
            nll[lo:hi] = log_norm - block[rows, tokens]
            header = np.ascontiguousarray(stored[lo:hi, :4]).view(_F32)
            steps = stored[lo:hi, 4:4 + n_vocab]
            same[lo:hi] = steps.argmax(axis=1) == top_index  # the steps rise with the log-probability
            np.multiply(steps, header[:, 0:1], out=lp)
            lp += header[:, 1:2]
            nll_ref[lo:hi] = -lp[rows, tokens]
            # Σ p_ref · (log p_ref − log p_cand) over the tokens with log p_ref above −16
            np.greater(lp, -_CLIP, out=kept)
            np.exp(lp, out=w)
            w *= kept
            lp -= block
            lp += log_norm[:, None]
            np.multiply(w, lp, out=w)
            kld[lo:hi] = w.sum(axis=1, dtype=np.float64)

    _run_parts(n, part, pool)
    return RowComparison(nll, nll_ref, kld, same)


def percentile(sorted_values: np.ndarray, fraction: float) -> float:
    """llama-perplexity's percentile: linear between the two nearest of the sorted float32 values."""
    values = sorted_values
    if fraction <= 0:
        return float(values[0])
    if fraction >= 1:
        return float(values[-1])
    p = _F32(fraction) * _F32(len(values) - 1)
    ip = int(p)
    p = _F32(p - ip)
    return float((_F32(1) - p) * values[ip] + p * values[min(ip + 1, len(values) - 1)])


@dataclass(frozen=True)
class QualityNumbers:
    """What a candidate loses against the reference over a text, as llama-perplexity reports it."""

    ppl: float  # the candidate's perplexity
    ppl_reference: float  # the reference's, from its stored log-probabilities ("Mean PPL(base)")
    kld_mean: float
    kld_median: float
    kld_p90: float
    kld_p99: float
    kld_max: float
    same_top: float  # share of positions, 0..1
    rms_delta_p: float  # root mean square of the change in the next token's probability, 0..1
    n_positions: int

    @property
    def delta_ppl(self) -> float:
        return self.ppl - self.ppl_reference


@dataclass
class ComparisonTotals:
    """Running sums over chunks; `numbers()` gives the final figures."""

    sum_nll: float = 0.0
    sum_nll_ref: float = 0.0
    sum_kld: float = 0.0
    sum_dp2: float = 0.0
    n_same_top: int = 0
    kld_values: list[np.ndarray] = field(default_factory=list)

    def add(self, rows: RowComparison) -> None:
        self.sum_nll += float(rows.nll.sum())
        self.sum_nll_ref += float(rows.nll_reference.sum())
        self.sum_kld += float(rows.kld.sum())
        dp = np.exp(-rows.nll.astype(_F32)) - np.exp(-rows.nll_reference.astype(_F32))
        self.sum_dp2 += float((dp.astype(np.float64) ** 2).sum())
        self.n_same_top += int(rows.same_top.sum())
        self.kld_values.append(rows.kld.astype(_F32))

    @property
    def count(self) -> int:
        return sum(len(v) for v in self.kld_values)

    def numbers(self) -> QualityNumbers:
        count = self.count
        if count == 0:
            raise ValueError("no positions were compared")
        kld = np.sort(np.concatenate(self.kld_values))
        median = float(kld[count // 2]) if count % 2 else float(_F32(0.5) * (kld[count // 2] + kld[count // 2 - 1]))
        return QualityNumbers(
            ppl=math.exp(self.sum_nll / count),
            ppl_reference=math.exp(self.sum_nll_ref / count),
            kld_mean=self.sum_kld / count,
            kld_median=median,
            kld_p90=percentile(kld, 0.90),
            kld_p99=percentile(kld, 0.99),
            kld_max=float(kld[-1]),
            same_top=self.n_same_top / count,
            rms_delta_p=math.sqrt(self.sum_dp2 / count),
            n_positions=count,
        )
