"""The chat as a person uses it, item by item: focus and load progress, conversations (titles, rename, search,
delete, export), system prompt, Regenerate, Edit and resend, Copy, safe Markdown, presets, context length and
dropped turns, reply figures, where the model runs, memory, keyboard, and a small screen at 200 %."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from PySide6.QtCore import Qt, QUrl
from PySide6.QtGui import QGuiApplication, QTextImageFormat
from PySide6.QtWidgets import QApplication, QScrollArea
from pytestqt.qtbot import QtBot

from app.core.chat.conversation import Conversation
from app.core.chat.store import ReplyFigures
from app.core.engine.protocol import GREEDY, SamplingSettings
from app.ui.conversation_list_view import ID_ROLE
from app.ui.main_window import MainWindow

FRANCE = "What is the capital of France? Answer in one word."
GERMANY = "What is the capital of Germany? Answer in one word."


def ask(window: MainWindow, qtbot: QtBot, text: str) -> None:
    with qtbot.waitSignal(window.chat.reply_finished, timeout=60_000):
        assert window.chat.send(text)


def test_the_input_has_the_focus_once_the_starter_is_ready(window: MainWindow, qtbot: QtBot) -> None:
    chat = window.chat
    window.activateWindow()
    qtbot.waitUntil(lambda: window.isActiveWindow(), timeout=5_000)
    assert "Load a model on the left" in chat.transcript.empty_label.text()
    assert chat.context_bar.text() == "context: no model"  # not "0 / 1"
    window.library.list.setFocus()  # where the focus was left after choosing a model
    fractions: list[float] = []
    window.bridge.load_progress.connect(fractions.append)
    with qtbot.waitSignal(window.bridge.model_loaded, timeout=60_000):
        window.load_default_model()
        assert "Loading SmolLM2-135M-Instruct.Q4_1.gguf" in chat.transcript.empty_label.text()
    assert fractions and fractions[-1] == pytest.approx(1.0)
    assert not window.library.options.progress.isVisible()
    assert QApplication.focusWidget() is chat.input
    empty = chat.transcript.empty_label.text()
    assert "is ready. Type a message below." in empty and "Load a model" not in empty
    assert "the model's own template" in chat.model_line.text()
    assert chat.context_bar.maximum() == 4096  # the context length chosen below the model list
    assert chat.context_bar.text() == "context 0 / 4096"


def test_conversations_listed_renamed_searched_exported_and_deleted(
        loaded_window: MainWindow, qtbot: QtBot, tmp_path: Path) -> None:
    chat, listing = loaded_window.chat, loaded_window.chat.conversations
    chat.sampling = GREEDY
    ask(loaded_window, qtbot, FRANCE)
    assert listing.titles() == [FRANCE]
    chat.new_conversation()
    assert chat.transcript.views == [] and chat.conversation.id is None
    ask(loaded_window, qtbot, GERMANY)
    assert listing.titles() == [GERMANY, FRANCE]  # newest first
    listing.select(chat.conversation.id or 0)
    assert listing.rename_selected("Germany")
    assert listing.titles()[0] == "Germany" and chat.conversation.title == "Germany"
    listing.search.setText("paris")  # in the messages, not only the titles
    qtbot.waitUntil(lambda: listing.titles() == [FRANCE], timeout=5_000)
    listing.select(listing.list.item(0).data(ID_ROLE))
    out = listing.export_selected(tmp_path / "france.md")
    assert out is not None and "## Model\n\nThe capital of France is Paris." in out.read_text(encoding="utf-8")
    listing.search.clear()
    qtbot.waitUntil(lambda: len(listing.titles()) == 2, timeout=5_000)
    # open the first conversation by clicking it, then delete it: the chat starts afresh
    france = listing.list.findItems(FRANCE, Qt.MatchFlag.MatchExactly)[0]
    listing.list.setCurrentItem(france)
    listing._on_list_item_clicked(france)
    assert chat.conversation.title == FRANCE and "Paris" in chat.transcript_text()
    assert listing.delete_selected(confirmed=True)
    assert listing.titles() == ["Germany"] and chat.conversation.id is None and chat.transcript.views == []


def test_system_prompt_regenerate_edit_and_copy(loaded_window: MainWindow, qtbot: QtBot) -> None:
    chat = loaded_window.chat
    chat.sampling = GREEDY
    chat.settings.system_prompt.setPlainText("You answer in one word.")
    assert chat.messages_for_model()[0].content == "You answer in one word."
    ask(loaded_window, qtbot, FRANCE)
    assert Conversation.load(chat.history, chat.conversation.id or 0).system_prompt == "You answer in one word."
    reply_view = chat.transcript.views[-1]
    assert reply_view.regenerate_button.isVisible() and not chat.transcript.views[0].regenerate_button.isVisible()
    with qtbot.waitSignal(chat.reply_finished, timeout=60_000):
        reply_view.regenerate_button.click()
    assert [m.role for m in chat.conversation.messages] == ["user", "assistant"]  # replaced, not added
    assert "Paris" in chat.last_reply
    # Edit and resend the question: what came after it is replaced
    question = chat.conversation.messages[0]
    with qtbot.waitSignal(chat.reply_finished, timeout=60_000):
        assert chat.edit_and_resend(question, GERMANY)
    assert chat.conversation.messages[0].content == GERMANY and "Berlin" in chat.last_reply
    assert len(chat.conversation.messages) == 2
    chat.transcript.views[-1].copy_button.click()
    assert QGuiApplication.clipboard().text() == chat.last_reply


def test_markdown_is_drawn_safely_and_code_can_be_copied(window: MainWindow, monkeypatch: pytest.MonkeyPatch) -> None:
    chat = window.chat
    c = Conversation(chat.history)
    c.add_user_message("Show me")
    c.start_reply()
    c.append_to_reply("**Bold** and a list:\n\n- one\n- two\n\n```python\nprint('hi')\n```\n\n"
                      "<script>alert(1)</script> <img src=\"https://example.com/x.png\"> "
                      "![remote](https://example.com/y.png) [docs](https://example.com/docs)")
    c.finish_reply(True, ReplyFigures("end_of_text", 40, 80.0, 0.3))
    assert chat.open_conversation(c.id or 0)
    view = chat.transcript.views[-1]
    text = view.plain_text()
    assert "Bold" in text and "**" not in text and "print('hi')" in text
    assert "<script>alert(1)</script>" in text  # raw HTML shown as the characters the model wrote
    # nothing in the document is an image: nothing was or will be fetched
    block = view.text.document().begin()
    while block.isValid():
        it = block.begin()
        while not it.atEnd():
            assert not it.fragment().charFormat().isImageFormat(), QTextImageFormat
            it += 1
        block = block.next()
    opened: list[QUrl] = []
    monkeypatch.setattr("app.ui.message_view.QDesktopServices.openUrl", lambda url: opened.append(url))
    assert opened == []  # drawing it opened nothing
    view.text.anchorClicked.emit(QUrl("quantdesk-copy:0"))
    assert QGuiApplication.clipboard().text() == "print('hi')"
    view.text.anchorClicked.emit(QUrl("https://example.com/docs"))
    assert [u.toString() for u in opened] == ["https://example.com/docs"]  # only on a click
    assert "0.30 s to first token" in view.figures.text() and "80.0 tokens/s" in view.figures.text()


def test_presets_and_their_details_are_saved(window: MainWindow) -> None:
    from app.core.chat.preferences import load_preferences

    settings = window.chat.settings
    settings.select_preset("precise")
    assert window.chat.sampling.temperature == 0.2 and load_preferences().sampling.temperature == 0.2
    assert settings.temperature.value() == pytest.approx(0.2)
    settings.top_k.setValue(7)
    assert settings.preset.currentText() == "Custom" and load_preferences().sampling.top_k == 7
    settings.random_seed.setChecked(False)
    settings.seed.setValue(1234)
    settings.select_preset("creative")
    assert window.chat.sampling.temperature == 1.0 and window.chat.sampling.seed == 1234  # a fixed seed stays
    settings.max_tokens.setValue(300)
    assert load_preferences().max_tokens == 300


def test_a_short_context_drops_the_oldest_turns_and_says_so(window: MainWindow, qtbot: QtBot) -> None:
    window.library.options.context.setValue(256)
    with qtbot.waitSignal(window.bridge.model_loaded, timeout=60_000):
        assert window.library.load_selected()
    chat = window.chat
    assert chat.context_bar.maximum() == 256
    chat.sampling = GREEDY
    chat.prefs = dataclasses.replace(chat.prefs, sampling=GREEDY, max_tokens=24)
    for i in range(4):
        ask(window, qtbot, f"Remember note {i}: " + " ".join(["apple"] * 35))
    ask(window, qtbot, FRANCE)
    assert "left out" in chat.status.text()
    assert chat.transcript.context_line.isVisible() and "no longer sees" in chat.transcript.context_line.text()
    assert chat.context_bar.value() <= 256
    assert chat.conversation.messages[-1].figures.dropped_messages >= 2


def test_a_context_for_the_next_load_is_told_apart_from_the_loaded_one(window: MainWindow, qtbot: QtBot) -> None:
    options = window.library.options
    options.context.setValue(1024)
    with qtbot.waitSignal(window.bridge.model_loaded, timeout=60_000):
        assert window.library.load_selected()
    with qtbot.waitSignal(options.plan_ready, timeout=30_000):
        options.context.setValue(2048)
    assert "It runs with 1,024 tokens of context now; Load it again for 2,048." in options.reason.text()
    with qtbot.waitSignal(options.plan_ready, timeout=30_000):
        options.context.setValue(1024)  # back to what runs: nothing to say
    assert "runs with" not in options.reason.text()


def test_where_it_runs_is_said_in_plain_words(window: MainWindow, qtbot: QtBot) -> None:
    options = window.library.options
    with qtbot.waitSignal(options.plan_ready, timeout=30_000) as planned:
        options.where.setCurrentIndex(options.where.findData("cpu"))
    assert "Runs on the processor, as you chose." in options.reason.text()
    assert planned.args[0].n_gpu_layers == 0 and "Needs about" in options.reason.text()
    with qtbot.waitSignal(window.bridge.load_planned, timeout=60_000), \
            qtbot.waitSignal(window.bridge.model_loaded, timeout=60_000):
        window.library.load_selected()
    assert "on the processor" in window.library.state.text()


def test_memory_panel_numbers_timeline_and_estimate(loaded_window: MainWindow, qtbot: QtBot,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    from tests.core.machine.test_hardware_gpus import H100, fake_pynvml

    memory = loaded_window.chat.memory
    pid = loaded_window.bridge.engine_pid
    gpu = dict(H100, procs={pid: 3 * 1024**3})  # NVML faked at its module boundary: this machine has no GPU
    monkeypatch.setitem(sys.modules, "pynvml", fake_pynvml([gpu]))
    for _ in range(2):
        with qtbot.waitSignal(loaded_window.readout_ready, timeout=10_000):
            loaded_window._readout_timer.timeout.emit()
    assert " in use" in memory.system.text()
    assert "MB" in memory.engine_ram.text()
    assert memory.engine_vram.text() == "3.0 GB"
    assert memory.gpu_total.text() == "5.0 GB of 80.0 GB in use"
    assert len(memory.timeline.rss) >= 2 and memory.timeline.rss[-1] > 0
    assert "RAM" in memory.estimate.text() and "weights" in memory.estimate.text()
    assert "the estimate said" in memory.comparison.text()


def test_keyboard_new_chat_stop_and_focus(loaded_window: MainWindow, qtbot: QtBot) -> None:
    from PySide6.QtGui import QKeySequence
    from PySide6.QtTest import QTest

    chat = loaded_window.chat
    loaded_window.activateWindow()
    qtbot.waitUntil(lambda: loaded_window.isActiveWindow(), timeout=5_000)
    chat.sampling = GREEDY
    ask(loaded_window, qtbot, FRANCE)
    loaded_window.library.list.setFocus()
    QTest.keySequence(loaded_window.library.list, QKeySequence("Ctrl+L"))
    assert QApplication.focusWidget() is chat.input
    counts: list[int] = []
    loaded_window.bridge.text_arrived.connect(lambda _t, n: counts.append(n))
    chat.prefs = dataclasses.replace(chat.prefs, sampling=SamplingSettings(temperature=0.8, seed=3), max_tokens=400)
    assert chat.send("Tell me a very long story about a dragon and a knight.")
    qtbot.waitUntil(lambda: len(counts) >= 3, timeout=30_000)
    with qtbot.waitSignal(chat.reply_finished, timeout=30_000) as finished:
        QTest.keyClick(chat.input, Qt.Key.Key_Escape)
    assert finished.args[0].stop_reason == "stopped"
    assert "Stopped here: stopped by you." in chat.transcript_text()
    QTest.keySequence(chat.input, QKeySequence("Ctrl+N"))
    assert chat.conversation.id is None and chat.transcript.views == []


def test_usable_at_200_percent_scaling(window: MainWindow) -> None:
    # At 200 % a 1920x1080 screen offers 960x540 logical pixels: the window must fit, with the chat usable.
    hint = window.minimumSizeHint()
    pages = {type(window.pages.widget(i)).__name__: window.pages.widget(i).minimumSizeHint().width()
             for i in range(window.pages.count())}
    assert hint.width() <= 960 and hint.height() <= 540, (hint, pages)  # the widest page sets the width
    window.resize(960, 540)
    QApplication.processEvents()
    chat = window.chat
    for widget in (chat.input, chat.send_button, chat.stop_button, chat.transcript, window.library.load_button):
        assert widget.isVisible()
        top_left = widget.mapTo(window, widget.rect().topLeft())
        bottom_right = widget.mapTo(window, widget.rect().bottomRight())
        assert window.rect().contains(top_left) and window.rect().contains(bottom_right), widget
        assert widget.width() >= widget.minimumSizeHint().width() - 1
    # the side panel can be put away to give the transcript the room
    chat.settings_button.setChecked(False)
    assert not chat.side.isVisible()
    # opened in that narrow window, its settings fit its width (labels above the fields): no sideways scrolling
    chat.settings_button.setChecked(True)
    QApplication.processEvents()
    area = chat.side.currentWidget()
    assert isinstance(area, QScrollArea)
    assert not area.horizontalScrollBar().isVisible()
    assert chat.settings.temperature.isVisibleTo(window)



def test_load_options_and_reply_settings_are_kept_together(window: MainWindow) -> None:
    from app.core.chat.preferences import load_preferences

    window.library.options.context.setValue(8192)
    window.library.options.set_placement("cpu")
    window.library.options.where.currentIndexChanged.emit(window.library.options.where.currentIndex())
    window.chat.settings.temperature.setValue(0.3)  # a later change of a reply setting keeps the load options
    saved = load_preferences()
    assert (saved.context_length, saved.placement, saved.sampling.temperature) == (8192, "cpu", 0.3)


def test_a_base_model_is_named_as_such_and_continues_text(window: MainWindow, qtbot: QtBot, tmp_path: Path) -> None:
    # the case: a GGUF without a chat template (a base model) must not get a chat it cannot follow
    from tests.fixtures.family_models import FAMILIES, make_family_model

    base = make_family_model(FAMILIES["base"], tmp_path / "base.gguf")
    with qtbot.waitSignal(window.bridge.model_loaded, timeout=60_000):
        assert window.bridge.load_model(base, n_ctx=256)
    chat = window.chat
    assert "base model" in chat.model_line.text() and "text mode" in chat.model_line.text()
    assert "continues text" in chat.transcript.empty_label.text()
    assert chat.input.placeholderText().startswith("Write the start of a text")
    chat.prefs = dataclasses.replace(chat.prefs, sampling=GREEDY, max_tokens=8)
    ask(window, qtbot, "Once upon a time")
    assert chat.conversation.messages[-1].figures.generated_tokens is not None
    assert "<start_of_turn>" not in chat.transcript_text() and "<|im_start|>" not in chat.transcript_text()


def test_replies_read_in_both_themes(window: MainWindow) -> None:
    # under the dark theme the text is light: code boxes, cards and notes must be dark too, or nothing reads
    from app.ui.markdown_html import DARK_CODE, LIGHT_CODE
    from app.ui.theme import apply_theme

    chat = window.chat
    c = Conversation(chat.history)
    c.add_user_message("Code please")
    c.start_reply()
    c.append_to_reply("Use `x`:\n\n```python\nx = 1\n```\n")
    c.finish_reply(True, ReplyFigures("end_of_text", 9, 50.0, 0.2))
    app = QApplication.instance()
    assert isinstance(app, QApplication)
    try:
        for theme, code in (("light", LIGHT_CODE), ("dark", DARK_CODE)):
            apply_theme(app, theme)
            assert chat.open_conversation(c.id or 0)
            view = chat.transcript.views[-1]
            QApplication.processEvents()  # shown and styled, as a streaming reply is when it is drawn again
            view.refresh(streaming=False)
            assert code.background in view.text.toHtml(), theme
            card = view.grab().toImage().pixelColor(view.width() // 2, 3)  # inside the card's top border
            text_light = app.palette().text().color().lightness() > 128
            assert (card.lightness() < 128) == text_light, (theme, card.name())
    finally:
        apply_theme(app, "light")
