"""The window starts without the Hub client: huggingface_hub and httpx2 load with the first search or inspection;
nor with the API server's HTTP stack (uvicorn, Starlette), which loads when the server is first switched on;
nor with gguf-py and numpy, which load when a file is read, converted or quantized; nor with the Markdown
parser, which loads with the first reply drawn.

Together they cost about half the cold start (tests/bench/bench_cold_start.py); nothing on screen at start-up
needs them, and the next page or module that imports them at its top would quietly bring that back.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

PROBE = """
import sys
from app.ui.application import create_application
from app.ui.main_window import MainWindow
app = create_application()
window = MainWindow()
window.show()
app.processEvents()
print(sorted(m for m in ("huggingface_hub.hf_api", "httpx2", "huggingface_hub.utils", "uvicorn", "starlette",
                          "gguf", "numpy", "markdown_it") if m in sys.modules))
window.bridge.shutdown()
"""


def test_window_starts_without_the_hub_client(tmp_path: Path) -> None:
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "QUANTDESK_DATA_DIR": str(tmp_path)}
    out = subprocess.run([sys.executable, "-c", PROBE], cwd=ROOT, env=env, capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().splitlines()[-1] == "[]", out.stdout
