"""Explain, don't assume: a tooltip on every quant type the UI offers, and the size bars from F16 down."""

from __future__ import annotations

from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from app.core.quant_words import explain_quant_type
from app.ui.convert_view import ConvertView
from app.ui.job_controller import JobController
from app.ui.quant_table_view import QuantTableView
from app.ui.quantize_dialog import QuantizeDialog
from tests.core.advice.test_recommend import machine
from tests.fixtures.model_shapes import llama3_8b_facts


def test_which_quant_tooltips_and_size_bars(qtbot: QtBot) -> None:
    view = QuantTableView(read_hardware_now=False)
    qtbot.addWidget(view)
    view.set_hardware(machine(ram_free=24, gpu_free=9.0))
    view.set_facts(llama3_8b_facts())
    for row in range(view.table.rowCount()):
        item = view.table.item(row, 0)
        kind = item.text().replace("★ ", "").split(" ")[0]
        assert item.toolTip() == explain_quant_type(kind) and "bits per weight" in item.toolTip()
    ladder = view.ladder
    assert [s.type for s in ladder.steps] == ["F16", "Q8_0", "Q6_K", "Q5_K_M", "Q4_K_M", "Q3_K_M", "Q2_K"]
    q4 = next(s for s in ladder.steps if s.type == "Q4_K_M")
    assert round(q4.percent_smaller) == 69 and round(q4.percent_worse or 0) == 3  # Llama-3-8B: 14.96 → 4.58 GB
    assert ladder.bars["F16"].value() == 1000 and ladder.bars["Q4_K_M"].value() < 350
    spoken = ladder.bars["Q4_K_M"].accessibleDescription()  # what a screen reader says for the bar
    assert " at Q4_K_M, 69 % smaller, about 3 % worse on the published measure" in spoken
    rec = view.recommendation
    assert rec is not None and f"at {rec.recommended}, " in ladder.headline.text()


def test_quantize_dialog_and_convert_types_have_tooltips(qtbot: QtBot, job_controller: JobController) -> None:
    dialog = QuantizeDialog()
    qtbot.addWidget(dialog)
    for i in range(dialog.types.count()):
        item = dialog.types.item(i)
        assert item.toolTip().startswith(f"{item.data(Qt.ItemDataRole.UserRole)}: about ")
    convert = ConvertView(job_controller)
    qtbot.addWidget(convert)
    for i in range(convert.type_combo.count()):
        tip = convert.type_combo.itemData(i, Qt.ItemDataRole.ToolTipRole)
        assert tip.startswith(f"{convert.type_combo.itemData(i).upper()}: about ")
