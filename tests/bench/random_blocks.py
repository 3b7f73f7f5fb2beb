"""Random tensor data of any ggml block type, written straight into a GGUF without quantizing anything.

Speed and memory depend on tensor shapes and block types, not on the values, so a random-weight model can be
written directly at Q4_K_M (or Q8_0, F16...) instead of written at F16 and quantized by llama.cpp (92 s for an
8B model on 16 cores): random bytes for every block, with each block's float16 scale fields set to a small
finite value, so the model computes finite numbers. The scales are chosen so weights are about ±0.02 and
centred on zero (the "min" of the offset types cancels the mean), which keeps activations far from float16's
range through dozens of layers, like a real model's.

Bytes come from one pool of random data, taken at a random offset per tensor (tiled for larger ones): a
model of many gigabytes is written at disk speed.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

# (weights per block, bytes per block, [(byte offset of a float16 field, its value)]) per ggml type.
# Offsets from ggml's block structs (ggml-common.h); the values give weights of about ±0.02 around zero.
_D = 3e-4
BLOCKS: dict[str, tuple[int, int, list[tuple[int, float]]]] = {
    "Q4_0": (32, 18, [(0, 0.004)]),  # w = d (q - 8)
    "Q4_1": (32, 20, [(0, 0.004), (2, -0.03)]),  # w = d q + m
    "Q5_0": (32, 22, [(0, 0.002)]),  # w = d (q - 16)
    "Q5_1": (32, 24, [(0, 0.002), (2, -0.031)]),
    "Q8_0": (32, 34, [(0, _D)]),  # w = d q
    "Q2_K": (256, 84, [(80, 0.001), (82, 0.0015)]),  # d, dmin after scales[16] and qs[64]
    "Q3_K": (256, 110, [(108, 0.0005)]),  # d after hmask[32], qs[64], scales[12]
    "Q4_K": (256, 144, [(0, 8e-5), (2, 6e-4)]),  # d, dmin: w = d·sc·q − dmin·m, dmin = 7.5 d centres it
    "Q5_K": (256, 176, [(0, 4e-5), (2, 6.2e-4)]),
    "Q6_K": (256, 210, [(208, 1.5e-5)]),  # d after ql[128], qh[64], scales[16]
}
POOL_BYTES = 64 * 1024 * 1024


class RandomData:
    """A pool of random bytes and random normal float16s, handed out as tensors of any type."""

    def __init__(self, seed: int = 0) -> None:
        self.rng = np.random.default_rng(seed)
        self._bytes = np.frombuffer(self.rng.bytes(POOL_BYTES), dtype=np.uint8)
        self._f16 = (self.rng.standard_normal(POOL_BYTES // 2, dtype=np.float32) * 0.02).astype(np.float16)

    def _take(self, pool: np.ndarray, n: int, align: int = 1) -> np.ndarray:
        if n <= len(pool):
            start = int(self.rng.integers(0, (len(pool) - n) // align + 1)) * align
            return pool[start:start + n]
        return np.resize(pool, n)  # tiled: a copy of the pool repeated

    def f16(self, rows: int, cols: int) -> np.ndarray:
        return self._take(self._f16, rows * cols).reshape(rows, cols)

    def blocks(self, ggml_type: str, rows: int, cols: int) -> np.ndarray:
        """uint8 data of shape (rows, bytes per row) for a quantized tensor with rows of `cols` weights."""
        per_block, size, scales = BLOCKS[ggml_type]
        if cols % per_block:
            raise ValueError(f"{ggml_type} needs rows of a multiple of {per_block} weights, not {cols}")
        n_blocks = rows * cols // per_block
        data = self._take(self._bytes, n_blocks * size, size).reshape(n_blocks, size).copy()
        for offset, value in scales:
            data[:, offset:offset + 2] = np.frombuffer(np.float16(value).tobytes(), dtype=np.uint8)
        return data.reshape(rows, cols // per_block * size)


def chunks(n: int, step: int) -> Iterator[tuple[int, int]]:
    for start in range(0, n, step):
        yield start, min(step, n - start)
