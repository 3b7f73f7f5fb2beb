"""One fuzz case run and judged: it succeeds or raises a QuantDeskError in plain words, within a time limit,
and without taking more memory than the size of the input it reads plus a small margin.

Every case is measured, not only the failing ones: a reader that recovers from a 2**63-byte length field by
first trying to allocate it, or that walks a damaged count for seconds, is as wrong as one that crashes.
Memory is held to the bound three ways, because tracemalloc slows a byte-walking parser about 16-fold and a
run of thousands of cases cannot afford it on every case:
- the address space is capped at what the process has plus the bound while the case runs (RLIMIT_AS), so a
  reader that asks for more gets a MemoryError, which is an escape like any other;
- the resident peak (Linux's VmHWM, reset before each case through /proc/self/clear_refs) must grow by no
  more than the bound;
- a sample of cases is run again under tracemalloc, whose peak of Python allocations must stay in the bound.
The cap is set only in the worker processes the fuzz tests start (workers.py), never in pytest's own.
Failures are collected rather than raised at once, so a run reports every escape it met, counted by kind.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import resource
import time
import tracemalloc
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from app.core.errors import QuantDeskError

CASE_SECONDS = 2.0
# Memory a case may take beyond the size of its input: the undamaged starter model costs about 4.3 MB (its
# first 4 MB read at once, its facts, a recommendation).
MARGIN_BYTES = 16 * 1024 * 1024
# A plain message is a sentence or two; one that quotes a damaged value at length is not plain.
MAX_MESSAGE_CHARS = 600
_STATUS = Path("/proc/self/status")
_CLEAR_REFS = Path("/proc/self/clear_refs")
#: The memory measurements read Linux's /proc; elsewhere the fuzz tests do not run.
LINUX_ONLY = pytest.mark.skipif(not _CLEAR_REFS.exists(), reason="measures memory through Linux's /proc")


def problem_with(error: QuantDeskError) -> str | None:
    """What is wrong with a QuantDeskError as something a person reads, or None."""
    message = error.message
    if not isinstance(message, str) or not message.strip():
        return "empty message"
    if len(message) > MAX_MESSAGE_CHARS:
        return f"message of {len(message)} characters"
    if "Traceback" in message or "Traceback" in str(error.detail):
        return "a traceback in the message or its detail (an unexpected error was wrapped)"
    return None


@dataclass
class FuzzReport:
    """Outcomes counted by kind, and every failure with the case that caused it."""

    what: str
    outcomes: Counter[str] = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)
    slowest: float = 0.0
    largest_rss: int = 0
    largest_traced: int = 0

    def failed(self, label: str, why: str) -> None:
        self.failures.append(f"{label}: {why}")

    def add(self, other: FuzzReport) -> None:
        self.outcomes.update(other.outcomes)
        self.failures += other.failures
        self.slowest = max(self.slowest, other.slowest)
        self.largest_rss = max(self.largest_rss, other.largest_rss)
        self.largest_traced = max(self.largest_traced, other.largest_traced)

    def summary(self) -> str:
        kinds = ", ".join(f"{name} {n}" for name, n in sorted(self.outcomes.items()))
        lines = [f"{self.what}: {sum(self.outcomes.values())} cases ({kinds}); slowest {self.slowest:.2f} s; "
                 f"largest resident growth {self.largest_rss / 1e6:.1f} MB, largest traced peak "
                 f"{self.largest_traced / 1e6:.1f} MB"]
        if self.failures:
            lines.append(f"{len(self.failures)} failures, the first 40:")
            lines += [f"  {f}" for f in self.failures[:40]]
        return "\n".join(lines)


def _status_kb(key: str) -> int:
    for line in _STATUS.read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1]) * 1024
    raise LookupError(key)


@contextlib.contextmanager
def memory_bound(allowed: int) -> Iterator[Callable[[], int]]:
    """Cap the address space at its present size plus `allowed` (in a worker process only) and reset the
    resident peak; yields a function giving the resident growth since entry."""
    in_worker = multiprocessing.parent_process() is not None
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    if in_worker:
        cap = _status_kb("VmSize") + allowed
        resource.setrlimit(resource.RLIMIT_AS, (cap if hard == resource.RLIM_INFINITY else min(cap, hard), hard))
    _CLEAR_REFS.write_text("5")  # VmHWM := VmRSS
    start = _status_kb("VmRSS")
    try:
        yield lambda: _status_kb("VmHWM") - start
    finally:
        if in_worker:
            resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


def _traced_peak(call: Callable[[], object], allowed: int) -> int:
    """The peak of Python allocations while `call` runs again, under a looser cap (tracing costs memory)."""
    with memory_bound(2 * allowed):
        tracemalloc.start()
        try:
            with contextlib.suppress(Exception):
                call()
            return tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()


def run_case(report: FuzzReport, label: str, call: Callable[[], object], input_bytes: int,
             seconds: float = CASE_SECONDS, traced: bool = False) -> object | None:
    """Run `call` as one case and judge it; its result, or None. `traced`: also run it under tracemalloc."""
    allowed = input_bytes + MARGIN_BYTES
    result: object | None = None
    with memory_bound(allowed) as resident_growth:
        started = time.perf_counter()
        try:
            result = call()
            outcome, problem = "ok", None
        except QuantDeskError as error:
            outcome, problem = type(error).__name__, problem_with(error)
        except Exception as error:  # MemoryError, RecursionError, OverflowError...: each is a finding
            outcome, problem = f"escaped {type(error).__name__}", f"{type(error).__name__}: {str(error)[:200]}"
            if isinstance(error, MemoryError):
                problem += f" (asked for more than the {allowed / 1e6:.0f} MB allowed)"
        elapsed = time.perf_counter() - started
        rss = resident_growth()
    report.outcomes[outcome] += 1
    report.slowest = max(report.slowest, elapsed)
    report.largest_rss = max(report.largest_rss, rss)
    if problem:
        report.failed(label, problem)
    if elapsed > seconds:
        report.failed(label, f"took {elapsed:.2f} s (limit {seconds} s)")
    if rss > allowed:
        report.failed(label, f"resident memory grew {rss / 1e6:.1f} MB for an input of {input_bytes / 1e6:.1f} MB")
    if traced:
        peak = _traced_peak(call, allowed)
        report.largest_traced = max(report.largest_traced, peak)
        if peak > allowed:
            report.failed(label, f"allocated {peak / 1e6:.1f} MB for an input of {input_bytes / 1e6:.1f} MB")
    return result
