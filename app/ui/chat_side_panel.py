"""Beside the transcript: the chat's settings and the live memory, one tab each, each scrolling on its own."""

from __future__ import annotations

from PySide6.QtGui import QResizeEvent
from PySide6.QtWidgets import QScrollArea, QStyle, QTabWidget, QWidget

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
        # never narrower than the settings laid out compactly (labels above fields) beside a scroll bar, so the
        # panel never scrolls sideways
        self.settings.set_compact(True)
        metric = self.style().pixelMetric
        need = (self.settings.minimumSizeHint().width() + metric(QStyle.PixelMetric.PM_ScrollBarExtent)
                + 4 * metric(QStyle.PixelMetric.PM_DefaultFrameWidth) + 8)
        self.settings.set_compact(False)
        self.setMinimumWidth(max(self.fontMetrics().averageCharWidth() * 24, need))

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self.settings.set_compact(self.width() < self.fontMetrics().averageCharWidth() * 44)

    def _scrolling(self, widget: QWidget) -> QScrollArea:
        area = QScrollArea(self)
        area.setWidget(widget)
        area.setWidgetResizable(True)
        return area
