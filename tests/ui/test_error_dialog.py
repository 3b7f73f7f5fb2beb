"""The one error dialog: plain words, Details on demand, Copy report to the clipboard."""

from __future__ import annotations

from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from app import __version__
from app.core.errors import NotEnoughDiskError
from app.ui.error_dialog import ErrorDialog, error_report

DETAIL = "llama_model_quantize returned 1\nllama_model_quantize: failed to quantize: basic_ios::clear: iostream error"


def test_details_and_copy_report(qtbot: QtBot) -> None:
    error = NotEnoughDiskError("The disk is full: QuantDesk could not finish writing.", DETAIL)
    box = ErrorDialog(None, error, "Quantize starter to Q4_K_M")
    qtbot.addWidget(box)
    box.show()
    assert box.text().startswith("The disk is full") and box.windowTitle() == "Quantize starter to Q4_K_M"
    assert not box.details.isVisible()
    box.details_button.click()
    assert box.details.isVisible() and "iostream error" in box.detailed_text()
    box.copy_button.click()
    assert box.isVisible()  # copying does not close the dialog
    report = QApplication.clipboard().text()
    assert report == error_report(error, "Quantize starter to Q4_K_M")
    assert f"QuantDesk {__version__}" in report and "NotEnoughDiskError" in report and DETAIL in report
    assert "on the clipboard" in box.copied.text()


def test_no_detail_no_details_button(qtbot: QtBot) -> None:
    box = ErrorDialog(None, NotEnoughDiskError("Full.", ""))
    qtbot.addWidget(box)
    assert not box.details_button.isEnabled() and "Details:\n(none)" in box.report()
