"""Blind votes and their tally per level pair, kept in SQLite (comparisons.sqlite3 in the data folder).

A vote records the two sides as they were shown (A and B, after shuffling), what each really was, and the
person's choice: A, B or a tie. The tally folds the votes of a pair together whichever side each level was
shown on, so "Q8_0 vs Q4_K_M" counts the same whether Q8_0 sat left or right.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from app.core.paths import data_dir
from app.core.sqlite_store import open_store

SCHEMA_VERSION = 1
Choice = Literal["a", "b", "tie"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS votes (
    id INTEGER PRIMARY KEY,
    model TEXT NOT NULL,
    label_a TEXT NOT NULL,
    label_b TEXT NOT NULL,
    path_a TEXT NOT NULL,
    path_b TEXT NOT NULL,
    choice TEXT NOT NULL CHECK (choice IN ('a', 'b', 'tie')),
    prompt TEXT NOT NULL,
    seed INTEGER,
    created_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS votes_by_pair ON votes(model, label_a, label_b);
"""


@dataclass(frozen=True)
class Vote:
    model: str
    label_a: str
    label_b: str
    path_a: str
    path_b: str
    choice: Choice
    prompt: str = ""
    seed: int | None = None


@dataclass(frozen=True)
class PairTally:
    """One pair's votes: `first` and `second` in a fixed order (the labels sorted), whichever side they sat."""

    model: str
    first: str
    second: str
    first_wins: int
    second_wins: int
    ties: int

    @property
    def total(self) -> int:
        return self.first_wins + self.second_wins + self.ties

    def wins(self, label: str) -> int:
        return self.first_wins if label == self.first else self.second_wins


class VoteStore:
    """A handle on the votes database; use from one thread (the GUI's)."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or data_dir() / "comparisons.sqlite3"
        self._db = open_store(self.path, _SCHEMA, SCHEMA_VERSION)

    def close(self) -> None:
        self._db.close()

    def add(self, vote: Vote) -> int:
        cur = self._db.execute(
            "INSERT INTO votes (model, label_a, label_b, path_a, path_b, choice, prompt, seed, created_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (vote.model, vote.label_a, vote.label_b, vote.path_a, vote.path_b, vote.choice, vote.prompt, vote.seed,
             time.time()))
        self._db.commit()
        assert cur.lastrowid is not None
        return cur.lastrowid

    def count(self) -> int:
        return int(self._db.execute("SELECT COUNT(*) FROM votes").fetchone()[0])

    def tally(self, model: str | None = None) -> list[PairTally]:
        """Every pair voted on (of one model, if given), most voted first."""
        query = "SELECT model, label_a, label_b, choice FROM votes"
        rows = self._db.execute(query + (" WHERE model = ?" if model is not None else ""),
                                (model,) if model is not None else ()).fetchall()
        counts: dict[tuple[str, str, str], list[int]] = {}
        for model_name, a, b, choice in rows:
            first, second = sorted((a, b))
            entry = counts.setdefault((model_name, first, second), [0, 0, 0])
            if choice == "tie":
                entry[2] += 1
            else:
                winner = a if choice == "a" else b
                entry[0 if winner == first else 1] += 1
        tallies = [PairTally(m, f, s, *c) for (m, f, s), c in counts.items()]
        return sorted(tallies, key=lambda t: (-t.total, t.model, t.first, t.second))
