"""Beside the transcript: the chat's settings and the live memory, one tab each, each scrolling on its own."""

from __future__ import annotations

from PySide6.QtWidgets import QScrollArea, QTabWidget, QWidget

from app.core.chat.preferences import ChatPreferences
from app.ui.chat_settings_panel import ChatSettingsPanel
from app.ui.memory_panel import MemoryPanel


class ChatSidePanel(QTabWidget):
    def __init__(self, preferences: ChatPreferences, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.settings = ChatSettingsPanel(preferences, self)
        self.memory = MemoryPanel(self)
        self.addTab(self._scrolling(self.settings), self.tr("Settings"))
        self.addTab(self._scrolling(self.memory), self.tr("Memory"))
        self.setMinimumWidth(self.fontMetrics().averageCharWidth() * 24)

    def _scrolling(self, widget: QWidget) -> QScrollArea:
        area = QScrollArea(self)
        area.setWidget(widget)
        area.setWidgetResizable(True)
        return area
