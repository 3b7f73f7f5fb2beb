"""Follow one job of the queue from the page that asked for it (Convert, Find models).

The page enqueues through the window's JobController and hands the job's id to a JobWatcher, which reads
the record a few times a second while the job waits or runs (progress arrives far more often than a person
reads) and says once how it ended. The job itself runs on the Jobs page's queue, one at a time.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, QTimer, Signal

from app.core.jobs.queue import JobRecord, JobState
from app.ui.job_controller import JobController

POLL_INTERVAL_MS = 200


class JobWatcher(QObject):
    changed = Signal(object)  # JobRecord, while it waits or runs
    finished = Signal(object)  # JobRecord: done
    failed = Signal(object)  # JobRecord: failed (error_message, error_detail)
    stopped = Signal(object)  # JobRecord: cancelled, interrupted, or removed from the list (None)

    def __init__(self, controller: JobController, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.controller = controller
        self.job_id: str | None = None
        self._timer = QTimer(self)
        self._timer.setInterval(POLL_INTERVAL_MS)
        self._timer.timeout.connect(self._check)
        controller.jobs_changed.connect(self._check)

    @property
    def active(self) -> bool:
        return self.job_id is not None

    def watch(self, record: JobRecord) -> None:
        self.job_id = record.id
        self._timer.start()
        self._check()

    def cancel(self) -> None:
        if self.job_id is not None:
            self.controller.cancel(self.job_id)

    def jobs_ahead(self) -> int:
        """How many jobs run or wait before the watched one."""
        ahead = 0
        for record in self.controller.queue.jobs():
            if record.id == self.job_id:
                return ahead
            ahead += record.state in (JobState.QUEUED, JobState.RUNNING)
        return ahead

    def waiting_text(self) -> str:
        """What a page says while its job waits in the queue."""
        ahead = self.jobs_ahead()
        return (self.tr("Waiting for {n} job(s) on the Jobs page to finish first…").format(n=ahead) if ahead
                else self.tr("Starting…"))

    def _check(self) -> None:
        if self.job_id is None:
            return
        record = self.controller.queue.get(self.job_id)
        if record is None:
            self._end()
            self.stopped.emit(None)
            return
        if record.state in (JobState.QUEUED, JobState.RUNNING):
            self.changed.emit(record)
            return
        self._end()
        if record.state is JobState.DONE:
            self.finished.emit(record)
        elif record.state is JobState.FAILED:
            self.failed.emit(record)
        else:
            self.stopped.emit(record)

    def _end(self) -> None:
        self.job_id = None
        self._timer.stop()
