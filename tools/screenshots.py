"""Write screenshots of the chat screens and the log to docs/screenshots/ (offscreen, no display needed).

With --scale 2 it draws the chat at 200 % (QT_SCALE_FACTOR=2) in a 960x540 window, the logical size of a
1920x1080 screen at 200 %, as docs/screenshots/chat-200.png.

The other pages' screenshots are written by their UI tests with real content in them (a fake Hub, a
running job): `QUANTDESK_SCREENSHOT_DIR=docs/screenshots .venv/bin/python -m pytest tests/ui`.

    .venv/bin/python tools/screenshots.py

Uses a throwaway data folder, the real starter model and the real engine, so what is drawn is what a
person sees.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
SCALE = "--scale" in sys.argv and sys.argv[sys.argv.index("--scale") + 1] == "2"
if SCALE:
    os.environ["QT_SCALE_FACTOR"] = "2"
os.environ["QUANTDESK_DATA_DIR"] = tempfile.mkdtemp(prefix="quantdesk-shots-")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from PySide6.QtWidgets import QApplication  # noqa: E402

from app.core.engine.protocol import SamplingSettings  # noqa: E402
from app.ui.application import create_application  # noqa: E402
from app.ui.main_window import MainWindow  # noqa: E402

OUT = ROOT / "docs" / "screenshots"


def wait_until(condition: Callable[[], bool], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("the screen never got there")
        QApplication.processEvents()
        time.sleep(0.01)


def shoot(window: MainWindow, name: str) -> None:
    for _ in range(5):
        QApplication.processEvents()
    path = OUT / f"{name}.png"
    window.grab().save(str(path))
    print(f"wrote {path.relative_to(ROOT)}")


def ask(window: MainWindow, finished: list[object], question: str) -> None:
    count = len(finished)
    window.chat.send(question)
    wait_until(lambda: len(finished) > count, timeout=180)


def scaled() -> int:
    create_application()
    window = MainWindow()
    window.resize(960, 540)
    window.show()
    finished: list[object] = []
    window.chat.reply_finished.connect(finished.append)
    window.load_default_model()
    wait_until(lambda: window.bridge.loaded is not None and not window.bridge.busy)
    window.chat.sampling = SamplingSettings(temperature=0.0)
    ask(window, finished, "Give me three tips for staying focused while studying.")
    shoot(window, "chat-200")
    window.chat.settings_button.setChecked(False)
    shoot(window, "chat-200-panel-folded")
    window.close()
    return 0


def main() -> int:
    OUT.mkdir(parents=True, exist_ok=True)
    if SCALE:
        return scaled()
    create_application()
    window = MainWindow()
    window.resize(1180, 760)
    window.show()

    shoot(window, "chat-empty")

    finished: list[object] = []
    window.chat.reply_finished.connect(finished.append)
    window.load_default_model()
    wait_until(lambda: window.bridge.loaded is not None and not window.bridge.busy)
    window.chat.sampling = SamplingSettings(temperature=0.7, seed=11)
    shoot(window, "chat-ready")
    ask(window, finished, "What is the capital of France? Answer in one word.")
    window.chat.sampling = SamplingSettings(temperature=0.0)
    ask(window, finished, "Write a Python function that adds two numbers, with a short explanation.")
    window.chat.conversations.refresh()
    window.update_readouts()
    window.chat.input.setPlainText("What is the capital of Germany?")
    shoot(window, "chat")
    for _ in range(4):  # a few readouts for the timeline
        window._readout_timer.timeout.emit()
        wait_until(lambda: not window._readout_in_flight)
        time.sleep(0.3)
    window.chat.side.setCurrentIndex(1)
    shoot(window, "chat-memory")
    window.chat.side.setCurrentIndex(0)

    window.bridge.client.kill()
    window.chat.send("What is the capital of Germany? Answer in one word.")
    wait_until(lambda: window.chat.banner.isVisible())
    window.update_readouts()
    shoot(window, "engine-crashed")

    window.show_page("Log")
    shoot(window, "log")

    window.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
