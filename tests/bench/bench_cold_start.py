"""Cold start: from process start to the main window shown, with no model loaded.

    .venv/bin/python tests/bench/bench_cold_start.py [--runs 7]

Each run is a fresh `python main.py`-like process that builds the real MainWindow and reports the moment its
first frame is painted; the time is measured from just before the process is spawned. Goal: ≤ 1.5 s.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

CHILD = r"""
import sys, time
sys.path.insert(0, sys.argv[1])
from app.ui.application import create_application
from app.ui.main_window import MainWindow
from PySide6.QtCore import QObject, QEvent, QTimer

class FirstPaint(QObject):
    def eventFilter(self, obj, event):
        if event.type() == QEvent.Type.Paint:
            print(f"shown {time.time():.6f}", flush=True)
            QTimer.singleShot(0, app.quit)
            obj.removeEventFilter(self)
        return False

if __name__ == "__main__":
    app = create_application()
    window = MainWindow()
    watcher = FirstPaint()
    window.installEventFilter(watcher)
    window.show()
    app.exec()
    window.bridge.shutdown()
"""


def one_run(env: dict[str, str]) -> float:
    start = time.time()
    out = subprocess.run([sys.executable, "-c", CHILD, str(ROOT)], capture_output=True, text=True, env=env,
                         timeout=60)
    for line in out.stdout.splitlines():
        if line.startswith("shown "):
            return float(line.split()[1]) - start
    raise RuntimeError(f"window never shown: {out.stderr[-2000:]}")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    env = dict(os.environ)
    env.setdefault("QT_QPA_PLATFORM", "offscreen")
    env["QUANTDESK_DATA_DIR"] = tempfile.mkdtemp(prefix="quantdesk-bench-")
    one_run(env)  # warm the OS file cache, as a second launch would be
    times = [one_run(env) for _ in range(args.runs)]
    print(f"cold start to window shown (QT_QPA_PLATFORM={env['QT_QPA_PLATFORM']}), {args.runs} runs:")
    print(f"  median {statistics.median(times):.3f} s, min {min(times):.3f} s, max {max(times):.3f} s"
          "   (goal <= 1.5 s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
