"""Damaged GGUF files through the in-process readers: model facts, the recommendation (for this computer or,
every other case, one with an 8 GB graphics card) and, for a sample, `recommend FILE --json`. Runs in a worker
process."""

from __future__ import annotations

import contextlib
import dataclasses
import io
import json
import os
import random
import shutil
import tempfile
from functools import partial
from pathlib import Path

from app.__main__ import main
from app.core.advice.recommend import recommend
from app.core.machine.hardware import BackendInfo, GpuInfo, HardwareReport, read_hardware
from app.core.models.facts import ModelFacts, read_gguf_facts
from app.core.models.library import starter_model_path
from app.core.process.runner import ErrorReport
from tests.fuzz.gguf_mutations import REGION, GgufCase, GgufMutator
from tests.fuzz.judge import FuzzReport, run_case

SEED = 20260
CLI_EVERY = 20  # one case in 20 also through the command line
TRACED_EVERY = 100  # one case in 100 also under tracemalloc
GIB = 1024**3


class CaseFiles:
    """Writes GgufCases: in place into one full copy of the starter, or as a file of their own."""

    CHUNK = 4096

    def __init__(self, original: Path, folder: Path) -> None:
        self.original = original
        self.full = folder / "damaged.gguf"
        self.resized = folder / "damaged-resized.gguf"
        shutil.copyfile(original, self.full)
        with open(original, "rb") as f:
            self.on_disk = f.read(REGION)  # what the full copy's first REGION bytes hold now

    def write(self, case: GgufCase) -> Path:
        if case.in_place:  # only the chunks that differ from what is there: a case changes a few bytes
            with open(self.full, "r+b") as out:
                for at in range(0, REGION, self.CHUNK):
                    if case.head[at : at + self.CHUNK] != self.on_disk[at : at + self.CHUNK]:
                        out.seek(at)
                        out.write(case.head[at : at + self.CHUNK])
            self.on_disk = case.head
            return self.full
        with open(self.resized, "wb") as out, open(self.original, "rb") as src:
            out.write(case.head)
            out.flush()
            if not case.real_tail:
                out.truncate(case.size())
                return self.resized
            left, at = case.tail_end - REGION, REGION
            while left > 0:  # the real weights after the header, copied by the kernel
                n = os.copy_file_range(src.fileno(), out.fileno(), left, at)
                left, at = left - n, at + n
        return self.resized


def starter_mutator() -> GgufMutator:
    path = starter_model_path()
    with open(path, "rb") as f:
        return GgufMutator(f.read(REGION), path.stat().st_size)


def case_rng(index: int) -> random.Random:
    """Case `index`'s own generator: the same case whichever worker runs it."""
    return random.Random(SEED * 1_000_003 + index)


def computers() -> tuple[HardwareReport, HardwareReport]:
    """This computer, and the same with an 8 GB graphics card llama.cpp can use (a plain report, as the
    recommendation tests build them): with a GPU, recommend takes its layer-placement path."""
    real = read_hardware()
    card = GpuInfo(0, "NVIDIA GeForce RTX 3060", "NVIDIA", 8 * GIB, GIB // 2, 8 * GIB - GIB // 2, "580", "8.6")
    with_gpu = dataclasses.replace(real, gpus=(card,), backend=BackendInfo(True, "CUDA : ARCHS = 860", "0.3.36"))
    return real, with_gpu


def recommend_cli(path: Path) -> object:
    """`recommend PATH --json` as a script runs it: exit 0 with options, or 1 with the error as JSON (raised
    here as the QuantDeskError it names, so the judge reads it like any other)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(["recommend", str(path), "--json"])
    if "Traceback" in err.getvalue():
        raise AssertionError(err.getvalue())
    data = json.loads(out.getvalue())
    if code == 1:
        error = data["error"]
        raise ErrorReport(error["type"], error["message"], error["detail"]).to_error()
    if code != 0 or not data["options"]:
        raise AssertionError(f"exit {code}: {data}")
    return data


def _warm_up(hardware: tuple[HardwareReport, ...]) -> None:
    """Imports and first-use caches, outside the measured cases."""
    facts = read_gguf_facts(starter_model_path())
    for h in hardware:
        recommend(facts, h)
    with contextlib.redirect_stdout(io.StringIO()):
        main(["recommend", str(starter_model_path()), "--json"])


def run_gguf_cases(first: int, step: int, count: int) -> list[FuzzReport]:
    """Cases first, first + step, ... below count; reports for the in-process readers and for the CLI."""
    hardware = computers()
    _warm_up(hardware)
    mutator = starter_mutator()
    facts_report = FuzzReport("GGUF headers through read_gguf_facts and recommend")
    cli_report = FuzzReport("GGUF headers through `recommend FILE --json`")
    folder = Path(tempfile.mkdtemp(prefix="quantdesk-fuzz-"))
    try:
        files = CaseFiles(starter_model_path(), folder)
        for index in range(first, count, step):
            case = mutator.case(case_rng(index), index)
            path, size = files.write(case), case.size()
            traced = index % TRACED_EVERY == 0
            facts = run_case(facts_report, case.label, partial(read_gguf_facts, path), size, traced=traced)
            if isinstance(facts, ModelFacts):  # for this computer, or (every other case) one with a GPU
                h = hardware[index % 2]
                run_case(facts_report, f"{case.label} (recommend, {len(h.gpus)} GPUs)",
                         partial(recommend, facts, h), size, traced=traced)
            if index % CLI_EVERY == 0:
                run_case(cli_report, case.label, partial(recommend_cli, path), size)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return [facts_report, cli_report]
