"""Privacy you can see (the Offline switch in the frame, the network indicator), Settings, dropping a GGUF file."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from PySide6.QtCore import QMimeData, QPoint, Qt, QUrl
from PySide6.QtGui import QDropEvent, QPalette
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from app.core.hub import network_log
from app.core.models.library import list_models
from app.core.offline import is_offline, set_offline
from app.core.paths import models_dir
from app.core.settings import get_setting, set_setting
from app.ui.application import create_application
from app.ui.error_dialog import ErrorDialog
from app.ui.main_window import MainWindow
from tests.fixtures.fake_hub import FakeHub
from tests.fixtures.hub_fixtures import *  # noqa: F403 (fixtures)
from tests.fixtures.hub_models import tiny_gguf_bytes


@pytest.fixture(autouse=True)
def empty_network_log() -> None:
    network_log.clear()


def test_a_window_opens_without_touching_the_network(qtbot: QtBot, monkeypatch: pytest.MonkeyPatch,
                                                     tmp_path: Path) -> None:
    """No telemetry: building every page and idling makes no connection, at the socket level."""
    attempts: list[object] = []
    real_connect = socket.socket.connect

    def connect(self: socket.socket, address: object) -> None:
        if self.family in (socket.AF_INET, socket.AF_INET6):
            attempts.append(address)
        return real_connect(self, address)

    monkeypatch.setattr(socket.socket, "connect", connect)
    create_application()
    window = MainWindow()
    qtbot.addWidget(window)
    window.show()
    for i in range(window.nav.count()):  # every page on screen once
        window.nav.setCurrentRow(i)
        qtbot.wait(100)
    qtbot.wait(1000)
    assert attempts == [] and network_log.connections() == []
    assert window.privacy.network_button.text() == "No network connections"
    window.close()


def test_frame_switch_and_page_switch_are_one_setting(fake_hub: FakeHub, window: MainWindow) -> None:
    frame, page = window.privacy.offline_switch, window.model_browser.offline_switch
    try:
        frame.setChecked(True)
        assert page.isChecked() and is_offline() and not window.model_browser.offline_banner.isHidden()
        page.setChecked(False)
        assert not frame.isChecked() and not is_offline()
    finally:
        set_offline(False)


def test_the_indicator_lists_each_host_and_why(fake_hub: FakeHub, window: MainWindow, qtbot: QtBot) -> None:
    browser = window.model_browser
    browser.search_edit.setText("tiny")
    browser.start_search()
    qtbot.waitUntil(lambda: browser.results.count() > 0, timeout=10_000)
    qtbot.waitUntil(lambda: window.privacy.network_button.text().startswith("Network: 1 host"), timeout=5_000)
    dialog = window.privacy.show_connections()
    rows = [[dialog.table.item(r, c).text() for c in range(3)] for r in range(dialog.table.rowCount())]
    host = fake_hub.url.split("//")[1].split(":")[0]
    assert [host, "search for models"] == rows[0][:2] and int(rows[0][2]) >= 1
    dialog.close()


def test_settings_are_saved_and_the_theme_applies(window: MainWindow, tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QUANTDESK_CONFIG_DIR", str(tmp_path / "settings"))
    page = window.settings_page
    page.load()
    page.threads.setValue(3)
    page.offline_default.setChecked(True)
    page.models_edit.setText(str(tmp_path / "my models"))
    page.models_edit.editingFinished.emit()
    page.theme.setCurrentIndex(page.theme.findData("dark"))
    try:
        assert get_setting("threads") == 3 and get_setting("offline_by_default") is True
        assert models_dir() == tmp_path / "my models"
        assert QApplication.palette().color(QPalette.ColorRole.Window).lightness() < 80
    finally:
        page.theme.setCurrentIndex(page.theme.findData("light"))
    assert QApplication.palette().color(QPalette.ColorRole.Window).lightness() > 200
    assert get_setting("theme") == "light"


def test_offline_by_default_opens_offline(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from app.ui import application

    monkeypatch.setenv("QUANTDESK_CONFIG_DIR", str(tmp_path / "settings"))
    set_setting("offline_by_default", True)
    monkeypatch.setattr(application, "MainWindow", lambda: _NoWindow())
    monkeypatch.setattr(application, "create_application", lambda: _NoApp())
    try:
        application.run_app()
        assert is_offline()
    finally:
        set_offline(False)


class _NoWindow:
    bridge = None

    def show(self) -> None: ...

    def load_default_model(self) -> None: ...


class _NoApp:
    def exec(self) -> int:
        return 0


def drop(window: MainWindow, *paths: Path) -> None:
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])
    event = QDropEvent(QPoint(20, 20), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                       Qt.KeyboardModifier.NoModifier)
    window.dropEvent(event)


def test_dropping_a_gguf_adds_it_in_place(window: MainWindow, tmp_path: Path, qtbot: QtBot,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QUANTDESK_CONFIG_DIR", str(tmp_path / "settings"))
    model = tmp_path / "Downloads" / "dropped-Q4_0.gguf"
    model.parent.mkdir()
    model.write_bytes(tiny_gguf_bytes())
    drop(window, model)
    assert window.library.selected_path() == model and window.nav.currentItem().text() == "Chat"
    assert any("dropped-Q4_0" in e and "Added by you" in e for e in window.library.entries())
    assert [e.path for e in list_models() if e.source == "Added by you"] == [model]  # remembered, not copied
    notes = tmp_path / "notes.txt"
    notes.write_text("not a model")
    drop(window, notes)
    qtbot.waitUntil(lambda: bool(window.findChildren(ErrorDialog)), timeout=5_000)
    [box] = [b for b in window.findChildren(ErrorDialog) if b.isVisible()]
    assert "not a GGUF model file" in box.text()
    box.close()


def test_f1_opens_the_help_page(window: MainWindow, qtbot: QtBot) -> None:
    window.activateWindow()
    qtbot.keyClick(window, Qt.Key.Key_F1)
    assert window.nav.currentItem().text() == "How it works"
    text = window.pages.currentWidget().browser.toPlainText()
    for words in ("memory", "post-training quantization", "Quantization-aware training", "Why GGUF"):
        assert words.lower() in text.lower()
