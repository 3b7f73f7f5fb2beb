"""The window starts without the Hub client: huggingface_hub and httpx2 load with the first search or inspection.

They cost about a third of the cold start (tests/bench/bench_cold_start.py); nothing on screen at start-up
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
print(sorted(m for m in ("huggingface_hub.hf_api", "httpx2", "huggingface_hub.utils") if m in sys.modules))
window.bridge.shutdown()
"""


def test_window_starts_without_the_hub_client(tmp_path: Path) -> None:
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "QUANTDESK_DATA_DIR": str(tmp_path)}
    out = subprocess.run([sys.executable, "-c", PROBE], cwd=ROOT, env=env, capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().splitlines()[-1] == "[]", out.stdout
