from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from app.core.llama_log import LEVEL_CONT, LEVEL_ERROR, LEVEL_INFO, LEVEL_WARN, LlamaLogCapture

ROOT = Path(__file__).resolve().parents[2]


def test_lines_are_joined_and_problems_filtered() -> None:
    log = LlamaLogCapture(capacity=3, echo=False)
    log.feed(LEVEL_INFO, "loading model\n")
    mark = log.mark()
    log.feed(LEVEL_WARN, "something odd")
    log.feed(LEVEL_CONT, " continues\n")
    log.feed(LEVEL_ERROR, "error loading model: bad tensor\n")
    assert log.problems_since(mark) == ["something odd continues", "error loading model: bad tensor"]


def test_capacity_drops_old_lines_but_marks_stay_correct() -> None:
    log = LlamaLogCapture(capacity=2, echo=False)
    for i in range(5):
        log.feed(LEVEL_INFO, f"line {i}\n")
    mark = log.mark()
    log.feed(LEVEL_ERROR, "late error\n")
    assert [ln.text for ln in log.since(mark)] == ["late error"]
    assert [ln.text for ln in log.lines()] == ["line 4", "late error"]


def test_debug_lines_and_their_continuations_are_dropped() -> None:
    from app.core.llama_log import LEVEL_DEBUG

    log = LlamaLogCapture(echo=False)
    log.feed(LEVEL_DEBUG, "graph node 1")
    log.feed(LEVEL_CONT, " more graph\n")
    log.feed(LEVEL_ERROR, "real error\n")
    assert [ln.text for ln in log.lines()] == ["real error"]


def test_a_dropped_capture_leaves_llama_cpp_a_live_callback() -> None:
    """llama.cpp keeps calling the last callback installed; dropping the capture that installed it must not
    free it (it did: the next log line in the process crashed it, a quantize in the test run)."""
    probe = (
        "import gc, os, llama_cpp\n"
        "from app.core.llama_log import LlamaLogCapture\n"
        "from app.core.models.library import starter_model_path\n"
        "capture = LlamaLogCapture(echo=False)\n"
        "capture.install()\n"
        "del capture\n"
        "gc.collect()\n"
        "params = llama_cpp.llama_model_default_params()\n"
        "params.vocab_only = True\n"
        "model = llama_cpp.llama_model_load_from_file(os.fsencode(str(starter_model_path())), params)\n"
        "assert model\n"
        "llama_cpp.llama_model_free(model)\n"
        "print('alive')\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "alive"
