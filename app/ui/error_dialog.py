"""The one place errors become messages: plain words first, the technical detail behind "Details"."""

from __future__ import annotations

from PySide6.QtWidgets import QMessageBox, QWidget

from app.core.errors import QuantDeskError


def error_box(parent: QWidget | None, error: QuantDeskError, title: str = "") -> QMessageBox:
    box = QMessageBox(parent)
    box.setIcon(QMessageBox.Icon.Warning)
    box.setWindowTitle(title or box.tr("QuantDesk"))
    box.setText(error.message)
    if error.detail:
        box.setDetailedText(error.detail)  # Qt adds the "Show Details..." button
    box.setStandardButtons(QMessageBox.StandardButton.Ok)
    return box


def show_error(parent: QWidget | None, error: QuantDeskError, title: str = "") -> None:
    """Non-blocking: the box opens and the GUI goes on."""
    box = error_box(parent, error, title)
    box.setModal(True)
    box.open()
