"""Above the transcript: the model the chat talks to and its chat format, a bar of the context used, and
the button that shows or folds the settings and memory panel."""

from __future__ import annotations

import html
from pathlib import Path

from PySide6.QtWidgets import QHBoxLayout, QLabel, QProgressBar, QPushButton, QWidget

from app.core.engine.protocol import GenerationDone, ModelLoaded


class ChatHeader(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model_line = QLabel(self)
        self.model_line.setObjectName("modelLine")
        self.model_line.setWordWrap(True)
        self.context_bar = QProgressBar(self)
        self.context_bar.setObjectName("contextBar")
        self.context_bar.setRange(0, 1)
        self.context_bar.setValue(0)
        self.context_bar.setFormat(self.tr("context %v / %m"))
        self.context_bar.setMinimumWidth(self.fontMetrics().horizontalAdvance("context 00000 / 00000") + 16)
        self.context_bar.setToolTip(self.tr("How much of the model's context this conversation fills. When it "
                                            "is full, the oldest messages are left out (you are told)."))
        self.settings_button = QPushButton(self.tr("Settings && memory"), self)
        self.settings_button.setCheckable(True)
        self.settings_button.setChecked(True)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.model_line, 3)
        layout.addWidget(self.context_bar, 2)
        layout.addWidget(self.settings_button)

    def show_model(self, loaded: ModelLoaded | None) -> None:
        if loaded is None:
            self.model_line.setText(self.tr("No model loaded."))
            return
        name, note = html.escape(Path(loaded.info.path).name, False), html.escape(loaded.info.chat_format_note, False)
        if loaded.info.chat_format == "text":  # a base model: the note is a warning, in the theme's warning colour
            dark = self.palette().window().color().lightness() < 128
            note = f'<span style="color:{"#f0b060" if dark else "#a15c00"}">{note}</span>'
        self.model_line.setText(f"<b>{name}</b><br>{note}")

    def show_context(self, used: int, n_ctx: int | None) -> None:
        """`used` of `n_ctx` tokens; None: no model, so no context ("context 0 / 1" would mean nothing)."""
        if n_ctx is None:
            self.context_bar.setRange(0, 1)
            self.context_bar.setValue(0)
            self.context_bar.setFormat(self.tr("context: no model"))
            return
        self.context_bar.setFormat(self.tr("context %v / %m"))
        self.context_bar.setRange(0, max(n_ctx, 1))
        self.context_bar.setValue(min(used, n_ctx))

    def reply_summary(self, done: GenerationDone, n_ctx: int | None) -> str:
        """The status line after a reply: its figures, why it ended if early, the context used."""
        s = done.stats
        note = {"stopped": self.tr(" (stopped)"), "max_tokens": self.tr(" (length limit)"),
                "context_full": self.tr(" (context full)")}.get(done.stop_reason, "")
        text = self.tr("{n} tokens at {rate:.1f} tokens/s, {ttft:.2f} s to first token{note}").format(
            n=s.generated_tokens, rate=s.tokens_per_second, ttft=s.first_token_seconds, note=note)
        if n_ctx is not None:
            text += self.tr(" · context: {used} of {total} tokens used").format(
                used=s.prompt_tokens + s.generated_tokens, total=n_ctx)
        if s.dropped_messages:
            text += self.tr(" · the {k} oldest messages no longer fit and were left out").format(
                k=s.dropped_messages)
        return text
