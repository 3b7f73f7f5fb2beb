"""The in-app log: QuantDesk's named loggers, shown on a page (what a person pastes when asking for help).

A logging.Handler keeps recent records and forwards each as a Qt signal, so records written on worker
threads reach the widget on the GUI thread.
"""

from __future__ import annotations

import logging
from collections import deque

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QFontDatabase
from PySide6.QtWidgets import QHBoxLayout, QPlainTextEdit, QPushButton, QVBoxLayout, QWidget

FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"


class _Relay(QObject):
    record_added = Signal(str)


class QtLogHandler(logging.Handler):
    """Keeps the last `capacity` formatted records and announces each new one."""

    def __init__(self, capacity: int = 2000) -> None:
        super().__init__(level=logging.INFO)
        self.setFormatter(logging.Formatter(FORMAT, "%H:%M:%S"))
        self.lines: deque[str] = deque(maxlen=capacity)
        self.relay = _Relay()

    def emit(self, record: logging.LogRecord) -> None:
        try:
            line = self.format(record)
        except Exception:  # a bad log call must never break the app
            self.handleError(record)
            return
        self.lines.append(line)
        self.relay.record_added.emit(line)


class LogView(QWidget):
    def __init__(self, handler: QtLogHandler, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.text = QPlainTextEdit(self)
        self.text.setAccessibleName(self.tr("Log"))
        self.text.setReadOnly(True)
        self.text.setMaximumBlockCount(handler.lines.maxlen or 2000)
        self.text.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.copy_button = QPushButton(self.tr("Copy all"), self)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.copy_button)
        layout = QVBoxLayout(self)
        layout.addWidget(self.text, 1)
        layout.addLayout(buttons)
        for line in handler.lines:
            self.text.appendPlainText(line)
        handler.relay.record_added.connect(self.text.appendPlainText)
        self.copy_button.clicked.connect(self._on_copy_button_clicked)

    def _on_copy_button_clicked(self) -> None:
        self.text.selectAll()
        self.text.copy()


def install_log_handler() -> QtLogHandler:
    """Attach one QtLogHandler to the root logger (idempotent) and return it."""
    root = logging.getLogger()
    for existing in root.handlers:
        if isinstance(existing, QtLogHandler):
            return existing
    handler = QtLogHandler()
    root.addHandler(handler)
    if root.level > logging.INFO or root.level == logging.NOTSET:
        root.setLevel(logging.INFO)
    return handler
