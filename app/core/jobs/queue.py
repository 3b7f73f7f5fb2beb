"""The queue of long jobs (downloads, conversions, quantizations), persisted as JSON.

A job is a kind (jobs/registry.py) plus its parameters, kept as JSON in data_dir()/jobs.json and rewritten
through a temporary name on every change of state. Jobs that were queued or running when the app stopped
come back as INTERRUPTED: shown, never restarted on their own; a person resumes them (back to QUEUED) or
clears them. `run_job` runs one (blocking: the window calls it on a worker thread, the CLI directly); before
it starts, partial files that a killed job left behind are removed.
"""

from __future__ import annotations

import json
import os
import threading
import time
import uuid
from dataclasses import asdict, dataclass, field, replace
from enum import Enum
from pathlib import Path
from typing import Any, TypeVar

from app.core.disk import remove_stale_partials
from app.core.jobs.kind import JobContext, JobKind, to_json
from app.core.jobs.registry import kind_named
from app.core.paths import data_dir, models_dir

SCHEMA_VERSION = 1

P = TypeVar("P")
R = TypeVar("R")


class JobState(str, Enum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"
    INTERRUPTED = "interrupted"  # was queued or running when the app stopped

    @property
    def finished(self) -> bool:
        return self in (JobState.DONE, JobState.FAILED, JobState.CANCELLED)


@dataclass(frozen=True)
class JobRecord:
    id: str
    kind: str
    title: str
    params: dict[str, Any]
    state: JobState = JobState.QUEUED
    stage: str = ""
    done: int = 0
    total: int = 0
    created_at: float = field(default_factory=time.time)
    started_at: float | None = None
    stage_started_at: float | None = None
    finished_at: float | None = None
    error_message: str = ""
    error_detail: str = ""
    result: dict[str, Any] = field(default_factory=dict)
    detail: str = ""  # what the running job is doing now, in a line for people (not kept across restarts)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["state"] = self.state.value
        del data["detail"]
        return data

    @property
    def job_kind(self) -> JobKind[Any, Any]:
        return kind_named(self.kind)

    def typed_result(self) -> Any | None:
        """The result as its kind's dataclass; None before the job is done (or for a file from an older
        version whose result lacks a field)."""
        if not self.result:
            return None
        try:
            return self.job_kind.result_from_json(self.result)
        except (KeyError, TypeError):
            return None

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> JobRecord:
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        known["state"] = JobState(known.get("state", "queued"))
        return cls(**known)

    def seconds_left(self, now: float | None = None) -> float | None:
        """A straight-line guess from this stage's progress so far; None until there is something to go on."""
        if self.state is not JobState.RUNNING or self.stage_started_at is None or self.total <= 0:
            return None
        if self.done <= 0:
            return None
        elapsed = (now or time.time()) - self.stage_started_at
        return max(0.0, elapsed * (self.total - self.done) / self.done)


def run_now(kind: JobKind[P, R], params: P, context: JobContext) -> R:
    """Run a job's work at once and return its typed result (blocking: the CLI, or the queue's worker).

    Partial files that a killed run left behind (its writer is gone) are removed first."""
    for folder in (models_dir(), data_dir() / "imatrix", *kind.output_folders(params)):
        remove_stale_partials(folder)
    return kind.run(params, context)


def run_job(record: JobRecord, context: JobContext) -> object:
    """Run one queued job's work and return its typed result (blocking: call it off the GUI thread)."""
    kind = kind_named(record.kind)
    return run_now(kind, kind.params_from_json(record.params), context)


class JobQueue:
    """The jobs, in order, saved to JSON on every change of state. Thread-safe."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = Path(path) if path else data_dir() / "jobs.json"
        self._lock = threading.Lock()
        self._jobs: list[JobRecord] = self._load()

    def _load(self) -> list[JobRecord]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            records = [JobRecord.from_json(item) for item in data.get("jobs", [])]
        except (OSError, ValueError, TypeError, KeyError):
            return []  # no file yet, or one we cannot read: start empty rather than refuse to open
        return [replace(r, state=JobState.INTERRUPTED) if r.state in (JobState.QUEUED, JobState.RUNNING)
                else r for r in records]

    def _save(self) -> None:
        data = {"version": SCHEMA_VERSION, "jobs": [r.to_json() for r in self._jobs]}
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.part")
        tmp.write_text(json.dumps(data, indent=1), encoding="utf-8")
        os.replace(tmp, self.path)

    def jobs(self) -> list[JobRecord]:
        with self._lock:
            return list(self._jobs)

    def get(self, job_id: str) -> JobRecord | None:
        with self._lock:
            return next((r for r in self._jobs if r.id == job_id), None)

    def add(self, kind: JobKind[P, Any], title: str, params: P) -> JobRecord:
        record = JobRecord(id=uuid.uuid4().hex[:12], kind=kind.name, title=title, params=to_json(params))
        with self._lock:
            self._jobs.append(record)
            self._save()
        return record

    def update(self, job_id: str, persist: bool = True, **changes: Any) -> JobRecord:
        with self._lock:
            for i, record in enumerate(self._jobs):
                if record.id == job_id:
                    self._jobs[i] = replace(record, **changes)
                    if persist:
                        self._save()
                    return self._jobs[i]
        raise KeyError(job_id)

    def next_queued(self) -> JobRecord | None:
        with self._lock:
            return next((r for r in self._jobs if r.state is JobState.QUEUED), None)

    def resume(self, job_id: str) -> JobRecord:
        """Queue a failed, cancelled or interrupted job again, from the start."""
        return self.update(job_id, state=JobState.QUEUED, done=0, total=0, stage="", error_message="",
                           error_detail="", started_at=None, stage_started_at=None, finished_at=None)

    def remove(self, job_id: str) -> None:
        with self._lock:
            self._jobs = [r for r in self._jobs if r.id != job_id or r.state is JobState.RUNNING]
            self._save()

    def clear(self, states: tuple[JobState, ...]) -> None:
        with self._lock:
            self._jobs = [r for r in self._jobs if r.state not in states]
            self._save()
