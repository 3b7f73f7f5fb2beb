"""Write screenshots of QuantDesk's screens to docs/screenshots/ (offscreen, no display needed).

    .venv/bin/python tools/screenshots.py            # every screen below, then the 200 % and dark sets
    .venv/bin/python tools/screenshots.py --one-set --scale 2 --size 960x540 --suffix -200

Uses a throwaway data and settings folder, the real starter model and the real engine, so what is drawn is
what a person sees. The network screen searches the fake Hub of the tests (tests/fixtures/fake_hub.py: the
real huggingface_hub client talking to a server on 127.0.0.1), so its host is 127.0.0.1. The error screen is
a real full disk: llama.cpp quantizing into /dev/full. The 200 % set is a 1920×1080 screen at 200 %
(QT_SCALE_FACTOR=2, a 960×540 window): the size where a person at 200 % runs out of room first; there the
chat starts with its side panel folded (chat-200) and is drawn again with it open (chat-panel-open-200).
The chat runs llama.cpp on one thread, so the speed shown is one core's, steady on a shared machine. Chat
screens: chat-empty (no model yet), chat-ready (the starter loaded, the input waiting), chat (a short answer
and a code block), chat-memory (the memory panel with its timeline), engine-crashed.

The Find models, Convert and Jobs screenshots are written by their UI tests, with real content in them:
`QUANTDESK_SCREENSHOT_DIR=docs/screenshots .venv/bin/python -m pytest tests/ui`.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "screenshots"


def parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    parser.add_argument("--one-set", action="store_true", help="only this set (no 200 %% and dark sets)")
    parser.add_argument("--scale", default="1")
    parser.add_argument("--size", default="1180x760", help="the window's size in logical pixels")
    parser.add_argument("--theme", default="light", choices=("light", "dark"))
    parser.add_argument("--suffix", default="")
    parser.add_argument("--screens", default="all", help="comma-separated names, or all")
    return parser.parse_args()


ARGS = parse()
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ["QT_SCALE_FACTOR"] = ARGS.scale
_HOME = tempfile.mkdtemp(prefix="quantdesk-shots-")
os.environ["QUANTDESK_DATA_DIR"] = os.path.join(_HOME, "data")
os.environ["QUANTDESK_CONFIG_DIR"] = os.path.join(_HOME, "config")
os.environ["HF_HOME"] = os.path.join(_HOME, "hf")
sys.path.insert(0, str(ROOT))

from PySide6.QtWidgets import QApplication, QWidget  # noqa: E402

from app.core.engine.protocol import SamplingSettings  # noqa: E402
from app.core.errors import QuantDeskError  # noqa: E402
from app.core.models.library import starter_model_path  # noqa: E402
from app.core.settings import set_setting  # noqa: E402
from app.ui.application import create_application  # noqa: E402
from app.ui.error_dialog import ErrorDialog  # noqa: E402
from app.ui.main_window import MainWindow  # noqa: E402


def wait_until(condition: Callable[[], bool], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("the screen never got there")
        QApplication.processEvents()
        time.sleep(0.01)


def settle(seconds: float = 0.3) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        QApplication.processEvents()
        time.sleep(0.01)


def shoot(widget: QWidget, name: str) -> None:
    settle(0.1)
    path = OUT / f"{name}{ARGS.suffix}.png"
    widget.grab().save(str(path))
    print(f"wrote {path.relative_to(ROOT)}")


def ask(window: MainWindow, finished: list[object], question: str) -> None:
    count = len(finished)
    window.chat.send(question)
    wait_until(lambda: len(finished) > count, timeout=240)


def wanted(name: str) -> bool:
    return ARGS.screens == "all" or name in ARGS.screens.split(",")


def disk_full_error() -> QuantDeskError:
    """The error a person meets when the disk fills up during a quantization (a real one: /dev/full)."""
    from app.core.disk import partial_path
    from app.core.quantize.quantizer import quantize_file

    folder = Path(tempfile.mkdtemp(prefix="quantdesk-full-"))
    dst = folder / "SmolLM2-135M-Instruct-Q4_0.gguf"
    partial_path(dst).symlink_to("/dev/full")
    try:
        quantize_file(starter_model_path(), dst, "Q4_0", threads=2, allow_requantize=True)
    except QuantDeskError as error:
        return error
    raise RuntimeError("quantizing into /dev/full did not fail")


def network_screens(window: MainWindow) -> None:
    from tests.fixtures.fake_hub import FakeHub
    from tests.fixtures.hub_models import gguf_repo, safetensors_repo

    hub = FakeHub().start()
    hub.add_repo(gguf_repo(downloads=500, likes=10))
    hub.add_repo(safetensors_repo(downloads=100, likes=50))
    os.environ["HF_ENDPOINT"] = hub.url  # read when each call is made (app/core/hub/connection.py)
    try:
        browser = window.model_browser
        window.show_page("Find models")
        browser.search_edit.setText("tiny")
        browser.start_search()
        wait_until(lambda: browser.results.count() > 0)
        browser.results.setCurrentRow(0)
        wait_until(lambda: browser.inspector.inspection is not None)
        settle(0.5)
        dialog = window.privacy.show_connections()
        dialog.resize(760, 260)
        shoot(dialog, "network")
        dialog.close()
    finally:
        hub.stop()


def main() -> int:
    OUT.mkdir(parents=True, exist_ok=True)
    if ARGS.theme == "dark":
        set_setting("theme", "dark")
    create_application()
    window = MainWindow()
    width, height = (int(n) for n in ARGS.size.split("x"))
    window.resize(width, height)
    window.show()
    wait_until(lambda: bool(window.get_started.found), timeout=60)
    settle(0.5)
    if wanted("get-started"):
        shoot(window, "get-started")
    window.show_page("Chat")
    if wanted("chat-empty"):
        shoot(window, "chat-empty")

    finished: list[object] = []
    window.chat.reply_finished.connect(finished.append)
    # One llama.cpp thread for the pictures: on a shared 2-core machine, OpenMP's barriers make two threads
    # crawl whenever another process takes a core (0.8-10 tokens/s seen), which is no picture of the app.
    set_setting("threads", 1)
    window.library.select_path(starter_model_path())
    window.load_default_model()  # through the Chat page's load options, as the Load button does
    wait_until(lambda: window.bridge.loaded is not None and not window.bridge.busy)
    set_setting("threads", 0)
    window.library.refresh()
    if wanted("chat-ready"):
        shoot(window, "chat-ready")
    window.chat.sampling = SamplingSettings(temperature=0.7, seed=11)
    ask(window, finished, "What is the capital of France? Answer in one word.")
    window.chat.sampling = SamplingSettings(temperature=0.0)
    ask(window, finished, "Write a Python function that adds two numbers, with a short explanation.")
    window.chat.conversations.refresh()
    window.update_readouts()
    window.chat.input.setPlainText("What is the capital of Germany?")
    if wanted("chat"):
        shoot(window, "chat")
    if wanted("chat-panel-open"):  # at 200 % the narrow chat starts with its side panel folded: opened here
        window.chat.settings_button.setChecked(True)
        shoot(window, "chat-panel-open")
        window.chat.settings_button.setChecked(False)
    if wanted("chat-memory"):
        for _ in range(4):  # a few readouts for the timeline
            window._readout_timer.timeout.emit()
            wait_until(lambda: not window._readout_in_flight)
            time.sleep(0.3)
        window.chat.side.setCurrentIndex(1)
        shoot(window, "chat-memory")
        window.chat.side.setCurrentIndex(0)

    for page, name in (("Your computer", "your-computer"), ("Which quant?", "which-quant"),
                       ("Settings", "settings"), ("How it works", "how-it-works")):
        if wanted(name):
            window.show_page(page)
            settle(0.5)
            if name == "which-quant":  # the starter is read when the page is first shown
                wait_until(lambda: window.quant_table.recommendation is not None)
                settle(0.3)
            shoot(window, name)

    if wanted("error-disk-full"):
        box = ErrorDialog(window, disk_full_error(), "Quantize SmolLM2-135M-Instruct to Q4_0")
        box.show()
        box.details_button.click()
        box.resize(640, 360)
        shoot(box, "error-disk-full")
        box.close()

    if wanted("network"):
        network_screens(window)

    if wanted("engine-crashed"):
        window.show_page("Chat")
        window.bridge.client.kill()
        window.chat.send("What is the capital of Germany? Answer in one word.")
        wait_until(lambda: window.chat.banner.isVisible())
        window.update_readouts()
        shoot(window, "engine-crashed")

    if wanted("log"):
        window.show_page("Log")
        shoot(window, "log")
    window.close()

    if not ARGS.one_set:
        me = [sys.executable, __file__, "--one-set"]
        subprocess.run([*me, "--scale", "2", "--size", "960x540", "--suffix=-200",
                        "--screens", "get-started,chat,chat-panel-open,which-quant,settings"], check=True)
        subprocess.run([*me, "--theme", "dark", "--suffix=-dark", "--screens", "get-started,chat"], check=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
