"""Which quant? shows the speed a file reached here once it has run, instead of the estimate."""

from __future__ import annotations

from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from app.core.advice.measured_speed import measured_speed, record_reply, store_path
from app.core.engine.protocol import SamplingSettings
from app.core.models.facts import read_gguf_facts
from app.core.models.library import starter_model_path
from app.ui.main_window import MainWindow
from app.ui.quant_table_view import QuantTableView
from tests.core.advice.test_recommend import machine

SPEED_COLUMN = 4


def test_the_file_row_shows_its_measured_speed(qtbot: QtBot) -> None:
    store_path().unlink(missing_ok=True)
    view = QuantTableView(read_hardware_now=False)
    qtbot.addWidget(view)
    view.set_hardware(machine(ram_free=16))
    view.set_facts(read_gguf_facts(starter_model_path()))
    file_row = view.table.rowCount() - 1
    assert "(this file)" in view.table.item(file_row, 0).text()
    assert view.table.item(file_row, SPEED_COLUMN).text().startswith("~")  # an estimate: never ran here
    assert record_reply(starter_model_path(), 0, 87.4, 200)  # what the chat records after a reply
    view.update_table()
    assert view.table.item(file_row, SPEED_COLUMN).text() == "87 tokens/s measured"
    assert view.table.item(0, SPEED_COLUMN).text().startswith("~")  # other levels stay estimates
    store_path().unlink()


def test_a_chat_reply_records_the_speed(loaded_window: MainWindow, qtbot: QtBot) -> None:
    store_path().unlink(missing_ok=True)
    starter = starter_model_path()
    chat = loaded_window.chat
    chat.sampling = SamplingSettings(temperature=0.8, seed=3)
    counts: list[int] = []
    loaded_window.bridge.text_arrived.connect(lambda _t, n: counts.append(n))
    assert chat.send("Tell me a very long story about a dragon and a knight.")
    qtbot.waitUntil(lambda: bool(counts) and counts[-1] >= 40, timeout=120_000)
    with qtbot.waitSignal(chat.reply_finished, timeout=30_000) as finished:
        qtbot.mouseClick(chat.stop_button, Qt.MouseButton.LeftButton)
    done = finished.args[0]
    seen = measured_speed(starter.name, starter.stat().st_size)
    assert seen is not None and seen.replies == 1
    assert seen.tokens_per_second == round(done.stats.tokens_per_second, 2)
    store_path().unlink()
