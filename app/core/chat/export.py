"""A conversation as a Markdown file a person can keep, share or paste elsewhere."""

from __future__ import annotations

import datetime
import re
from pathlib import Path

from app.core.chat.conversation import Conversation, Message

STOP_NOTES = {
    "stopped": "stopped by you",
    "max_tokens": "stopped at the length limit",
    "context_full": "stopped: the context was full",
    "crashed": "stopped: the model engine stopped",
    "failed": "stopped by an error",
}


def reply_note(message: Message) -> str:
    """Why a reply ended early, in words; empty for a reply that ended on its own."""
    if message.role != "assistant" or message.complete:
        return ""
    if message.interrupted:
        return "interrupted: QuantDesk closed while this reply was being written"
    return STOP_NOTES.get(message.figures.stop_reason or "", "stopped")


def conversation_markdown(conversation: Conversation, now: datetime.datetime | None = None) -> str:
    when = (now or datetime.datetime.now()).strftime("%Y-%m-%d %H:%M")
    lines = [f"# {conversation.title or 'Conversation'}", ""]
    meta = f"Exported from QuantDesk on {when}"
    if conversation.model:
        meta += f" · model: {Path(conversation.model).name}"
    lines += [f"*{meta}*", ""]
    if conversation.system_prompt:
        lines += ["## System prompt", "", conversation.system_prompt, ""]
    for m in conversation.messages:
        lines += ["## " + ("You" if m.role == "user" else "Model" if m.role == "assistant" else "System"), ""]
        lines += [m.content, ""]
        note = reply_note(m)
        if note:
            lines += [f"*({note})*", ""]
    return "\n".join(lines).rstrip() + "\n"


def export_file_name(conversation: Conversation) -> str:
    """A file name from the title: letters, digits and dashes."""
    slug = re.sub(r"[^A-Za-z0-9]+", "-", conversation.title or "conversation").strip("-").lower()
    return (slug[:60].rstrip("-") or "conversation") + ".md"


def write_markdown(conversation: Conversation, path: Path) -> None:
    """Written to a temporary name and renamed, like every file QuantDesk writes."""
    tmp = path.with_name(f".{path.name}.part")
    tmp.write_text(conversation_markdown(conversation), encoding="utf-8")
    tmp.replace(path)
