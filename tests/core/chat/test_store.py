from __future__ import annotations

import sqlite3
from pathlib import Path

from app.core.chat.store import ConversationStore


def test_streamed_reply_is_on_disk_before_it_finishes(tmp_path: Path) -> None:
    db = tmp_path / "c.sqlite3"
    history = ConversationStore(db)
    cid = history.new_conversation("Capitals", "/models/a.gguf")
    history.add_message(cid, "user", "What is the capital of France?")
    reply = history.add_message(cid, "assistant", "", complete=False)
    history.update_message(reply, "The capital", complete=False)
    # Another connection (as after a crash) already sees the partial reply.
    other = sqlite3.connect(db)
    rows = other.execute("SELECT role, content, complete FROM messages ORDER BY id").fetchall()
    assert rows == [("user", "What is the capital of France?", 1), ("assistant", "The capital", 0)]
    other.close()
    history.update_message(reply, "The capital of France is Paris.", complete=True)
    history.close()

    reopened = ConversationStore(db)
    latest = reopened.latest_conversation()
    assert latest is not None and latest.title == "Capitals"
    messages = reopened.messages(latest.id)
    assert [m.content for m in messages][-1] == "The capital of France is Paris."
    assert messages[-1].complete
    reopened.close()


def test_wal_mode_and_latest_first(tmp_path: Path) -> None:
    history = ConversationStore(tmp_path / "c.sqlite3")
    first = history.new_conversation("one")
    second = history.new_conversation("two")
    history.add_message(first, "user", "later message")  # touching a conversation moves it up
    assert [c.id for c in history.conversations()] == [first, second]
    mode = history._db.execute("PRAGMA journal_mode").fetchone()[0]
    assert mode == "wal"
    history.delete_conversation(first)
    assert history.messages(first) == []
    history.close()
