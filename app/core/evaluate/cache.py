"""What has been measured, kept in SQLite so nothing is measured twice: per (file, text, context).

A file is known by its resolved path, size and modification time (a re-made quant is a new file); a text by
the SHA-256 of its bytes. The reference's log-probabilities files live beside the database
(evaluations/); they are large (n_vocab × 2 bytes per scored position: 350 MB for SmolLM2 over the shipped
text), so only the few most recently used are kept, and a reference whose file was removed is simply
measured again. Results are small and kept for good.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from pathlib import Path

from app.core.paths import data_dir
from app.core.sqlite_store import open_store

SCHEMA_VERSION = 1
KEEP_REFERENCE_FILES = 4

_SCHEMA = """
CREATE TABLE IF NOT EXISTS reference_runs (
    file_key TEXT NOT NULL,
    text_digest TEXT NOT NULL,
    n_ctx INTEGER NOT NULL,
    model_path TEXT NOT NULL,
    logprobs_path TEXT NOT NULL,
    ppl REAL NOT NULL,
    n_chunks INTEGER NOT NULL,
    n_tokens INTEGER NOT NULL,
    measured_at REAL NOT NULL,
    PRIMARY KEY (file_key, text_digest, n_ctx)
);
CREATE TABLE IF NOT EXISTS results (
    candidate_key TEXT NOT NULL,
    reference_key TEXT NOT NULL,
    text_digest TEXT NOT NULL,
    n_ctx INTEGER NOT NULL,
    candidate_path TEXT NOT NULL,
    reference_path TEXT NOT NULL,
    reference_type TEXT,
    text_title TEXT NOT NULL,
    model_key TEXT NOT NULL,
    model_name TEXT NOT NULL,
    file_type TEXT,
    file_bytes INTEGER NOT NULL,
    ppl REAL NOT NULL,
    ppl_reference REAL NOT NULL,
    kld_mean REAL NOT NULL,
    kld_median REAL NOT NULL,
    kld_p90 REAL NOT NULL,
    kld_p99 REAL NOT NULL,
    kld_max REAL NOT NULL,
    same_top REAL NOT NULL,
    rms_delta_p REAL NOT NULL,
    n_positions INTEGER NOT NULL,
    seconds REAL NOT NULL,
    measured_at REAL NOT NULL,
    PRIMARY KEY (candidate_key, reference_key, text_digest, n_ctx)
);
CREATE INDEX IF NOT EXISTS results_by_model ON results(model_key, measured_at);
"""


def file_key(path: Path) -> str:
    """A file as the cache knows it: resolved path, size and modification time."""
    resolved = Path(path).resolve()
    stat = resolved.stat()
    return f"{resolved}|{stat.st_size}|{stat.st_mtime_ns}"


def evaluations_dir() -> Path:
    folder = data_dir() / "evaluations"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def logprobs_path_for(reference: Path, text_digest: str, n_ctx: int) -> Path:
    key = hashlib.sha256(file_key(reference).encode()).hexdigest()[:12]
    return evaluations_dir() / f"{Path(reference).stem}-{key}-{text_digest[:12]}-ctx{n_ctx}.logprobs"


@dataclass(frozen=True)
class ReferenceEntry:
    model_path: str
    logprobs_path: str
    ppl: float
    n_chunks: int
    n_tokens: int


@dataclass(frozen=True)
class ResultEntry:
    """One candidate measured against one reference over one text at one context."""

    candidate_path: str
    reference_path: str
    reference_type: str | None
    text_digest: str
    text_title: str
    n_ctx: int
    model_key: str
    model_name: str
    file_type: str | None
    file_bytes: int
    ppl: float
    ppl_reference: float
    kld_mean: float
    kld_median: float
    kld_p90: float
    kld_p99: float
    kld_max: float
    same_top: float
    rms_delta_p: float
    n_positions: int
    seconds: float
    measured_at: float


_RESULT_FIELDS = tuple(ResultEntry.__dataclass_fields__)


class EvaluationCache:
    """A handle on the evaluations database; one per thread (each job opens its own)."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or data_dir() / "evaluations.sqlite3"
        self._db = open_store(self.path, _SCHEMA, SCHEMA_VERSION, timeout=10.0)

    def close(self) -> None:
        self._db.close()

    # ---- references -----------------------------------------------------------------------------------

    def reference(self, model: Path, text_digest: str, n_ctx: int) -> ReferenceEntry | None:
        """The stored reference run, if its log-probabilities file is still there."""
        row = self._db.execute(
            "SELECT model_path, logprobs_path, ppl, n_chunks, n_tokens FROM reference_runs "
            "WHERE file_key = ? AND text_digest = ? AND n_ctx = ?", (file_key(model), text_digest, n_ctx)).fetchone()
        if row is None or not Path(row[1]).is_file():
            return None
        Path(row[1]).touch()  # recently used: kept by the pruning below
        return ReferenceEntry(*row)

    def add_reference(self, model: Path, text_digest: str, n_ctx: int, entry: ReferenceEntry) -> None:
        self._db.execute(
            "INSERT OR REPLACE INTO reference_runs VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (file_key(model), text_digest, n_ctx, entry.model_path, entry.logprobs_path, entry.ppl, entry.n_chunks,
             entry.n_tokens, time.time()))
        self._db.commit()
        self.prune_reference_files(keep=Path(entry.logprobs_path))

    def prune_reference_files(self, keep: Path | None = None, limit: int = KEEP_REFERENCE_FILES) -> list[Path]:
        """Remove all but the `limit` most recently used log-probabilities files."""
        files = sorted(evaluations_dir().glob("*.logprobs"), key=lambda p: p.stat().st_mtime, reverse=True)
        removed = []
        for path in files[limit:]:
            if keep is not None and path.resolve() == keep.resolve():
                continue
            path.unlink(missing_ok=True)
            removed.append(path)
        return removed

    # ---- results --------------------------------------------------------------------------------------

    def result(self, candidate: Path, reference: Path, text_digest: str, n_ctx: int) -> ResultEntry | None:
        row = self._db.execute(
            f"SELECT {', '.join(_RESULT_FIELDS)} FROM results WHERE candidate_key = ? AND reference_key = ? "
            "AND text_digest = ? AND n_ctx = ?",
            (file_key(candidate), file_key(reference), text_digest, n_ctx)).fetchone()
        return ResultEntry(*row) if row else None

    def add_result(self, candidate: Path, reference: Path, entry: ResultEntry) -> None:
        values = [getattr(entry, name) for name in _RESULT_FIELDS]
        self._db.execute(
            f"INSERT OR REPLACE INTO results (candidate_key, reference_key, {', '.join(_RESULT_FIELDS)}) "
            f"VALUES (?, ?, {', '.join('?' * len(_RESULT_FIELDS))})",
            (file_key(candidate), file_key(reference), *values))
        self._db.commit()

    def results_for_model(self, model_key: str) -> list[ResultEntry]:
        """Every result of one model's files, newest first, whose candidate file still exists unchanged."""
        rows = self._db.execute(
            f"SELECT candidate_key, {', '.join(_RESULT_FIELDS)} FROM results WHERE model_key = ? "
            "ORDER BY measured_at DESC", (model_key,)).fetchall()
        out = []
        for key, *values in rows:
            entry = ResultEntry(*values)
            try:
                current = file_key(Path(entry.candidate_path))
            except OSError:
                continue
            if current == key:
                out.append(entry)
        return out
