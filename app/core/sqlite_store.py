"""Opening one of QuantDesk's SQLite databases (conversations, blind votes, evaluations) the same way.

WAL lets the window read while a job writes, and survives the app being killed; the schema is created if
missing and the file is stamped with its schema version, so a later QuantDesk knows what it holds.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path


def open_store(path: Path, schema: str, version: int, timeout: float = 5.0) -> sqlite3.Connection:
    """Connect, switch to WAL, create what `schema` describes (CREATE ... IF NOT EXISTS) and stamp `version`."""
    db = sqlite3.connect(path, timeout=timeout)
    db.execute("PRAGMA journal_mode=WAL")
    db.executescript(schema)
    db.execute(f"PRAGMA user_version={version}")
    db.commit()
    return db
