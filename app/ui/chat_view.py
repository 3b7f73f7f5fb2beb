"""The chat panel: header, transcript, input, Stop, settings and memory beside it, a crash banner.

Tokens are buffered and handled on a short timer: each tick appends the new text to the reply in SQLite
first and draws it second, so whatever is on screen is already on disk (a killed app loses nothing shown).
A long reply is redrawn less often (at most a quarter of the time goes to drawing), its text still written
every tick. The conversation itself is core's (app/core/chat/conversation.py).
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from app.core.chat.conversation import Conversation, Message
from app.core.chat.preferences import ChatPreferences, save_preferences
from app.core.chat.store import ConversationStore, ReplyFigures
from app.core.engine.protocol import ChatMessage, GenerationDone, ModelLoaded, PromptReady, SamplingSettings
from app.core.errors import QuantDeskError
from app.ui.chat_banner import CrashBanner
from app.ui.chat_header import ChatHeader
from app.ui.chat_input import ChatInput
from app.ui.chat_side_panel import ChatSidePanel
from app.ui.conversation_list_view import ConversationListView
from app.ui.engine_bridge import EngineBridge
from app.ui.error_dialog import show_error
from app.ui.machines_bar import MachinesBar
from app.ui.message_view import EditDialog
from app.ui.transcript_view import TranscriptView

FLUSH_INTERVAL_MS = 50
DRAW_SHARE = 0.25  # at most this share of the GUI thread's time goes to redrawing a streaming reply


class ChatView(QWidget):
    """Talks to whatever model the EngineBridge has loaded."""

    reply_finished = Signal(object)  # GenerationDone
    tokens_per_second_changed = Signal(float)

    def __init__(self, bridge: EngineBridge, history: ConversationStore, parent: QWidget | None = None,
                 preferences: ChatPreferences | None = None, persist: bool = True) -> None:
        super().__init__(parent)
        self.bridge = bridge
        self.history = history
        self.prefs = preferences or ChatPreferences()
        self._persist = persist  # write changed settings to the settings file
        self.conversation = Conversation(history)
        self._pending = ""
        self._generating = False
        self._n_generated = 0
        self._prompt_tokens = 0
        self._drawn_at = 0.0
        self._draw_seconds = 0.0
        self._load_fraction = 0.0

        self.banner = CrashBanner(self)
        self.header = ChatHeader(self)
        self.model_line, self.context_bar = self.header.model_line, self.header.context_bar
        self.settings_button = self.header.settings_button
        self.transcript = TranscriptView(self)
        self.side = ChatSidePanel(self.prefs, self)
        self.settings, self.memory = self.side.settings, self.side.memory
        self.body = QSplitter(Qt.Orientation.Horizontal, self)
        self.body.addWidget(self.transcript)
        self.body.addWidget(self.side)
        self.body.setStretchFactor(0, 3)
        self.body.setStretchFactor(1, 1)
        self.body.setChildrenCollapsible(False)
        self.body.setSizes([self.fontMetrics().averageCharWidth() * 80, self.fontMetrics().averageCharWidth() * 42])
        self.input = ChatInput(self)
        self.input.setAccessibleName(self.tr("Your message"))
        self.input.setFixedHeight(self.fontMetrics().lineSpacing() * 4 + 12)
        self.send_button = QPushButton(self.tr("Send"), self)
        self.stop_button = QPushButton(self.tr("Stop"), self)
        self.stop_button.setToolTip(self.tr("Stop the reply (Esc)"))
        self.status = QLabel(self)
        self.status.setObjectName("chatStatus")
        self.status.setWordWrap(True)
        # a reply's figures take two lines in a narrow window: the layout must not squeeze the second away
        self.status.setMinimumHeight(self.status.fontMetrics().lineSpacing() * 2)
        self.conversations = ConversationListView(history)  # placed by the chat page, beside the models
        self.machines_bar = MachinesBar(bridge, self)

        buttons = QVBoxLayout()
        buttons.addWidget(self.send_button)
        buttons.addWidget(self.stop_button)
        buttons.addStretch(1)
        entry = QHBoxLayout()
        entry.addWidget(self.input, 1)
        entry.addLayout(buttons)
        layout = QVBoxLayout(self)
        layout.addWidget(self.banner)
        layout.addWidget(self.header)
        layout.addWidget(self.machines_bar)
        layout.addWidget(self.body, 1)
        layout.addLayout(entry)
        layout.addWidget(self.status)

        self._flush_timer = QTimer(self)
        self._flush_timer.setInterval(FLUSH_INTERVAL_MS)
        self._flush_timer.timeout.connect(self._flush)
        QShortcut(QKeySequence("Ctrl+N"), self, self.new_conversation)
        QShortcut(QKeySequence("Ctrl+L"), self, self.focus_input)
        QShortcut(QKeySequence(Qt.Key.Key_Escape), self, self.stop)

        self.input.send_requested.connect(self._on_input_send_requested)
        self.send_button.clicked.connect(self._on_input_send_requested)
        self.stop_button.clicked.connect(self.stop)
        self.settings_button.toggled.connect(self.side.setVisible)
        self.settings_button.clicked.connect(lambda: setattr(self, "_side_chosen", True))
        self._side_chosen = False  # the person opened or folded the side panel: the width no longer decides
        self.banner.restart_requested.connect(self._on_banner_restart_requested)
        self.settings.preferences_changed.connect(self.set_preferences)
        self.settings.system_prompt_changed.connect(lambda text: self.conversation.set_system_prompt(text))
        self.transcript.copy_requested.connect(lambda _m: self.status.setText(self.tr("Copied to the clipboard.")))
        self.transcript.edit_requested.connect(self._on_transcript_edit_requested)
        self.transcript.regenerate_requested.connect(lambda _m: self.regenerate())
        self.conversations.open_requested.connect(self.open_conversation)
        self.conversations.new_requested.connect(self.new_conversation)
        self.conversations.deleted.connect(self._on_conversations_deleted)
        self.conversations.renamed.connect(self._on_conversations_renamed)
        bridge.text_arrived.connect(self._on_bridge_text_arrived)
        bridge.prompt_ready.connect(self._on_bridge_prompt_ready)
        bridge.generation_finished.connect(self._on_bridge_generation_finished)
        bridge.generation_failed.connect(self._on_bridge_generation_failed)
        bridge.engine_crashed.connect(self._on_bridge_engine_crashed)
        bridge.model_loaded.connect(self._on_bridge_model_loaded)
        bridge.model_unloaded.connect(self._on_bridge_model_unloaded)
        bridge.load_started.connect(lambda _path: self._on_bridge_load_progress(0.0))
        bridge.load_progress.connect(self._on_bridge_load_progress)
        bridge.load_failed.connect(lambda _error: self._refresh_state())
        bridge.busy_changed.connect(lambda _busy: self._refresh_state())
        self.restore_latest()
        self._refresh_state()

    def resizeEvent(self, event: object) -> None:
        super().resizeEvent(event)  # type: ignore[arg-type]
        # A narrow chat (a small screen, 200 % scaling) folds the side panel away to give the transcript room.
        if not self._side_chosen:
            self.settings_button.setChecked(self.width() >= self.fontMetrics().averageCharWidth() * 90)

    # ---- settings the tests and the window use ------------------------------------------------------------

    @property
    def sampling(self) -> SamplingSettings:
        return self.prefs.sampling

    @sampling.setter
    def sampling(self, value: SamplingSettings) -> None:
        self.set_preferences(dataclasses.replace(self.prefs, sampling=value), save=False)

    def set_preferences(self, prefs: ChatPreferences, save: bool = True) -> None:
        self.prefs = prefs
        self.settings.set_preferences(prefs)
        if save and self._persist:
            save_preferences(prefs)

    # ---- conversation state -------------------------------------------------------------------------

    def restore_latest(self) -> None:
        self._show(Conversation.latest(self.history))
    def open_conversation(self, conversation_id: int) -> bool:
        if self._generating:
            return False
        self._show(Conversation.load(self.history, conversation_id))
        return True

    def new_conversation(self) -> None:
        if self._generating:
            return
        self._show(Conversation(self.history))
        self.focus_input()

    def _show(self, conversation: Conversation) -> None:
        self.conversation = conversation
        self.settings.set_system_prompt(conversation.system_prompt)
        self.transcript.show_conversation(conversation, self._empty_text())
        self.conversations.set_current(conversation.id)
        self._update_context_bar(0)

    def _on_conversations_deleted(self, conversation_id: int) -> None:
        if conversation_id == self.conversation.id and not self._generating:
            self._show(Conversation(self.history))

    def _on_conversations_renamed(self, conversation_id: int, title: str) -> None:
        if conversation_id == self.conversation.id:
            self.conversation.title = title
    def messages_for_model(self) -> list[ChatMessage]:
        return self.conversation.for_model()

    def transcript_text(self) -> str:
        return self.transcript.plain_text()

    @property
    def last_reply(self) -> str:
        return self.conversation.last_reply

    @property
    def is_generating(self) -> bool:
        return self._generating

    @property
    def ready(self) -> bool:
        return self.bridge.loaded is not None and not self.bridge.busy and not self._generating

    def focus_input(self) -> None:
        self.input.setFocus(Qt.FocusReason.ShortcutFocusReason)

    # ---- sending, regenerating, editing -------------------------------------------------------------------

    def send(self, text: str) -> bool:
        text = text.strip()
        if not text or not self.ready or self.bridge.loaded is None:
            return False
        self.conversation.model = self.bridge.loaded.info.path
        is_new = self.conversation.id is None
        self.transcript.add_message(self.conversation.add_user_message(text))
        if is_new:
            self.conversations.set_current(self.conversation.id)
        return self._start_reply()

    def regenerate(self) -> bool:
        """Write the last reply again (with the settings as they are now)."""
        if not self.ready or not self.conversation.prepare_regenerate():
            return False
        self.transcript.show_conversation(self.conversation, self._empty_text())
        return self._start_reply()

    def edit_and_resend(self, message: Message, text: str) -> bool:
        """Replace one of the person's messages, drop what came after it, and ask again."""
        text = text.strip()
        if not text or not self.ready or message not in self.conversation.messages:
            return False
        self.conversation.edit_user_message(message, text)
        self.transcript.show_conversation(self.conversation, self._empty_text())
        return self._start_reply()

    def _on_transcript_edit_requested(self, message: Message) -> None:
        dialog = EditDialog(message.content, self)
        if dialog.exec():
            self.edit_and_resend(message, dialog.text())

    def _start_reply(self) -> bool:
        request = self.conversation.for_model()
        reply = self.conversation.start_reply()
        self.transcript.add_message(reply, streaming=True)
        self._generating, self._pending, self._n_generated = True, "", 0
        self._draw_seconds = 0.0
        if not self.bridge.generate(request, self.prefs.max_tokens, self.prefs.sampling, self.prefs.prompt_format):
            self._generating = False
            self.conversation.finish_reply(False, ReplyFigures(stop_reason="failed"))
            self.transcript.finish(reply)
            return False
        self.status.setText(self.tr("Writing…"))
        self._flush_timer.start()
        self._refresh_state()
        return True

    def _on_input_send_requested(self) -> None:
        if self.send(self.input.toPlainText()):
            self.input.clear()

    def stop(self) -> None:
        if self._generating:
            self.bridge.stop_generation()

    # ---- streaming ----------------------------------------------------------------------------------

    def _on_bridge_text_arrived(self, text: str, n_generated: int) -> None:
        self._pending += text
        self._n_generated = n_generated

    def _on_bridge_prompt_ready(self, ready: PromptReady) -> None:
        self._prompt_tokens = ready.prompt_tokens
        self._update_context_bar(ready.prompt_tokens, ready.n_ctx)
        if ready.dropped_messages:
            self.transcript.mark_unseen(ready.dropped_messages)
            self.status.setText(self.tr(
                "The conversation outgrew the model's context of {n} tokens, so the {k} oldest messages were "
                "left out of what it sees.").format(n=ready.n_ctx, k=ready.dropped_messages))

    def _flush(self) -> None:
        reply = self.conversation.reply_in_progress
        if not self._pending or reply is None:
            return
        self.conversation.append_to_reply(self._pending)  # on disk before it is on screen
        self._pending = ""
        now = time.perf_counter()
        if now - self._drawn_at < self._draw_seconds / DRAW_SHARE:
            return  # drawn very recently and drawing is slow (a long reply): the next tick draws it all
        self.transcript.update_streaming(reply)
        self._drawn_at = time.perf_counter()
        self._draw_seconds = self._drawn_at - now
        self._update_context_bar(self._prompt_tokens + self._n_generated)

    def _finish_reply(self, complete: bool, figures: ReplyFigures) -> None:
        self._flush()
        self._flush_timer.stop()
        self._generating = False
        reply = self.conversation.reply_in_progress
        self.conversation.finish_reply(complete, figures)
        if reply is not None:
            self.transcript.finish(reply)
        self.conversations.refresh()
        self._refresh_state()

    def _on_bridge_generation_finished(self, done: GenerationDone) -> None:
        s = done.stats
        self._finish_reply(done.stop_reason == "end_of_text", ReplyFigures(
            done.stop_reason, s.generated_tokens, s.tokens_per_second, s.first_token_seconds, s.dropped_messages))
        n_ctx = self.bridge.loaded.info.n_ctx if self.bridge.loaded is not None else None
        self.status.setText(self.header.reply_summary(done, n_ctx))
        if n_ctx is not None:
            self._update_context_bar(s.prompt_tokens + s.generated_tokens)
        self.tokens_per_second_changed.emit(s.tokens_per_second)
        self.reply_finished.emit(done)
        self.focus_input()

    def _on_bridge_generation_failed(self, error: QuantDeskError) -> None:
        self._finish_reply(False, ReplyFigures(stop_reason="failed"))
        self.status.setText(error.message)
        show_error(self.window(), error)

    def _on_bridge_engine_crashed(self, error: QuantDeskError) -> None:
        if self._generating:
            self._finish_reply(False, ReplyFigures(stop_reason="crashed"))
        self.banner.show_error(error)
        self.status.setText(self.tr("The model engine stopped."))  # not a stale "Writing…"
        self._update_context_bar(0)  # no model now: no context
        self._refresh_state()

    def _on_banner_restart_requested(self) -> None:
        if self.bridge.restart():
            self.banner.hide()

    # ---- the model's state -----------------------------------------------------------------------------

    def _on_bridge_load_progress(self, fraction: float) -> None:
        self._load_fraction = fraction
        self._refresh_state()

    def _on_bridge_model_loaded(self, loaded: ModelLoaded) -> None:
        self.banner.hide()
        self.memory.set_estimate(self.bridge.last_plan.estimate if self.bridge.last_plan else None,
                                 loaded.rss_before_bytes)
        self._update_context_bar(0, loaded.info.n_ctx)
        self._refresh_state()
        if self.isVisible():
            self.focus_input()  # the model is ready: typing goes to the chat, not to the model list

    def _on_bridge_model_unloaded(self) -> None:
        self.memory.clear_estimate()
        self._update_context_bar(0)
        self._refresh_state()

    def _update_context_bar(self, used: int, n_ctx: int | None = None) -> None:
        if n_ctx is None:
            n_ctx = self.bridge.loaded.info.n_ctx if self.bridge.loaded is not None else None
        self.header.show_context(used, n_ctx)

    def _empty_text(self) -> str:
        loading = self.bridge.loading
        if loading is not None:
            return self.tr("Loading {name}… {pct} %").format(name=loading.name, pct=int(self._load_fraction * 100))
        loaded = self.bridge.loaded
        if loaded is None:
            return self.tr("Load a model on the left to start chatting.")
        name = Path(loaded.info.path).name
        if loaded.info.chat_format == "text":
            return self.tr("{name} is ready. {note}").format(name=name, note=loaded.info.chat_format_note)
        return self.tr("{name} is ready. Type a message below.").format(name=name)

    def _refresh_state(self) -> None:
        loaded = self.bridge.loaded
        self.transcript.set_empty_text(self._empty_text())
        self.header.show_model(loaded)
        if loaded is None:
            self.input.setPlaceholderText(self.tr("Load a model on the left first."))
        else:
            self.input.setPlaceholderText(
                self.tr("Write the start of a text — Enter sends") if loaded.info.chat_format == "text"
                else self.tr("Message the model — Enter sends, Shift+Enter for a new line"))
        self.send_button.setEnabled(self.ready)
        self.stop_button.setEnabled(self._generating)
        self.conversations.new_button.setEnabled(not self._generating)
        self.transcript.set_busy(self._generating)
