"""The transcript: the conversation's messages one under another, the reply growing at the bottom, and a
line where the model's context begins once the oldest messages no longer fit.

An empty conversation shows one large line saying what to do next (load a model, wait for it, type), so
the first screen never asks for something that is already done.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QFrame, QLabel, QScrollArea, QVBoxLayout, QWidget

from app.core.chat.conversation import Conversation, Message
from app.ui.message_view import MessageView


class TranscriptView(QScrollArea):
    copy_requested = Signal(object)  # Message, already on the clipboard
    edit_requested = Signal(object)
    regenerate_requested = Signal(object)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWidgetResizable(True)
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setAccessibleName(self.tr("Conversation"))
        self._inner = QWidget(self)
        self._inner.setObjectName("transcript")
        self._layout = QVBoxLayout(self._inner)
        self._layout.setContentsMargins(10, 10, 10, 10)
        self._layout.setSpacing(8)
        self.empty_label = QLabel(self._inner)
        self.empty_label.setObjectName("emptyChat")
        self.empty_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty_label.setWordWrap(True)
        self.context_line = QLabel(self._inner)
        self.context_line.setObjectName("contextLine")
        self.context_line.setWordWrap(True)
        self.context_line.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.context_line.hide()
        self._layout.addWidget(self.empty_label)
        self._layout.addStretch(1)
        self.setWidget(self._inner)
        self.views: list[MessageView] = []
        self._follow = True  # keep the newest text in view while the person has not scrolled up
        self.verticalScrollBar().rangeChanged.connect(self._on_range_changed)
        self.verticalScrollBar().valueChanged.connect(self._on_value_changed)

    # ---- content -------------------------------------------------------------------------------------

    def show_conversation(self, conversation: Conversation, empty_text: str) -> None:
        for view in self.views:
            self._layout.removeWidget(view)
            view.deleteLater()
        self.views = []
        self.context_line.hide()
        self._layout.removeWidget(self.context_line)
        for message in conversation.messages:
            self.add_message(message, streaming=message is conversation.reply_in_progress)
        self.set_empty_text(empty_text)
        # the last reply says how many of the oldest messages the model no longer saw
        dropped = next((m.figures.dropped_messages for m in reversed(conversation.messages)
                        if m.role == "assistant"), 0)
        self.mark_unseen(dropped)
        self._update_regenerate()
        self._follow = True
        QTimer.singleShot(0, self.scroll_to_end)

    def add_message(self, message: Message, streaming: bool = False) -> MessageView:
        view = MessageView(message, self._inner)
        view.copy_requested.connect(self._on_view_copy_requested)
        view.edit_requested.connect(self.edit_requested)
        view.regenerate_requested.connect(self.regenerate_requested)
        if streaming:
            view.refresh(streaming=True)
        self._layout.insertWidget(self._layout.count() - 1, view)  # above the stretch
        self.views.append(view)
        self.empty_label.hide()
        self._update_regenerate()
        return view

    def _on_view_copy_requested(self, message: Message) -> None:
        QGuiApplication.clipboard().setText(message.content)
        self.copy_requested.emit(message)

    def set_empty_text(self, text: str) -> None:
        self.empty_label.setText(text)
        self.empty_label.setVisible(not self.views)

    def view_of(self, message: Message) -> MessageView | None:
        return next((v for v in self.views if v.message is message), None)

    def update_streaming(self, message: Message) -> None:
        view = self.view_of(message)
        if view is not None:
            view.refresh(streaming=True)

    def finish(self, message: Message) -> None:
        view = self.view_of(message)
        if view is not None:
            view.refresh(streaming=False)
        self._update_regenerate()

    def set_busy(self, busy: bool) -> None:
        """While a reply streams, no message can be edited or regenerated."""
        for view in self.views:
            view.edit_button.setEnabled(not busy)
            view.regenerate_button.setEnabled(not busy)

    def _update_regenerate(self) -> None:
        last_reply = next((v for v in reversed(self.views) if v.message.role == "assistant"), None)
        for view in self.views:
            view.regenerate_button.setVisible(view is last_reply)

    def mark_unseen(self, dropped: int) -> None:
        """Dim the `dropped` oldest messages with text and draw the context's first line above the rest."""
        self._layout.removeWidget(self.context_line)
        with_text = [v for v in self.views if v.message.role != "system" and v.message.content]
        for i, view in enumerate(with_text):
            view.set_dimmed(i < dropped)
        if dropped <= 0 or dropped >= len(with_text):
            self.context_line.hide()
            return
        self.context_line.setText(self.tr(
            "The model no longer sees the {n} messages above this line: the conversation outgrew its context."
        ).format(n=dropped))
        self._layout.insertWidget(self._layout.indexOf(with_text[dropped]), self.context_line)
        self.context_line.show()

    # ---- reading (tests, export) -------------------------------------------------------------------------

    def plain_text(self) -> str:
        parts = []
        for view in self.views:
            parts.append(view.who.text().replace("<b>", "").replace("</b>", ""))
            parts.append(view.plain_text())
            if view.note.isVisible():
                parts.append(view.note.text())
        return "\n".join(parts)

    # ---- scrolling ---------------------------------------------------------------------------------------

    def scroll_to_end(self) -> None:
        bar = self.verticalScrollBar()
        bar.setValue(bar.maximum())

    def _on_range_changed(self, _low: int, high: int) -> None:
        if self._follow:
            self.verticalScrollBar().setValue(high)

    def _on_value_changed(self, value: int) -> None:
        bar = self.verticalScrollBar()
        self._follow = value >= bar.maximum() - 4
