"""Runs the job queue one job at a time, off the GUI thread, and tells the pages what changed.

The main window owns the one JobController; every page that starts long work (Find models, Convert, Jobs)
enqueues here and watches its job (JobWatcher). Each job runs as a BackgroundTask (a worker thread) that
calls core's run_job; the heavy steps inside it are child processes, so Cancel is immediate. Progress arrives
many times a second: it updates the record in memory and is written to disk only on changes of state or
stage, and the views repaint on timers.
"""

from __future__ import annotations

import time
from typing import Any, TypeVar

from PySide6.QtCore import QObject, Signal

from app.core.errors import QuantDeskError
from app.core.jobs.kind import JobContext, JobKind, to_json
from app.core.jobs.queue import JobQueue, JobRecord, JobState, run_job
from app.ui.background import BackgroundTask

P = TypeVar("P")


class JobController(QObject):
    jobs_changed = Signal()  # the list or a state changed (progress alone does not emit)
    job_failed = Signal(object, object)  # the JobRecord and its QuantDeskError
    job_finished = Signal(object)  # the JobRecord
    _stage_reported = Signal(str, str)  # job id, stage: from the worker thread to the GUI thread

    def __init__(self, queue: JobQueue | None = None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.queue = queue or JobQueue()
        self._task: BackgroundTask | None = None
        self._current: str | None = None
        self._closing = False
        self._stage_reported.connect(self._on_self_stage_reported)

    # ---- intents ---------------------------------------------------------------------------------

    def enqueue(self, kind: JobKind[P, Any], title: str, params: P) -> JobRecord:
        record = self.queue.add(kind, title, params)
        self.jobs_changed.emit()
        self._start_next()
        return record

    def cancel(self, job_id: str) -> None:
        if job_id == self._current and self._task is not None:
            self._task.cancel()
        else:
            record = self.queue.get(job_id)
            if record is not None and record.state in (JobState.QUEUED, JobState.INTERRUPTED):
                self.queue.update(job_id, state=JobState.CANCELLED, finished_at=time.time())
                self.jobs_changed.emit()

    def retry(self, job_id: str) -> None:
        """Retry a failed or cancelled job, or resume one interrupted by a restart.

        Quantizations and conversions start over; a download continues from the bytes already on disk."""
        self.queue.resume(job_id)
        self.jobs_changed.emit()
        self._start_next()

    def remove(self, job_id: str) -> None:
        self.queue.remove(job_id)
        self.jobs_changed.emit()

    def clear_finished(self) -> None:
        self.queue.clear((JobState.DONE, JobState.FAILED, JobState.CANCELLED))
        self.jobs_changed.emit()

    def is_busy(self) -> bool:
        return self._task is not None

    def shutdown(self, timeout: float = 10.0) -> None:
        """Cancel the running job, start no other, and wait for its worker (closing the window, tests).

        Jobs still waiting stay queued in the file and come back as interrupted next time; so does the
        one that was running (not "cancelled": the person closed the app, they did not give the job up)."""
        self._closing = True
        task, current = self._task, self._current
        if task is not None:
            task.cancel()
            task.wait(timeout)
        if current is not None and self.queue.get(current) is not None:
            self.queue.update(current, state=JobState.INTERRUPTED)

    # ---- running ---------------------------------------------------------------------------------

    def _start_next(self) -> None:
        if self._task is not None or self._closing:
            return
        record = self.queue.next_queued()
        if record is None:
            return
        now = time.time()
        record = self.queue.update(record.id, state=JobState.RUNNING, started_at=now, stage_started_at=now)
        self._current = record.id
        job_id = record.id
        task = BackgroundTask(self._run, record, parent=self,
                              on_stage=lambda stage: self._stage_reported.emit(job_id, stage))
        task.progress_changed.connect(self._on_task_progress_changed)
        task.finished.connect(self._on_task_finished)
        task.failed.connect(self._on_task_failed)
        task.cancelled.connect(self._on_task_cancelled)
        self._task = task
        self.jobs_changed.emit()
        task.start()

    def _run(self, record: JobRecord, on_progress: Any, cancel: Any, on_stage: Any) -> dict[str, Any]:
        """On the worker thread: the job itself, its typed result turned to JSON for the queue's file."""
        job_id = record.id

        def on_detail(text: str) -> None:  # a plain field of the in-memory record: read by the views' timers
            self.queue.update(job_id, persist=False, detail=text)

        context = JobContext(on_progress=on_progress, on_stage=on_stage, on_detail=on_detail, cancel=cancel)
        return to_json(run_job(record, context))

    def _on_self_stage_reported(self, job_id: str, stage: str) -> None:
        if self.queue.get(job_id) is not None:
            self.queue.update(job_id, stage=stage, done=0, total=0, stage_started_at=time.time())
            self.jobs_changed.emit()

    def _on_task_progress_changed(self, done: int, total: int) -> None:
        if self._current is not None:
            self.queue.update(self._current, persist=False, done=done, total=total)

    def _end(self, **changes: Any) -> JobRecord | None:
        record = None
        if self._current is not None:
            record = self.queue.update(self._current, finished_at=time.time(), **changes)
        if self._task is not None:
            self._task.deleteLater()
        self._task = None
        self._current = None
        self.jobs_changed.emit()
        self._start_next()
        return record

    def _on_task_finished(self, result: object) -> None:
        current = self.queue.get(self._current) if self._current else None
        total = current.total if current else 0
        record = self._end(state=JobState.DONE, result=result if isinstance(result, dict) else {},
                           done=total, detail="")
        if record is not None:
            self.job_finished.emit(record)

    def _on_task_failed(self, error: object) -> None:
        message = error.message if isinstance(error, QuantDeskError) else str(error)
        detail = error.detail if isinstance(error, QuantDeskError) else ""
        record = self._end(state=JobState.FAILED, error_message=message, error_detail=detail)
        self.job_failed.emit(record, error)

    def _on_task_cancelled(self) -> None:
        self._end(state=JobState.INTERRUPTED if self._closing else JobState.CANCELLED)
