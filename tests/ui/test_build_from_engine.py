"""The window's process asks an engine process about the llama.cpp build ("Your computer"), never importing
llama_cpp itself (on a CUDA build that initialises CUDA beside Qt's threads)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

PROBE = """
import json, sys
import app.ui  # what the window imports first: it points the build question at an engine process
from app.core.machine.hardware import read_hardware
from app.ui.computer_view import ComputerView  # the page itself is importable without llama_cpp too
report = read_hardware()
print(json.dumps({"llama_cpp_here": "llama_cpp" in sys.modules, "backend": report.backend is not None,
                  "system_info": report.backend.system_info if report.backend else ""}))
"""


def test_your_computer_asks_an_engine_process() -> None:
    done = subprocess.run([sys.executable, "-c", PROBE], cwd=ROOT, capture_output=True, text=True, timeout=120,
                          check=True, env={**os.environ, "QT_QPA_PLATFORM": "offscreen"})
    answer = json.loads(done.stdout.strip().splitlines()[-1])
    assert answer["llama_cpp_here"] is False
    assert answer["backend"] is True and "CPU" in answer["system_info"]  # the engine's llama.cpp answered
