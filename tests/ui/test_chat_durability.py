"""Killing the app mid-reply loses nothing that was on screen, and the reopened conversation shows where the
reply stopped. The app runs in a process of its own (tests/ui/chat_app_for_kill.py) and is killed with
SIGKILL, as the OS or a power cut would: no clean-up code runs."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
from pytestqt.qtbot import QtBot

from app.core.chat.conversation import Conversation
from app.core.chat.store import ConversationStore
from app.core.jobs.queue import JobQueue
from app.ui.engine_bridge import EngineBridge
from app.ui.job_controller import JobController
from app.ui.main_window import MainWindow

APP = Path(__file__).with_name("chat_app_for_kill.py")


def test_killed_mid_reply_the_reopened_chat_shows_all_that_was_drawn(tmp_path: Path, qtbot: QtBot) -> None:
    data = tmp_path / "data"
    data.mkdir()
    child = subprocess.Popen([sys.executable, str(APP), str(data)], stdout=subprocess.PIPE,
                             stderr=subprocess.DEVNULL, text=True)
    drawn: list[str] = []
    engine_pids: list[int] = []
    try:
        deadline = time.monotonic() + 120
        assert child.stdout is not None
        while time.monotonic() < deadline:
            line = child.stdout.readline()
            if not line:
                break
            event = json.loads(line)
            if "drawn" in event:
                drawn.append(event["drawn"])
                if len(drawn) == 6:  # a few redraws into the reply
                    engine_pids = [p.pid for p in psutil.Process(child.pid).children(recursive=True)]
                    child.send_signal(signal.SIGKILL)
                    break
    finally:
        if child.poll() is None:
            child.kill()
        child.wait(10)
    assert child.returncode == -signal.SIGKILL
    assert len(drawn) == 6 and drawn[-1]
    # the engine, a child of the killed app, goes too (it watches its parent)
    deadline = time.monotonic() + 10
    while any(psutil.pid_exists(p) and psutil.Process(p).status() != psutil.STATUS_ZOMBIE for p in engine_pids):
        assert time.monotonic() < deadline, "the engine outlived the app"
        time.sleep(0.1)

    # on disk: everything that was drawn (the last redraw's text, at least), marked as never finished
    store = ConversationStore(data / "conversations.sqlite3")
    conversation = Conversation.latest(store)
    reply = conversation.messages[-1]
    assert reply.role == "assistant" and reply.content.startswith(drawn[-1])
    assert reply.interrupted

    # reopened in a window, it shows the text and where it stopped
    window = MainWindow(bridge=EngineBridge(), history=store, jobs=JobController(JobQueue(tmp_path / "jobs.json")))
    qtbot.addWidget(window)
    window.show_page("Chat")  # a first start opens on the guide (no settings here say it was done)
    window.show()
    try:
        shown = window.chat.transcript_text()
        view = window.chat.transcript.views[-1]
        assert view.note.isVisible()
        assert "Interrupted here: QuantDesk closed while this reply was being written." in shown
        assert window.chat.conversations.titles()[0].startswith("Tell me a very long story")
        first_words = drawn[-1].split()[:3]
        assert all(word.strip("*_#`") in view.plain_text() for word in first_words)
    finally:
        window.close()
        store.close()
