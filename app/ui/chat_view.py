"""The chat panel: a transcript that streams, an input where Enter sends, Stop, and a crash banner.

Tokens arrive faster than a person reads, so deltas are buffered and drawn on a short timer. The conversation
itself is core's (app/core/chat/conversation.py): every reply is written to SQLite as it streams, so a crash
of the engine or the app loses nothing shown.
"""

from __future__ import annotations

import html

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QKeyEvent, QTextCursor
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from app.core.chat.conversation import Conversation
from app.core.chat.store import ConversationStore
from app.core.engine.protocol import ChatMessage, GenerationDone, SamplingSettings
from app.core.errors import QuantDeskError
from app.ui.engine_bridge import EngineBridge
from app.ui.error_dialog import show_error
from app.ui.machines_bar import MachinesBar

FLUSH_INTERVAL_MS = 50
MAX_REPLY_TOKENS = 1024


class ChatInput(QPlainTextEdit):
    """Enter sends; Shift+Enter starts a new line."""

    send_requested = Signal()

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter) and not (
            event.modifiers() & Qt.KeyboardModifier.ShiftModifier
        ):
            self.send_requested.emit()
            return
        super().keyPressEvent(event)


class CrashBanner(QFrame):
    restart_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("crashBanner")
        self.setStyleSheet("#crashBanner { background: #fde8e8; border: 1px solid #e0a0a0; border-radius: 6px; }")
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


class ChatView(QWidget):
    """Talks to whatever model the EngineBridge has loaded."""

    reply_finished = Signal(object)  # GenerationDone
    tokens_per_second_changed = Signal(float)

    def __init__(self, bridge: EngineBridge, history: ConversationStore, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.bridge = bridge
        self.history = history
        self.sampling = SamplingSettings()
        self.system_prompt = ""
        self.conversation = Conversation(history)
        self._pending = ""
        self._generating = False
        self._reply_started_at = 0.0

        self.banner = CrashBanner(self)
        self.transcript = QTextBrowser(self)
        self.transcript.setAccessibleName(self.tr("Conversation"))
        self.transcript.setOpenExternalLinks(False)
        self.transcript.setPlaceholderText(self.tr("Load a model on the left, then type a message below."))
        self.input = ChatInput(self)
        self.input.setAccessibleName(self.tr("Your message"))
        self.input.setPlaceholderText(self.tr("Message the model — Enter sends, Shift+Enter for a new line"))
        self.input.setFixedHeight(84)
        self.send_button = QPushButton(self.tr("Send"), self)
        self.stop_button = QPushButton(self.tr("Stop"), self)
        self.new_button = QPushButton(self.tr("New chat"), self)
        self.status = QLabel(self)
        self.status.setObjectName("chatStatus")
        self.machines_bar = MachinesBar(bridge, self)

        buttons = QVBoxLayout()
        buttons.addWidget(self.send_button)
        buttons.addWidget(self.stop_button)
        buttons.addStretch(1)
        entry = QHBoxLayout()
        entry.addWidget(self.input, 1)
        entry.addLayout(buttons)
        top = QHBoxLayout()
        top.addWidget(self.status, 1)
        top.addWidget(self.new_button)
        layout = QVBoxLayout(self)
        layout.addWidget(self.banner)
        layout.addWidget(self.machines_bar)
        layout.addLayout(top)
        layout.addWidget(self.transcript, 1)
        layout.addLayout(entry)

        self._flush_timer = QTimer(self)
        self._flush_timer.setInterval(FLUSH_INTERVAL_MS)
        self._flush_timer.timeout.connect(self._flush)

        self.input.send_requested.connect(self._on_input_send_requested)
        self.send_button.clicked.connect(self._on_input_send_requested)
        self.stop_button.clicked.connect(self._on_stop_button_clicked)
        self.new_button.clicked.connect(self.new_conversation)
        self.banner.restart_requested.connect(self._on_banner_restart_requested)
        bridge.text_arrived.connect(self._on_bridge_text_arrived)
        bridge.generation_finished.connect(self._on_bridge_generation_finished)
        bridge.generation_failed.connect(self._on_bridge_generation_failed)
        bridge.engine_crashed.connect(self._on_bridge_engine_crashed)
        bridge.model_loaded.connect(self._on_bridge_model_loaded)
        bridge.model_unloaded.connect(self._update_buttons)
        bridge.busy_changed.connect(self._update_buttons)
        self.restore_latest()
        self._update_buttons()

    # ---- conversation state -------------------------------------------------------------------------

    def restore_latest(self) -> None:
        self.conversation = Conversation.latest(self.history)
        self._render()

    def new_conversation(self) -> None:
        if self._generating:
            return
        self.conversation = Conversation(self.history)
        self._render()
        self.input.setFocus()

    def messages_for_model(self) -> list[ChatMessage]:
        return self.conversation.for_model(self.system_prompt)

    def transcript_text(self) -> str:
        return self.transcript.toPlainText()

    @property
    def last_reply(self) -> str:
        return self.conversation.last_reply

    @property
    def is_generating(self) -> bool:
        return self._generating

    # ---- sending ------------------------------------------------------------------------------------

    def send(self, text: str) -> bool:
        text = text.strip()
        if not text or self._generating or self.bridge.busy or self.bridge.loaded is None:
            return False
        self.conversation.model = self.bridge.loaded.info.path
        self.conversation.add_user_message(text)
        request = self.messages_for_model()
        self.conversation.start_reply()
        self._generating = True
        self._pending = ""
        self._render()
        if not self.bridge.generate(request, MAX_REPLY_TOKENS, self.sampling):
            self._generating = False
            self.conversation.finish_reply(complete=False)
            self._render()
            return False
        self._flush_timer.start()
        self._update_buttons()
        return True

    def _on_input_send_requested(self) -> None:
        if self.send(self.input.toPlainText()):
            self.input.clear()

    def _on_stop_button_clicked(self) -> None:
        self.bridge.stop_generation()

    # ---- streaming ----------------------------------------------------------------------------------

    def _on_bridge_text_arrived(self, text: str, n_generated: int) -> None:
        self._pending += text

    def _flush(self) -> None:
        if not self._pending or self.conversation.reply_in_progress is None:
            return
        self.conversation.append_to_reply(self._pending)
        cursor = self.transcript.textCursor()
        cursor.movePosition(QTextCursor.MoveOperation.End)
        cursor.insertText(self._pending)
        self._pending = ""
        self.transcript.verticalScrollBar().setValue(self.transcript.verticalScrollBar().maximum())

    def _finish_reply(self, complete: bool) -> None:
        self._flush()
        self._flush_timer.stop()
        self._generating = False
        self.conversation.finish_reply(complete)
        self._render()
        self._update_buttons()

    def _on_bridge_generation_finished(self, done: GenerationDone) -> None:
        self._finish_reply(complete=done.stop_reason != "stopped")
        rate = done.stats.tokens_per_second
        note = {"stopped": self.tr(" (stopped)"), "max_tokens": self.tr(" (length limit)"),
                "context_full": self.tr(" (context full)")}.get(done.stop_reason, "")
        status = self.tr("{n} tokens at {rate:.1f} tokens/s{note}").format(
            n=done.stats.generated_tokens, rate=rate, note=note)
        if self.bridge.loaded is not None:
            used = done.stats.prompt_tokens + done.stats.generated_tokens
            status += self.tr(" · context: {used} of {total} tokens used").format(
                used=used, total=self.bridge.loaded.info.n_ctx)
        self.status.setText(status)
        self.tokens_per_second_changed.emit(rate)
        self.reply_finished.emit(done)

    def _on_bridge_generation_failed(self, error: QuantDeskError) -> None:
        self._finish_reply(complete=False)
        show_error(self.window(), error)

    def _on_bridge_engine_crashed(self, error: QuantDeskError) -> None:
        if self._generating:
            self._finish_reply(complete=False)
        self.banner.show_error(error)
        self._update_buttons()

    def _on_banner_restart_requested(self) -> None:
        if self.bridge.restart():
            self.banner.hide()

    def _on_bridge_model_loaded(self, loaded: object) -> None:
        self.banner.hide()
        self._update_buttons()

    def _update_buttons(self, *_: object) -> None:
        ready = self.bridge.loaded is not None and not self.bridge.busy
        self.send_button.setEnabled(ready and not self._generating)
        self.stop_button.setEnabled(self._generating)
        self.new_button.setEnabled(not self._generating)

    # ---- drawing ------------------------------------------------------------------------------------

    def _render(self) -> None:
        parts = []
        streaming = self.conversation.reply_in_progress
        for m in self.conversation.messages:
            who = {"user": self.tr("You"), "assistant": self.tr("Model"), "system": self.tr("System")}[m.role]
            color = "#1f5fbf" if m.role == "user" else "#2e7d32"
            note = ""
            if m.role == "assistant" and not m.complete and m is not streaming:
                note = f' <span style="color:#a15c00">{html.escape(self.tr("(interrupted)"))}</span>'
            parts.append(
                f'<p style="margin-top:10px"><b style="color:{color}">{html.escape(who)}</b>{note}</p>'
                f'<p style="white-space:pre-wrap">{html.escape(m.content)}</p>'
            )
        self.transcript.setHtml("".join(parts))
        self.transcript.verticalScrollBar().setValue(self.transcript.verticalScrollBar().maximum())
