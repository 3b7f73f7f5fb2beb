"""One conversation as a chat shows it: its messages, the reply as it streams, and what the model is sent.

The window's chat panel, the chat CLI and the comparison share it. With a ConversationStore every change is
written to SQLite as it happens (the reply as text arrives), so killing the app mid-reply loses nothing that
was on screen and the reopened conversation shows where the reply stopped; without one it lives in memory.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from app.core.chat.store import ConversationStore, ReplyFigures
from app.core.engine.protocol import ChatMessage

Role = Literal["system", "user", "assistant"]
TITLE_LENGTH = 60


def title_from(text: str) -> str:
    """A conversation's title: the start of its first message, on one line, cut at a word."""
    line = " ".join(text.split())
    if len(line) <= TITLE_LENGTH:
        return line
    cut = line[:TITLE_LENGTH].rsplit(" ", 1)[0] or line[:TITLE_LENGTH]
    return cut + "…"


@dataclass
class Message:
    role: Role
    content: str
    complete: bool = True  # False: a reply that is streaming, or that was cut off
    id: int | None = None  # its row in the store
    figures: ReplyFigures = field(default_factory=ReplyFigures)

    @property
    def interrupted(self) -> bool:
        """A reply that never ended: the app or the engine went away while it was being written."""
        return self.role == "assistant" and not self.complete and self.figures.stop_reason is None


class Conversation:
    """Messages in order; the last one may be a reply in progress."""

    def __init__(self, store: ConversationStore | None = None, conversation_id: int | None = None,
                 messages: list[Message] | None = None, model: str = "", title: str = "",
                 system_prompt: str = "") -> None:
        self.store = store
        self.id = conversation_id
        self.messages: list[Message] = messages or []
        self.model = model
        self.title = title
        self.system_prompt = system_prompt
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
        summary = store.conversation(conversation_id)
        messages = [Message(m.role, m.content, m.complete, m.id, m.figures)  # type: ignore[arg-type]
                    for m in store.messages(conversation_id)]
        if summary is None:
            return cls(store, None, [])
        return cls(store, conversation_id, messages, summary.model_path, summary.title, summary.system_prompt)

    # ---- changes, each written through at once --------------------------------------------------------

    def _ensure_stored(self, first_text: str) -> None:
        if self.store is not None and self.id is None:
            self.title = self.title or title_from(first_text)
            self.id = self.store.new_conversation(self.title, self.model, self.system_prompt)

    def add_user_message(self, text: str) -> Message:
        self._ensure_stored(text)
        if self.store is not None and self.id is not None and self.model:
            self.store.set_model(self.id, self.model)
        return self._add(Message("user", text))

    def rename(self, title: str) -> None:
        self.title = " ".join(title.split()) or self.title
        if self.store is not None and self.id is not None:
            self.store.set_title(self.id, self.title)

    def set_system_prompt(self, text: str) -> None:
        self.system_prompt = text
        if self.store is not None and self.id is not None:
            self.store.set_system_prompt(self.id, text)

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

    def finish_reply(self, complete: bool, figures: ReplyFigures | None = None) -> None:
        """The reply ended: at its natural end (complete) or stopped, cut off, failed (not complete)."""
        reply, self.reply_in_progress = self.reply_in_progress, None
        if reply is None:
            return
        reply.complete = complete
        reply.figures = figures or ReplyFigures(stop_reason="end_of_text" if complete else "failed")
        if self.store is not None and reply.id is not None:
            self.store.finish_message(reply.id, reply.content, complete, reply.figures)

    def truncate_from(self, message: Message) -> None:
        """Remove `message` and everything after it (in the store too)."""
        index = next(i for i, m in enumerate(self.messages) if m is message)
        if self.store is not None and self.id is not None and message.id is not None:
            self.store.delete_messages_from(self.id, message.id)
        del self.messages[index:]

    def prepare_regenerate(self) -> bool:
        """Remove the last reply so it can be written again; False if there is no question to answer."""
        if self.reply_in_progress is not None:
            return False
        last_user = next((m for m in reversed(self.messages) if m.role == "user"), None)
        if last_user is None:
            return False
        index = self.messages.index(last_user)
        if index + 1 < len(self.messages):
            self.truncate_from(self.messages[index + 1])
        return True

    def edit_user_message(self, message: Message, text: str) -> Message:
        """Replace a message of the person's, dropping everything after it: Edit and resend."""
        self.truncate_from(message)
        return self._add(Message("user", text))

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

    def for_model(self, system_prompt: str | None = None) -> list[ChatMessage]:
        """What the model is sent: the system prompt (the conversation's own unless one is given), then every
        user and assistant message with text."""
        system = self.system_prompt if system_prompt is None else system_prompt
        out = [ChatMessage("system", system)] if system else []
        out += [ChatMessage(m.role, m.content) for m in self.messages
                if m.role in ("user", "assistant") and m.content]
        return out
