"""Conversations in SQLite, written as the reply streams so a crash loses nothing that was shown.

WAL mode keeps each small write cheap; an assistant message is created empty when its reply starts,
updated as text arrives, and marked complete when the reply ends (or left incomplete if it never does,
which the UI shows as an interrupted reply).
"""

from __future__ import annotations

import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

from app.core.paths import data_dir

SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS conversations (
    id INTEGER PRIMARY KEY,
    title TEXT NOT NULL,
    model_path TEXT NOT NULL DEFAULT '',
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS messages (
    id INTEGER PRIMARY KEY,
    conversation_id INTEGER NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    role TEXT NOT NULL CHECK (role IN ('system', 'user', 'assistant')),
    content TEXT NOT NULL,
    complete INTEGER NOT NULL DEFAULT 1,
    created_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS messages_by_conversation ON messages(conversation_id, id);
"""


@dataclass(frozen=True)
class StoredMessage:
    id: int
    role: str
    content: str
    complete: bool


@dataclass(frozen=True)
class ConversationSummary:
    id: int
    title: str
    model_path: str
    updated_at: float


class ConversationStore:
    """A handle on the conversation database. Use from one thread (the GUI's)."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or data_dir() / "conversations.sqlite3"
        self._db = sqlite3.connect(self.path)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA foreign_keys=ON")
        self._db.execute("PRAGMA synchronous=NORMAL")  # WAL + NORMAL: durable across app crashes
        self._db.executescript(_SCHEMA)
        self._db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
        self._db.commit()

    def close(self) -> None:
        self._db.close()

    def new_conversation(self, title: str, model_path: str = "") -> int:
        now = time.time()
        cur = self._db.execute(
            "INSERT INTO conversations (title, model_path, created_at, updated_at) VALUES (?, ?, ?, ?)",
            (title, model_path, now, now),
        )
        self._db.commit()
        assert cur.lastrowid is not None
        return cur.lastrowid

    def add_message(self, conversation_id: int, role: str, content: str, complete: bool = True) -> int:
        now = time.time()
        cur = self._db.execute(
            "INSERT INTO messages (conversation_id, role, content, complete, created_at) VALUES (?, ?, ?, ?, ?)",
            (conversation_id, role, content, int(complete), now),
        )
        self._db.execute("UPDATE conversations SET updated_at = ? WHERE id = ?", (now, conversation_id))
        self._db.commit()
        assert cur.lastrowid is not None
        return cur.lastrowid

    def update_message(self, message_id: int, content: str, complete: bool = False) -> None:
        self._db.execute("UPDATE messages SET content = ?, complete = ? WHERE id = ?",
                         (content, int(complete), message_id))
        self._db.commit()

    def set_title(self, conversation_id: int, title: str) -> None:
        self._db.execute("UPDATE conversations SET title = ? WHERE id = ?", (title, conversation_id))
        self._db.commit()

    def messages(self, conversation_id: int) -> list[StoredMessage]:
        rows = self._db.execute(
            "SELECT id, role, content, complete FROM messages WHERE conversation_id = ? ORDER BY id",
            (conversation_id,),
        ).fetchall()
        return [StoredMessage(r[0], r[1], r[2], bool(r[3])) for r in rows]

    def conversations(self, limit: int = 100) -> list[ConversationSummary]:
        rows = self._db.execute(
            "SELECT id, title, model_path, updated_at FROM conversations ORDER BY updated_at DESC, id DESC "
            "LIMIT ?",
            (limit,),
        ).fetchall()
        return [ConversationSummary(*r) for r in rows]

    def latest_conversation(self) -> ConversationSummary | None:
        found = self.conversations(limit=1)
        return found[0] if found else None

    def delete_conversation(self, conversation_id: int) -> None:
        self._db.execute("DELETE FROM conversations WHERE id = ?", (conversation_id,))
        self._db.commit()
