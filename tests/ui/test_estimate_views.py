"""The "Your computer" and "Which quant?" pages: plain-words hardware, the table with fit badges, the
recommendation highlighted, and the context control updating the table at once."""

from __future__ import annotations

from pytestqt.qtbot import QtBot

from app.core.machine.hardware import BackendInfo
from app.core.models.library import starter_model_path
from app.ui.computer_view import ComputerView
from app.ui.quant_table_view import CONTEXT_STEPS, QuantTableView
from tests.core.advice.test_recommend import machine
from tests.fixtures.model_shapes import llama3_8b_facts


def test_computer_view_in_plain_words(qtbot: QtBot) -> None:
    view = ComputerView(read_now=False)
    qtbot.addWidget(view)
    report = machine(ram_free=12, gpu_free=9.0, offload=False)
    report = report.__class__(
        report.cpu,
        report.memory,
        report.gpus,
        BackendInfo(False, "", "0.3.36"),
        "Test",
        ("You have an NVIDIA GPU, but the installed llama.cpp was built for the CPU only",),
    )
    with qtbot.waitSignal(view.hardware_changed, timeout=1000):
        view.show_report(report)
    assert "8 cores" in view.processor.text() and "AVX2" in view.processor.text()
    assert "NVIDIA GeForce RTX 3060" in view.gpus.text() and "not usable" in view.gpus.text()
    assert "processor only" in view.engine.text()
    assert not view.warnings.isHidden() and "CPU only" in view.warnings.text()
    assert "main memory" in view.room.text()


def test_computer_view_reads_the_real_machine_off_the_gui_thread(qtbot: QtBot) -> None:
    view = ComputerView(read_now=False)
    qtbot.addWidget(view)
    with qtbot.waitSignal(view.hardware_changed, timeout=20000):
        view.refresh()
    assert view.report is not None and view.report.memory.total_bytes > 0
    assert "cores" in view.processor.text()


def test_quant_table_badges_highlight_and_context(qtbot: QtBot) -> None:
    view = QuantTableView(read_hardware_now=False)
    qtbot.addWidget(view)
    view.set_hardware(machine(ram_free=24, gpu_free=9.0))
    view.set_facts(llama3_8b_facts())
    view.set_context(2048)
    assert view.table.rowCount() == 7
    row = view.recommended_row()
    assert row is not None and "recommended" in view.table.item(row, 0).text()
    assert view.table.item(row, 0).font().bold()
    badges = [view.table.item(r, 3).text() for r in range(7)]
    assert badges[-1] == "GPU — fits whole" and badges[0].startswith("GPU + CPU")
    memory_2k = view.table.item(2, 2).text()
    with qtbot.waitSignal(view.recommendation_changed, timeout=1000) as blocker:
        view.ctx_slider.setValue(CONTEXT_STEPS.index(65536))  # the model's maximum is 8192
    assert blocker.args[0].n_ctx == 8192 and "maximum" in view.ctx_label.text()
    assert view.table.item(2, 2).text() != memory_2k  # updated at once, no reload
    assert view.recommendation is not None and view.recommendation.sentence == view.sentence.text()


def test_nothing_fits_shows_no_recommendation(qtbot: QtBot) -> None:
    view = QuantTableView(read_hardware_now=False)
    qtbot.addWidget(view)
    view.set_hardware(machine(ram_free=2))
    view.set_facts(llama3_8b_facts())
    assert view.recommended_row() is None
    assert all(view.table.item(r, 3).text() == "Does not fit" for r in range(7))
    assert view.sentence.text().startswith("Nothing fits")


def test_quant_table_reads_a_gguf_in_the_background(qtbot: QtBot) -> None:
    view = QuantTableView(read_hardware_now=False)
    qtbot.addWidget(view)
    view.set_hardware(machine(ram_free=8))
    with qtbot.waitSignal(view.recommendation_changed, timeout=20000):
        view.show_model(str(starter_model_path()))
    assert view.table.rowCount() == 8 and "this file" in view.table.item(7, 0).text()


def test_unknown_model_is_an_error_message_not_a_crash(qtbot: QtBot, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    shown = []
    monkeypatch.setattr("app.ui.quant_table_view.show_error", lambda parent, error: shown.append(error))
    view = QuantTableView(read_hardware_now=False)
    qtbot.addWidget(view)
    task = view.show_model("/no/such/file.gguf")
    qtbot.waitUntil(lambda: bool(shown), timeout=5000)
    task.wait(5)
    assert "no model file" in shown[0].message and "no model file" in view.status.text()


def test_first_model_is_shown_without_asking(qtbot: QtBot) -> None:
    view = QuantTableView(read_hardware_now=False, show_first_model=True)
    qtbot.addWidget(view)
    view.set_hardware(machine(ram_free=8))
    qtbot.wait(200)
    assert view.facts is None and not view._tasks  # nothing read before the page is seen: start-up stays quick
    view.show()
    qtbot.waitUntil(lambda: view.table.rowCount() > 0, timeout=20000)
    assert view.facts is not None and view.facts.source == str(starter_model_path())
