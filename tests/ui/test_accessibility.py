"""Every screen from the keyboard, with names a screen reader reads out.

Each page is shown in turn: every control on it (shown, enabled, taking Tab focus) has an accessible name,
and pressing Tab from the page list reaches every one of them and comes back: no control is out of reach
and none keeps the focus (a text area or a table that swallows Tab).
"""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QWidget
from pytestqt.qtbot import QtBot

from app.ui.accessibility import accessible_name, keyboard_controls, unnamed_controls
from app.ui.main_window import MainWindow

PAGES = ["Get started", "Chat", "Your computer", "Which quant?", "Find models", "Convert", "Jobs", "Settings",
         "How it works", "Log"]


def test_the_pages_are_the_ones_checked(window: MainWindow) -> None:
    assert [window.nav.item(i).text() for i in range(window.nav.count())] == PAGES


@pytest.mark.parametrize("title", PAGES)
def test_every_control_has_a_name_and_tab_reaches_it(window: MainWindow, qtbot: QtBot, title: str) -> None:
    window.show_page(title)
    window.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is window, timeout=5_000)
    page = window.pages.currentWidget()
    qtbot.wait(200 if title != "Get started" else 1500)  # the guide fills in its list
    assert [type(w).__name__ for w in unnamed_controls(page, window)] == []
    controls = keyboard_controls(page, window)
    assert controls, f"{title}: nothing to reach by keyboard"
    window.nav.setFocus()
    seen: list[QWidget] = []
    for _ in range(3 * len(controls) + 40):
        focused = QApplication.focusWidget()
        assert focused is not None
        qtbot.keyClick(focused, Qt.Key.Key_Tab)
        now = QApplication.focusWidget()
        assert now is not focused, f"{title}: {type(focused).__name__} {accessible_name(focused)!r} keeps Tab"
        if now is window.nav:
            break
        seen.append(now)
    missed = [f"{type(w).__name__} {accessible_name(w)!r}" for w in controls if w not in seen]
    assert missed == [], f"{title}: Tab never reaches {missed}"
