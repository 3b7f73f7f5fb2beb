"""Damaged copies of the starter through the chat path: plan_load, then the real engine (llama.cpp in its own
process) loading the file and, when it loads, answering. Everything that comes out must be a QuantDeskError in
plain words; an abort inside llama.cpp counts, as EngineCrashedError is one (the engine is restarted and the
next case goes on). No case may hang, and the engine's memory may grow by no more than llama.cpp's own header
reader allows itself (ENGINE_FILE_MULTIPLE). The engine process is closed at the end."""

from __future__ import annotations

import contextlib
import random
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.core.advice.placement import plan_load
from app.core.engine.client import EngineClient
from app.core.engine.protocol import GREEDY, ChatMessage, LoadModel
from app.core.errors import EngineCrashedError, QuantDeskError
from app.core.machine.hardware import HardwareReport
from app.core.models.library import starter_model_path
from tests.fuzz.gguf_cases import CaseFiles, computers, starter_mutator
from tests.fuzz.judge import LINUX_ONLY, FuzzReport, problem_with

pytestmark = LINUX_ONLY

Computers = tuple[HardwareReport, HardwareReport]  # this one, and the same with a graphics card

SEED = 9001
CASES = 36
N_CTX = 256
# A case here starts a process after a crash, maps and reads the 98 MB file and evaluates a prompt: about
# 0.5 s when all goes well. 5 s is the bound for "no hang"; past 30 s the engine is killed so the test ends.
CASE_SECONDS = 5.0
KILL_AFTER_SECONDS = 30.0
# What a load may add to the engine. An undamaged load adds the file's pages and about 25 MB of llama.cpp's
# buffers for a 256-token context. A damaged header is llama.cpp's to refuse, so that its own reason reaches
# the person (tests/e2e/test_engine_starter.py), and its header reader allocates what a damaged length asks
# for, up to what the file could hold, before it refuses: twice the file for a key length (197 MB for the
# starter), 4.4 times for the count of a string array (430 MB). The bound is that rule, so what it catches is
# memory sized by some other damaged number (a context, a vocabulary, a layer count).
ENGINE_FILE_MULTIPLE = 5
ENGINE_MARGIN_BYTES = 64 * 1024 * 1024


def _status_bytes(pid: int, key: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1]) * 1024
    raise LookupError(key)


@contextlib.contextmanager
def _watchdog(engine: EngineClient) -> Iterator[None]:
    """Kill the engine if the case outlasts KILL_AFTER_SECONDS: a hang then fails the case, not the run."""
    timer = threading.Timer(KILL_AFTER_SECONDS, engine.kill)
    timer.start()
    try:
        yield
    finally:
        timer.cancel()
        timer.join()


def _chat(engine: EngineClient, path: Path, n_gpu_layers: int) -> str:
    """Load the file and ask it one short question; what happened, in a word."""
    # One thread: on a 2-core machine that is also running other work, two llama.cpp threads wait on each other
    # (a reply of 4 tokens took 12 s instead of 0.2 s); what is tested here is the file, not threading.
    engine.load_model(LoadModel(str(path), n_ctx=N_CTX, n_gpu_layers=n_gpu_layers, n_threads=1))
    engine.complete([ChatMessage("user", "What is the capital of France?")], max_tokens=4, sampling=GREEDY)
    engine.unload_model()  # before the next case rewrites the file it maps
    return "answered"


def _attempt(engine: EngineClient, path: Path, hardware: Computers) -> tuple[str, str | None, int, float]:
    """One pass through the chat path: (outcome, what is wrong with it, engine memory growth, seconds)."""
    real, with_gpu = hardware
    engine.start()
    pid = engine.pid
    assert pid is not None
    Path(f"/proc/{pid}/clear_refs").write_text("5")  # the engine's resident peak starts again here
    resident = _status_bytes(pid, "VmRSS")
    started = time.perf_counter()
    growth = 0
    try:
        plan_load(path, N_CTX, with_gpu)  # the read-ahead path: never raises
        plan = plan_load(path, N_CTX, real)  # what the chat does on this computer
        with _watchdog(engine):
            outcome, problem = _chat(engine, path, plan.n_gpu_layers), None
            growth = _status_bytes(pid, "VmHWM") - resident
    except QuantDeskError as error:
        outcome, problem = type(error).__name__, problem_with(error)
        if isinstance(error, EngineCrashedError) or not engine.is_running:
            engine.restart()
        else:
            growth = _status_bytes(pid, "VmHWM") - resident
    except Exception as error:
        outcome, problem = f"escaped {type(error).__name__}", f"{type(error).__name__}: {error}"[:300]
        engine.restart()
    return outcome, problem, growth, time.perf_counter() - started


def _run(engine: EngineClient, report: FuzzReport, label: str, path: Path, size: int,
         hardware: Computers) -> None:
    outcome, problem, growth, elapsed = _attempt(engine, path, hardware)
    if elapsed > CASE_SECONDS:  # on a busy 2-core machine a load can stall once; a hang stalls every time
        elapsed = min(elapsed, _attempt(engine, path, hardware)[3])
    report.outcomes[outcome] += 1
    report.slowest = max(report.slowest, elapsed)
    report.largest_rss = max(report.largest_rss, growth)
    if problem:
        report.failed(label, problem)
    if elapsed > CASE_SECONDS:
        report.failed(label, f"took {elapsed:.1f} s (limit {CASE_SECONDS} s)")
    if growth > ENGINE_FILE_MULTIPLE * size + ENGINE_MARGIN_BYTES:
        report.failed(label, f"the engine grew {growth / 1e6:.0f} MB for a file of {size / 1e6:.0f} MB")


@pytest.mark.slow
def test_damaged_ggufs_through_the_chat(tmp_path: Path) -> None:
    mutator, files, hardware = starter_mutator(), CaseFiles(starter_model_path(), tmp_path), computers()
    report = FuzzReport("GGUF headers through plan_load and the engine")
    engine = EngineClient(log_dir=tmp_path)
    try:
        for index in range(CASES):
            case = mutator.case(random.Random(SEED * 1_000_003 + index), index)
            _run(engine, report, case.label, files.write(case), case.size(), hardware)
    finally:
        engine.close()
    assert not engine.is_running
    print(report.summary())
    assert not report.failures, report.summary()
