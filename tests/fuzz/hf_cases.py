"""Damaged Hugging Face folders through the in-process readers: the facts of the file a conversion would
write, the conversion itself, and for a sample `recommend FOLDER --json`. Runs in a worker process."""

from __future__ import annotations

import random
import shutil
import tempfile
from functools import partial
from pathlib import Path

from app.core.convert.converter import convert_model
from app.core.convert.predict import read_folder_facts
from tests.fixtures.files import partial_files
from tests.fixtures.tiny_hf import build_tiny_folder
from tests.fuzz.gguf_cases import recommend_cli
from tests.fuzz.hf_mutations import FAMILIES, HfMutator
from tests.fuzz.judge import FuzzReport, run_case

SEED = 4711
CLI_EVERY = 10
TRACED_EVERY = 25


def folder_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def _convert(folder: Path, out: Path) -> object:
    """convert_model, and on failure nothing left under the output name or as a partial file."""
    try:
        return convert_model(folder, out)
    except BaseException:
        if out.exists() or partial_files(out):
            raise AssertionError(f"a failed conversion left {out.name} or its partial file behind") from None
        raise
    finally:
        out.unlink(missing_ok=True)


def run_hf_cases(first: int, step: int, count: int) -> list[FuzzReport]:
    """Cases first, first + step, ... below count, in one report."""
    report = FuzzReport("Hugging Face folders through read_folder_facts, convert_model and `recommend`")
    work = Path(tempfile.mkdtemp(prefix="quantdesk-fuzz-hf-"))
    try:
        mutator = HfMutator({f: build_tiny_folder(f, work / "pristine" / f) for f in FAMILIES})
        for family in FAMILIES:  # imports and first-use caches, outside the measured cases
            convert_model(work / "pristine" / family, work / "warm-up.gguf")
        for index in range(first, count, step):
            folder, out = work / f"case-{index}", work / "out.gguf"
            label = mutator.case(random.Random(SEED * 1_000_003 + index), index, folder)
            size, traced = folder_bytes(folder), index % TRACED_EVERY == 0
            run_case(report, label, partial(read_folder_facts, folder), size, traced=traced)
            run_case(report, f"{label} (convert)", partial(_convert, folder, out), size, traced=traced)
            if index % CLI_EVERY == 0:
                run_case(report, f"{label} (recommend)", partial(recommend_cli, folder), size)
            shutil.rmtree(folder)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return [report]
