"""The banner the chat shows when the engine process stopped: what happened, Details, Restart."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QWidget

from app.core.errors import QuantDeskError
from app.ui.error_dialog import show_error


class CrashBanner(QFrame):
    restart_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("crashBanner")
        layout = QHBoxLayout(self)
        self.label = QLabel(self)
        self.label.setWordWrap(True)
        self.details_button = QPushButton(self.tr("Details"), self)
        self.restart_button = QPushButton(self.tr("Restart engine"), self)
        layout.addWidget(self.label, 1)
        layout.addWidget(self.details_button)
        layout.addWidget(self.restart_button)
        self.restart_button.clicked.connect(self.restart_requested)
        self.details_button.clicked.connect(self._on_details_button_clicked)
        self._error: QuantDeskError | None = None
        self.hide()

    def show_error(self, error: QuantDeskError) -> None:
        self._error = error
        self.label.setText(error.message)
        self.show()

    def _on_details_button_clicked(self) -> None:
        if self._error is not None:
            show_error(self.window(), self._error, self.tr("Engine stopped"))
