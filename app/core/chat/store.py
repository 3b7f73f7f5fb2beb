"""Conversations in SQLite, written as the reply streams so a crash loses nothing that was shown.

WAL mode keeps each small write cheap; an assistant message is created empty when its reply starts,
updated as text arrives, and marked complete when the reply ends (or left incomplete if it never does,
which the UI shows as an interrupted reply). A reply's end is kept with it: why it stopped, its speed and
its time to first token, so a reopened conversation shows what the person saw.

Schema history: 1 (conversations, messages); 2 (a conversation's system prompt; a reply's stop reason and
figures). An older file is brought up to date when opened.
"""

from __future__ import annotations

import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

from app.core.paths import data_dir

SCHEMA_VERSION = 2

_SCHEMA = """
CREATE TABLE IF NOT EXISTS conversations (
    id INTEGER PRIMARY KEY,
    title TEXT NOT NULL,
    model_path TEXT NOT NULL DEFAULT '',
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    system_prompt TEXT NOT NULL DEFAULT ''
);
CREATE TABLE IF NOT EXISTS messages (
    id INTEGER PRIMARY KEY,
    conversation_id INTEGER NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    role TEXT NOT NULL CHECK (role IN ('system', 'user', 'assistant')),
    content TEXT NOT NULL,
    complete INTEGER NOT NULL DEFAULT 1,
    created_at REAL NOT NULL,
    stop_reason TEXT,
    generated_tokens INTEGER,
    tokens_per_second REAL,
    first_token_seconds REAL,
    dropped_messages INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS messages_by_conversation ON messages(conversation_id, id);
"""

# version 1 → 2: the columns added since
_MIGRATE_1_TO_2 = (
    "ALTER TABLE conversations ADD COLUMN system_prompt TEXT NOT NULL DEFAULT ''",
    "ALTER TABLE messages ADD COLUMN stop_reason TEXT",
    "ALTER TABLE messages ADD COLUMN generated_tokens INTEGER",
    "ALTER TABLE messages ADD COLUMN tokens_per_second REAL",
    "ALTER TABLE messages ADD COLUMN first_token_seconds REAL",
    "ALTER TABLE messages ADD COLUMN dropped_messages INTEGER NOT NULL DEFAULT 0",
)

_MESSAGE_COLUMNS = ("id, role, content, complete, stop_reason, generated_tokens, tokens_per_second, "
                    "first_token_seconds, dropped_messages")


@dataclass(frozen=True)
class ReplyFigures:
    """How a reply ended and how fast it came: kept with it, shown under it."""

    stop_reason: str | None = None  # protocol.StopReason, "crashed", "failed"; None: never ended (app closed)
    generated_tokens: int | None = None
    tokens_per_second: float | None = None
    first_token_seconds: float | None = None
    dropped_messages: int = 0  # the oldest messages the model no longer saw for this reply


@dataclass(frozen=True)
class StoredMessage:
    id: int
    role: str
    content: str
    complete: bool
    figures: ReplyFigures = ReplyFigures()


@dataclass(frozen=True)
class ConversationSummary:
    id: int
    title: str
    model_path: str
    updated_at: float
    system_prompt: str = ""


def _like_pattern(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


class ConversationStore:
    """A handle on the conversation database. Use from one thread (the GUI's)."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or data_dir() / "conversations.sqlite3"
        self._db = sqlite3.connect(self.path)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA foreign_keys=ON")
        self._db.execute("PRAGMA synchronous=NORMAL")  # WAL + NORMAL: durable across app crashes
        version = self._db.execute("PRAGMA user_version").fetchone()[0]
        has_tables = self._db.execute(
            "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'conversations'").fetchone()[0]
        if has_tables and version < 2:
            self._add_missing_columns()
        self._db.executescript(_SCHEMA)
        self._db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
        self._db.commit()

    def _add_missing_columns(self) -> None:
        """Version 1 → 2: add the columns a version-1 database lacks. Only the missing ones: an older
        QuantDesk opening this file again (a person going back a version, then forward) sets user_version
        back to 1 on columns that are already there."""
        for statement in _MIGRATE_1_TO_2:
            table, column = statement.split()[2], statement.split()[5]
            present = {row[1] for row in self._db.execute(f"PRAGMA table_info({table})")}
            if column not in present:
                self._db.execute(statement)

    def close(self) -> None:
        self._db.close()

    # ---- conversations ----------------------------------------------------------------------------------

    def new_conversation(self, title: str, model_path: str = "", system_prompt: str = "") -> int:
        now = time.time()
        cur = self._db.execute(
            "INSERT INTO conversations (title, model_path, created_at, updated_at, system_prompt) "
            "VALUES (?, ?, ?, ?, ?)",
            (title, model_path, now, now, system_prompt),
        )
        self._db.commit()
        assert cur.lastrowid is not None
        return cur.lastrowid

    def set_title(self, conversation_id: int, title: str) -> None:
        self._db.execute("UPDATE conversations SET title = ? WHERE id = ?", (title, conversation_id))
        self._db.commit()

    def set_system_prompt(self, conversation_id: int, system_prompt: str) -> None:
        self._db.execute("UPDATE conversations SET system_prompt = ? WHERE id = ?", (system_prompt, conversation_id))
        self._db.commit()

    def set_model(self, conversation_id: int, model_path: str) -> None:
        self._db.execute("UPDATE conversations SET model_path = ? WHERE id = ?", (model_path, conversation_id))
        self._db.commit()

    def conversation(self, conversation_id: int) -> ConversationSummary | None:
        row = self._db.execute(
            "SELECT id, title, model_path, updated_at, system_prompt FROM conversations WHERE id = ?",
            (conversation_id,),
        ).fetchone()
        return ConversationSummary(*row) if row else None

    def conversations(self, limit: int = 500, search: str = "") -> list[ConversationSummary]:
        """Newest first; with `search`, those whose title or any message holds the text (any case)."""
        sql = "SELECT id, title, model_path, updated_at, system_prompt FROM conversations"
        args: list[object] = []
        if search.strip():
            pattern = _like_pattern(search.strip())
            sql += (" WHERE title LIKE ? ESCAPE '\\' OR id IN (SELECT conversation_id FROM messages "
                    "WHERE content LIKE ? ESCAPE '\\')")
            args += [pattern, pattern]
        sql += " ORDER BY updated_at DESC, id DESC LIMIT ?"
        args.append(limit)
        return [ConversationSummary(*r) for r in self._db.execute(sql, args).fetchall()]

    def latest_conversation(self) -> ConversationSummary | None:
        found = self.conversations(limit=1)
        return found[0] if found else None

    def delete_conversation(self, conversation_id: int) -> None:
        self._db.execute("DELETE FROM conversations WHERE id = ?", (conversation_id,))
        self._db.commit()

    # ---- messages -----------------------------------------------------------------------------------------

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

    def finish_message(self, message_id: int, content: str, complete: bool, figures: ReplyFigures) -> None:
        """The reply's last text, whether it ended on its own, and how (one write)."""
        self._db.execute(
            "UPDATE messages SET content = ?, complete = ?, stop_reason = ?, generated_tokens = ?, "
            "tokens_per_second = ?, first_token_seconds = ?, dropped_messages = ? WHERE id = ?",
            (content, int(complete), figures.stop_reason, figures.generated_tokens, figures.tokens_per_second,
             figures.first_token_seconds, figures.dropped_messages, message_id),
        )
        self._db.commit()

    def delete_messages_from(self, conversation_id: int, message_id: int) -> None:
        """Remove a message and every later one (Edit and resend, Regenerate)."""
        self._db.execute("DELETE FROM messages WHERE conversation_id = ? AND id >= ?", (conversation_id, message_id))
        self._db.commit()

    def messages(self, conversation_id: int) -> list[StoredMessage]:
        rows = self._db.execute(
            f"SELECT {_MESSAGE_COLUMNS} FROM messages WHERE conversation_id = ? ORDER BY id",
            (conversation_id,),
        ).fetchall()
        return [StoredMessage(r[0], r[1], r[2], bool(r[3]), ReplyFigures(r[4], r[5], r[6], r[7], r[8] or 0))
                for r in rows]
