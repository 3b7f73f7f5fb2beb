"""The one place errors become messages: plain words first, the technical detail behind "Details", and a
"Copy report" button that puts both on the clipboard with the version and the system, ready to paste when
asking for help. Nothing is sent anywhere: the person chooses where the report goes.
"""

from __future__ import annotations

import platform
import sys
import time

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QApplication,
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QStyle,
    QVBoxLayout,
    QWidget,
)

from app import __version__
from app.core.errors import QuantDeskError


def error_report(error: QuantDeskError, title: str = "") -> str:
    """The text "Copy report" copies: what happened in plain words, the detail, and what it ran on."""
    try:
        from importlib.metadata import version

        llama = version("llama-cpp-python")
    except Exception:  # not installed, or a frozen app without its metadata
        llama = "unknown"
    lines = [
        f"QuantDesk {__version__} error report",
        f"When: {time.strftime('%Y-%m-%d %H:%M:%S %Z')}",
        *([f"What: {title}"] if title else []),
        f"Message: {error.message}",
        f"Kind: {type(error).__name__}",
        f"System: {platform.system()} {platform.release()} ({platform.machine()}), Python "
        f"{platform.python_version()}, llama-cpp-python {llama}"
        + (", packaged app" if getattr(sys, "frozen", False) else ""),
        "",
        "Details:",
        error.detail or "(none)",
    ]
    return "\n".join(lines)


class ErrorDialog(QDialog):
    """A message in plain words; Details shows llama.cpp's or Python's own words; Copy report; OK."""

    def __init__(self, parent: QWidget | None, error: QuantDeskError, title: str = "") -> None:
        super().__init__(parent)
        self.error, self.title = error, title
        self.setWindowTitle(title or self.tr("QuantDesk"))
        self.setObjectName("errorDialog")
        icon = QLabel(self)
        icon.setPixmap(self.style().standardIcon(QStyle.StandardPixmap.SP_MessageBoxWarning).pixmap(40, 40))
        icon.setAlignment(Qt.AlignmentFlag.AlignTop)
        self.message = QLabel(error.message, self)
        self.message.setObjectName("errorMessage")
        self.message.setWordWrap(True)
        self.message.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.message.setMinimumWidth(380)
        self.details = QPlainTextEdit(error.detail, self)
        self.details.setObjectName("errorDetails")
        self.details.setReadOnly(True)
        self.details.setAccessibleName(self.tr("Technical details"))
        self.details.setMinimumHeight(160)
        self.details.hide()
        self.details_button = QPushButton(self.tr("Show details"), self)
        self.details_button.setEnabled(bool(error.detail))
        self.copy_button = QPushButton(self.tr("Copy report"), self)
        self.copy_button.setToolTip(self.tr("Copy the message, the details and the versions, to paste when "
                                            "asking for help. Nothing is sent anywhere."))
        self.copied = QLabel(self)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok, self)
        buttons.addButton(self.details_button, QDialogButtonBox.ButtonRole.ActionRole)
        buttons.addButton(self.copy_button, QDialogButtonBox.ButtonRole.ActionRole)
        # ActionRole buttons of a QDialogButtonBox don't close the dialog: only OK does
        buttons.accepted.connect(self.accept)
        self.details_button.clicked.connect(self._on_details_button_clicked)
        self.copy_button.clicked.connect(self._on_copy_button_clicked)

        top = QHBoxLayout()
        top.addWidget(icon)
        top.addWidget(self.message, 1)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.details, 1)
        layout.addWidget(self.copied)
        layout.addWidget(buttons)
        buttons.button(QDialogButtonBox.StandardButton.Ok).setDefault(True)

    # QMessageBox-like accessors: tests and callers read what the person sees
    def text(self) -> str:
        return self.message.text()

    def detailed_text(self) -> str:
        return self.details.toPlainText()

    def report(self) -> str:
        return error_report(self.error, self.title)

    def _on_details_button_clicked(self) -> None:
        self.details.setVisible(not self.details.isVisible())
        self.details_button.setText(self.tr("Hide details") if self.details.isVisible() else
                                    self.tr("Show details"))
        self.adjustSize()

    def _on_copy_button_clicked(self) -> None:
        QApplication.clipboard().setText(self.report())
        self.copied.setText(self.tr("The report is on the clipboard: paste it where you ask for help."))


def error_box(parent: QWidget | None, error: QuantDeskError, title: str = "") -> ErrorDialog:
    return ErrorDialog(parent, error, title)


def show_error(parent: QWidget | None, error: QuantDeskError, title: str = "") -> None:
    """Non-blocking: the dialog opens and the GUI goes on."""
    box = error_box(parent, error, title)
    box.setModal(True)
    box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
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
