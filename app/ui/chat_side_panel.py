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
        # Labels beside their fields when the panel is wide enough for that, above them when not; never
        # narrower than the compact layout beside a scroll bar, so the panel never scrolls sideways.
        metric = self.style().pixelMetric
        extra = metric(QStyle.PixelMetric.PM_ScrollBarExtent) + 4 * metric(QStyle.PixelMetric.PM_DefaultFrameWidth) + 8
        self._wide_width = self.settings.minimumSizeHint().width() + extra
        self.settings.set_compact(True)
        self.setMinimumWidth(max(self.fontMetrics().averageCharWidth() * 24, self.settings.minimumSizeHint().width()
                                 + extra))
        self.settings.set_compact(False)

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self.settings.set_compact(self.width() < self._wide_width)

    def _scrolling(self, widget: QWidget) -> QScrollArea:
        area = QScrollArea(self)
        area.setWidget(widget)
        area.setWidgetResizable(True)
        return area
