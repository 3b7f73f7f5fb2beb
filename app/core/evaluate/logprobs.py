"""The reference's log-probabilities on disk, in llama-perplexity's own --kl-divergence-base format.

    "_logits_"  n_ctx:u32  n_vocab:i32  n_chunk:i32  tokens:i32[n_ctx × n_chunk]
    then per chunk, per scored position (n_ctx − 1 − n_ctx/2 of them): one stored row (stats.row_width uint16)

Using the same format means a file QuantDesk writes can be read by llama-perplexity and the other way round,
which is how the figures are held against the reference tool (tests/bench/bench_evaluate_match.py).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np

from app.core.errors import QuantDeskError
from app.core.evaluate.stats import row_width

MAGIC = b"_logits_"
_HEADER = struct.Struct("<Iii")


def scored_per_chunk(n_ctx: int) -> int:
    """Positions scored in one chunk: the second half, less the last (it predicts past the chunk)."""
    return n_ctx - 1 - n_ctx // 2


def write_header(out: BinaryIO, n_ctx: int, n_vocab: int, tokens: np.ndarray) -> None:
    n_chunk = len(tokens) // n_ctx
    out.write(MAGIC)
    out.write(_HEADER.pack(n_ctx, n_vocab, n_chunk))
    out.write(np.asarray(tokens[: n_chunk * n_ctx], dtype="<i4").tobytes())


@dataclass(frozen=True)
class ReferenceLogProbs:
    """A reference file opened for reading (memory-mapped: a chunk is read when it is asked for)."""

    path: Path
    n_ctx: int
    n_vocab: int
    n_chunk: int
    tokens: np.ndarray  # int32, n_ctx × n_chunk
    rows: np.ndarray  # uint16 memmap, (n_chunk × scored_per_chunk, row_width)

    @classmethod
    def open(cls, path: Path) -> ReferenceLogProbs:
        path = Path(path)
        try:
            with path.open("rb") as f:
                magic = f.read(len(MAGIC))
                header = f.read(_HEADER.size)
        except OSError as error:
            raise QuantDeskError("The reference model's measurements could not be read.",
                                 f"{path}: {error}") from error
        if magic != MAGIC or len(header) != _HEADER.size:
            raise QuantDeskError("The reference model's measurements are damaged; measure the reference again.",
                                 f"{path}: not a llama-perplexity log-probabilities file")
        n_ctx, n_vocab, n_chunk = _HEADER.unpack(header)
        offset = len(MAGIC) + _HEADER.size
        n_tokens = n_ctx * n_chunk
        width = row_width(n_vocab)
        n_rows = n_chunk * scored_per_chunk(n_ctx)
        expected = offset + 4 * n_tokens + 2 * width * n_rows
        if n_chunk < 1 or path.stat().st_size != expected:
            raise QuantDeskError("The reference model's measurements are incomplete; measure the reference again.",
                                 f"{path}: {path.stat().st_size} bytes, expected {expected}")
        tokens = np.fromfile(path, dtype="<i4", count=n_tokens, offset=offset)
        rows = np.memmap(path, dtype="<u2", mode="r", offset=offset + 4 * n_tokens, shape=(n_rows, width))
        return cls(path, n_ctx, n_vocab, n_chunk, tokens, rows)

    def chunk_rows(self, chunk: int) -> np.ndarray:
        n = scored_per_chunk(self.n_ctx)
        return np.asarray(self.rows[chunk * n:(chunk + 1) * n])

    def chunk_tokens(self, chunk: int) -> np.ndarray:
        return self.tokens[chunk * self.n_ctx:(chunk + 1) * self.n_ctx]
