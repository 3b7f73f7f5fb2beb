"""Write screenshots of the chat screens and the log to docs/screenshots/ (offscreen, no display needed).

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
os.environ["QUANTDESK_DATA_DIR"] = tempfile.mkdtemp(prefix="quantdesk-shots-")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from PySide6.QtWidgets import QApplication  # noqa: E402

from app.core.engine.protocol import SamplingSettings  # noqa: E402
from app.core.models.library import starter_model_path  # noqa: E402
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


def main() -> int:
    OUT.mkdir(parents=True, exist_ok=True)
    create_application()
    window = MainWindow()
    window.resize(1180, 760)
    window.show()

    shoot(window, "chat-empty")

    finished: list[object] = []
    window.chat.reply_finished.connect(finished.append)
    window.bridge.load_model(starter_model_path(), n_ctx=2048)
    wait_until(lambda: window.bridge.loaded is not None and not window.bridge.busy)
    window.chat.sampling = SamplingSettings(temperature=0.7, seed=11)
    for question in ("What is the capital of France? Answer in one word.",
                     "Give me three tips for staying focused while studying."):
        count = len(finished)
        window.chat.send(question)
        wait_until(lambda count=count: len(finished) > count)
    window.update_readouts()
    window.chat.input.setPlainText("What is the capital of Germany?")
    shoot(window, "chat")

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
