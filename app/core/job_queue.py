"""The queue of long jobs (downloads, conversions, quantizations), persisted as JSON.

A job is a kind ("download", "convert", "quantize") plus JSON-able parameters; what runs a kind is
named in RUNNERS ("module:function", imported when first needed, so the queue imports nothing heavy). A
runner is `run(params, on_progress, cancel, on_stage) -> dict` returning what the job made ({"path": ...}).

The file lives in data_dir()/jobs.json, rewritten through a temporary name. Jobs that were queued or
running when the app stopped come back as INTERRUPTED: shown, never restarted on their own; a person
resumes them (back to QUEUED) or clears them.
"""

from __future__ import annotations

import importlib
import json
import os
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from enum import Enum
from pathlib import Path
from typing import Any

from app.core.jobs import CancelToken, ProgressCallback, StageCallback
from app.core.paths import data_dir

SCHEMA_VERSION = 1

#: kind → "module:function" of its runner. Other capabilities add their line here.
RUNNERS: dict[str, str] = {
    "quantize": "app.core.quantize_job:run_quantize_job",
    "download": "app.core.download_job:run_download_job",
    "convert": "app.core.convert_job:run_convert_job",
}

JobRunnerFunction = Callable[..., dict[str, Any]]


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

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["state"] = self.state.value
        return data

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


def resolve_runner(kind: str) -> JobRunnerFunction:
    """The function that runs jobs of `kind`."""
    target = RUNNERS.get(kind)
    if target is None:
        raise KeyError(f"no runner for job kind {kind!r}")
    module, name = target.split(":")
    function: JobRunnerFunction = getattr(importlib.import_module(module), name)
    return function


def run_job(record: JobRecord, on_progress: ProgressCallback, cancel: CancelToken,
            on_stage: StageCallback) -> dict[str, Any]:
    """Run one job's work (blocking: call it off the GUI thread)."""
    return resolve_runner(record.kind)(dict(record.params), on_progress=on_progress, cancel=cancel,
                                       on_stage=on_stage)


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
        tmp = self.path.with_name(self.path.name + ".part")
        tmp.write_text(json.dumps(data, indent=1), encoding="utf-8")
        os.replace(tmp, self.path)

    def jobs(self) -> list[JobRecord]:
        with self._lock:
            return list(self._jobs)

    def get(self, job_id: str) -> JobRecord | None:
        with self._lock:
            return next((r for r in self._jobs if r.id == job_id), None)

    def add(self, kind: str, title: str, params: dict[str, Any]) -> JobRecord:
        record = JobRecord(id=uuid.uuid4().hex[:12], kind=kind, title=title, params=params)
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
