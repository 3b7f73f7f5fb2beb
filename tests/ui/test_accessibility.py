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

from app.core.chat.conversation import Conversation
from app.core.chat.store import ReplyFigures
from app.ui.accessibility import accessible_name, keyboard_controls, unnamed_controls
from app.ui.main_window import MainWindow

PAGES = ["Get started", "Chat", "Your computer", "Which quant?", "Compare", "Find models", "Convert", "Jobs",
         "Settings", "How it works", "Log"]


def test_the_pages_are_the_ones_checked(window: MainWindow) -> None:
    assert [window.nav.item(i).text() for i in range(window.nav.count())] == PAGES


@pytest.mark.parametrize("title", [*PAGES, "Compare/Numbers"])
def test_every_control_has_a_name_and_tab_reaches_it(window: MainWindow, qtbot: QtBot, title: str) -> None:
    title, _, tab = title.partition("/")  # a page with tabs: the first is checked with the page, others by name
    window.show_page(title)
    if tab:
        tabs = window.compare.tabs
        tabs.setCurrentIndex(next(i for i in range(tabs.count()) if tabs.tabText(i) == tab))
    window.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is window, timeout=5_000)
    qtbot.wait(200 if title != "Get started" else 1500)  # the guide fills in its list
    if title == "Your computer":  # "Check again" is off while an engine process describes the llama.cpp build
        qtbot.waitUntil(window.computer.refresh_button.isEnabled, timeout=60_000)
    check_page(window, qtbot, title)


def test_a_chat_with_messages_and_its_side_panel_from_the_keyboard(window: MainWindow, qtbot: QtBot) -> None:
    """The chat as it is once used: message cards (Copy, Edit, Regenerate, a code block), the conversations
    list and the settings beside the transcript, all named and reachable, none keeping Tab."""
    chat = window.chat
    c = Conversation(chat.history)
    c.add_user_message("Show me some code")
    c.start_reply()
    c.append_to_reply("Here:\n\n```python\nprint('hi')\n```\n\nand [a link](https://example.com).")
    c.finish_reply(True, ReplyFigures("end_of_text", 12, 50.0, 0.2))
    assert chat.open_conversation(c.id or 0)
    window.resize(1500, 900)  # wide enough that the settings panel stays open beside the transcript
    window.show_page("Chat")
    window.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is window, timeout=5_000)
    qtbot.waitUntil(lambda: chat.side.isVisible() and len(chat.transcript.views) == 2
                    and all(v.isVisible() for v in chat.transcript.views), timeout=5_000)
    chat.settings.random_seed.setChecked(False)  # the seed box is enabled, so it must be reachable too
    wanted = (chat.transcript.views[0].copy_button, chat.transcript.views[0].edit_button,
              chat.transcript.views[1].regenerate_button, chat.settings.system_prompt, chat.settings.seed,
              chat.conversations.search)
    reached = check_page(window, qtbot, "Chat")
    for widget in wanted:
        assert widget in reached, accessible_name(widget)


def check_page(window: MainWindow, qtbot: QtBot, title: str) -> list[QWidget]:
    """Every control on the page shown has a name, and Tab from the page list reaches each and comes back."""
    page = window.pages.currentWidget()
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
    return seen
