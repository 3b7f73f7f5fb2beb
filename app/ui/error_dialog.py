"""The one place errors become messages: plain words first, the technical detail behind "Details"."""

from __future__ import annotations

from PySide6.QtWidgets import QMessageBox, QPushButton, QWidget

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


class DetailsButton(QPushButton):
    """"Details…" beside a status line that reports an error: opens the error's box again. Hidden until set."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setText(self.tr("Details…"))
        self._error: QuantDeskError | None = None
        self._title = ""
        self.clicked.connect(self._on_self_clicked)
        self.hide()

    def set_error(self, error: QuantDeskError, title: str = "") -> None:
        self._error, self._title = error, title
        self.show()

    def clear(self) -> None:
        self._error = None
        self.hide()

    def _on_self_clicked(self) -> None:
        if self._error is not None:
            show_error(self.window(), self._error, self._title)
