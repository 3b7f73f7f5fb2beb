from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

from app.core.chat.store import ConversationStore
from app.core.jobs.queue import JobQueue
from app.core.models.library import starter_model_path
from app.ui.application import create_application
from app.ui.engine_bridge import EngineBridge
from app.ui.job_controller import JobController
from app.ui.main_window import MainWindow


@pytest.fixture(scope="session")
def qapp_cls():  # type: ignore[no-untyped-def]
    from PySide6.QtWidgets import QApplication

    return QApplication


@pytest.fixture
def job_controller(tmp_path: Path) -> Iterator[JobController]:
    """The window's one queue of long work, on a file of this test's own; shut down at the end."""
    controller = JobController(JobQueue(tmp_path / "jobs.json"))
    yield controller
    controller.shutdown()


@pytest.fixture
def window(qtbot: QtBot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[MainWindow]:
    # a settings file of the test's own: the chat saves what a test changes (presets, context length)
    monkeypatch.setenv("QUANTDESK_CONFIG_DIR", str(tmp_path / "config"))
    create_application()
    history = ConversationStore(tmp_path / "conversations.sqlite3")
    win = MainWindow(bridge=EngineBridge(), history=history, jobs=JobController(JobQueue(tmp_path / "jobs.json")))
    win.show_page("Chat")  # a first start opens on the guide (tests/ui/test_first_run.py); these tests chat
    qtbot.addWidget(win)
    win.show()
    yield win
    win.close()
    history.close()


@pytest.fixture
def loaded_window(window: MainWindow, qtbot: QtBot) -> MainWindow:
    with qtbot.waitSignal(window.bridge.model_loaded, timeout=60_000):
        window.bridge.load_model(starter_model_path(), n_ctx=2048)
    return window
