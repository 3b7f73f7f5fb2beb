"""One conversation as a chat shows it: its messages, the reply as it streams, and what the model is sent.

The window's chat panel, the chat CLI and the comparison share it. With a ConversationStore every change is
written to SQLite as it happens (the reply as text arrives), so killing the app mid-reply loses nothing that
was on screen and the reopened conversation shows where the reply stopped; without one it lives in memory.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from app.core.chat.store import ConversationStore
from app.core.engine.protocol import ChatMessage

Role = Literal["system", "user", "assistant"]
TITLE_LENGTH = 60


@dataclass
class Message:
    role: Role
    content: str
    complete: bool = True  # False: a reply that is streaming, or that was cut off
    id: int | None = None  # its row in the store


class Conversation:
    """Messages in order; the last one may be a reply in progress."""

    def __init__(self, store: ConversationStore | None = None, conversation_id: int | None = None,
                 messages: list[Message] | None = None, model: str = "") -> None:
        self.store = store
        self.id = conversation_id
        self.messages: list[Message] = messages or []
        self.model = model
        self.reply_in_progress: Message | None = None  # the reply streaming now

    @classmethod
    def latest(cls, store: ConversationStore) -> Conversation:
        """The conversation last written to, or a new empty one."""
        summary = store.latest_conversation()
        if summary is None:
            return cls(store)
        return cls.load(store, summary.id)

    @classmethod
    def load(cls, store: ConversationStore, conversation_id: int) -> Conversation:
        messages = [Message(m.role, m.content, m.complete, m.id)  # type: ignore[arg-type]
                    for m in store.messages(conversation_id)]
        return cls(store, conversation_id, messages)

    # ---- changes, each written through at once --------------------------------------------------------

    def add_user_message(self, text: str) -> Message:
        if self.store is not None and self.id is None:
            self.id = self.store.new_conversation(text[:TITLE_LENGTH], self.model)
        return self._add(Message("user", text))

    def start_reply(self) -> Message:
        """An empty assistant message, stored at once: a crash from here on still shows a (cut-off) reply."""
        self.reply_in_progress = self._add(Message("assistant", "", complete=False))
        return self.reply_in_progress

    def append_to_reply(self, text: str) -> None:
        reply = self.reply_in_progress
        if reply is None or not text:
            return
        reply.content += text
        self._write(reply)

    def finish_reply(self, complete: bool) -> None:
        """The reply ended: at its natural end (complete) or stopped, cut off, failed (not complete)."""
        reply, self.reply_in_progress = self.reply_in_progress, None
        if reply is not None:
            reply.complete = complete
            self._write(reply)

    def _add(self, message: Message) -> Message:
        if self.store is not None and self.id is not None:
            message.id = self.store.add_message(self.id, message.role, message.content, message.complete)
        self.messages.append(message)
        return message

    def _write(self, message: Message) -> None:
        if self.store is not None and message.id is not None:
            self.store.update_message(message.id, message.content, complete=message.complete)

    # ---- reading ----------------------------------------------------------------------------------------

    @property
    def last_reply(self) -> str:
        return next((m.content for m in reversed(self.messages) if m.role == "assistant"), "")

    def for_model(self, system_prompt: str = "") -> list[ChatMessage]:
        """What the model is sent: the system prompt, then every user and assistant message with text."""
        out = [ChatMessage("system", system_prompt)] if system_prompt else []
        out += [ChatMessage(m.role, m.content) for m in self.messages
                if m.role in ("user", "assistant") and m.content]
        return out
