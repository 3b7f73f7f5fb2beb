"""The chat panel driven like a person would: type, Enter, watch the reply stream, Stop, crash, restart."""

from __future__ import annotations

import sqlite3

from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from app.core.engine.protocol import GREEDY, SamplingSettings
from app.ui.main_window import MainWindow


def test_library_lists_the_starter_model(window: MainWindow) -> None:
    entries = window.library.entries()
    assert entries and "SmolLM2 135M Instruct (starter)" in entries[0]
    assert [window.nav.item(i).text() for i in range(2)] == ["Get started", "Chat"]  # the guide, then the chat


def test_enter_sends_and_the_reply_streams_in(loaded_window: MainWindow, qtbot: QtBot) -> None:
    chat = loaded_window.chat
    chat.sampling = GREEDY
    deltas: list[str] = []
    loaded_window.bridge.text_arrived.connect(lambda text, _n: deltas.append(text))
    qtbot.keyClicks(chat.input, "What is the capital of France? Answer in one word.")
    with qtbot.waitSignal(chat.reply_finished, timeout=60_000) as finished:
        qtbot.keyClick(chat.input, Qt.Key.Key_Return)
        assert chat.input.toPlainText() == ""  # sent, input cleared
    assert len(deltas) >= 3  # it arrived in pieces, not at once
    assert "Paris" in chat.last_reply
    assert "Paris" in chat.transcript_text()
    assert "You" in chat.transcript_text() and "Model" in chat.transcript_text()
    assert finished.args[0].stop_reason == "end_of_text"
    assert "tokens/s" in loaded_window.speed_label.text()
    assert "of 2048 tokens used" in chat.status.text()
    # written to SQLite as it streamed, and marked complete at the end
    rows = sqlite3.connect(chat.history.path).execute(
        "SELECT role, content, complete FROM messages ORDER BY id").fetchall()
    assert rows[0][0] == "user" and rows[1][0] == "assistant" and "Paris" in rows[1][1] and rows[1][2] == 1


def test_shift_enter_is_a_new_line(loaded_window: MainWindow, qtbot: QtBot) -> None:
    chat = loaded_window.chat
    qtbot.keyClicks(chat.input, "line one")
    qtbot.keyClick(chat.input, Qt.Key.Key_Return, Qt.KeyboardModifier.ShiftModifier)
    qtbot.keyClicks(chat.input, "line two")
    assert chat.input.toPlainText() == "line one\nline two"
    assert not chat.is_generating


def test_stop_mid_stream(loaded_window: MainWindow, qtbot: QtBot) -> None:
    chat = loaded_window.chat
    chat.sampling = SamplingSettings(temperature=0.8, seed=3)
    counts: list[int] = []
    loaded_window.bridge.text_arrived.connect(lambda _t, n: counts.append(n))
    assert chat.send("Tell me a very long story about a dragon and a knight.")
    assert chat.stop_button.isEnabled()
    qtbot.waitUntil(lambda: len(counts) >= 3, timeout=30_000)
    with qtbot.waitSignal(chat.reply_finished, timeout=30_000) as finished:
        qtbot.mouseClick(chat.stop_button, Qt.MouseButton.LeftButton)
    done = finished.args[0]
    assert done.stop_reason == "stopped"
    assert done.stats.generated_tokens < 200
    assert chat.last_reply  # what streamed before Stop stays on screen
    assert not chat.stop_button.isEnabled() and chat.send_button.isEnabled()


def test_engine_crash_shows_banner_keeps_conversation_and_restarts(loaded_window: MainWindow, qtbot: QtBot) -> None:
    chat = loaded_window.chat
    chat.sampling = GREEDY
    with qtbot.waitSignal(chat.reply_finished, timeout=60_000):
        chat.send("What is the capital of France? Answer in one word.")
    before = chat.transcript_text()
    loaded_window.bridge.client.kill()
    with qtbot.waitSignal(loaded_window.bridge.engine_crashed, timeout=30_000):
        chat.send("And of Germany?")
    assert chat.banner.isVisible()
    assert "restart" in chat.banner.label.text().lower()
    assert chat.status.text() == "The model engine stopped." and chat.context_bar.text() == "context: no model"
    assert "Paris" in chat.transcript_text() and before.strip() in chat.transcript_text()
    with qtbot.waitSignal(loaded_window.bridge.model_loaded, timeout=60_000):
        qtbot.mouseClick(chat.banner.restart_button, Qt.MouseButton.LeftButton)
    assert not chat.banner.isVisible()
    with qtbot.waitSignal(chat.reply_finished, timeout=60_000):
        chat.send("What is the capital of Germany? Answer in one word.")
    assert "Berlin" in chat.last_reply


def test_memory_readouts_show_ram_and_engine(loaded_window: MainWindow) -> None:
    loaded_window.update_readouts()
    assert "RAM in use:" in loaded_window.ram_label.text()
    assert "MB" in loaded_window.engine_label.text()  # the engine process's resident memory


def test_log_page_shows_engine_events(loaded_window: MainWindow) -> None:
    titles = [loaded_window.nav.item(i).text() for i in range(loaded_window.nav.count())]
    assert titles[1] == "Chat" and titles[-1] == "Log"
    loaded_window.show_page("Log")
    log_view = loaded_window.pages.currentWidget()
    assert "loaded SmolLM2-135M-Instruct.Q4_1.gguf" in log_view.text.toPlainText()


def test_unload_frees_the_engine_memory(loaded_window: MainWindow, qtbot: QtBot) -> None:
    from app.core.machine.hardware import read_memory_snapshot

    library = loaded_window.library
    loaded_rss = read_memory_snapshot(loaded_window.bridge.engine_pid).process_rss_bytes
    assert loaded_rss is not None
    with qtbot.waitSignal(loaded_window.bridge.model_unloaded, timeout=30_000):
        qtbot.mouseClick(library.unload_button, Qt.MouseButton.LeftButton)
    assert library.state.text() == "No model loaded."
    assert not loaded_window.chat.send_button.isEnabled()
    unloaded_rss = read_memory_snapshot(loaded_window.bridge.engine_pid).process_rss_bytes
    assert unloaded_rss is not None and unloaded_rss < loaded_rss - 50 * 1024 * 1024


def test_readouts_are_sampled_off_the_gui_thread(loaded_window: MainWindow, qtbot: QtBot) -> None:
    loaded_window.engine_label.setText("")
    with qtbot.waitSignal(loaded_window.readout_ready, timeout=10_000) as sampled:
        loaded_window._readout_timer.timeout.emit()
    assert sampled.args[0].process_rss_bytes > 0
    assert "MB" in loaded_window.engine_label.text()
