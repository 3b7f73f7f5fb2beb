"""Fuzz cases spread over worker processes, one per core (the test machine has two).

Each worker is started fresh (spawn), runs every n-th case of the range and returns its reports; the cases
are made from a seed and their index, so how they are split does not change which cases run. The workers
end with the pool, before the test does.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor

from tests.fuzz.judge import FuzzReport

Worker = Callable[[int, int, int], list[FuzzReport]]  # (first case, step, number of cases) → reports


def in_workers(worker: Worker, cases: int) -> list[FuzzReport]:
    """Run `worker` over cases [0, cases) in parallel; its reports merged, in the order it returns them."""
    n = max(1, min(2, os.cpu_count() or 1))
    with ProcessPoolExecutor(n, mp_context=multiprocessing.get_context("spawn")) as pool:
        parts = list(pool.map(worker, range(n), [n] * n, [cases] * n))
    merged = parts[0]
    for part in parts[1:]:
        for mine, theirs in zip(merged, part, strict=True):
            mine.add(theirs)
    return merged
