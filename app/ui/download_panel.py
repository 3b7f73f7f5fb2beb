"""A download on the Find models page: the file being fetched, overall progress, speed, time left, Cancel.

Download puts a download job in the queue (it runs after whatever waits on the Jobs page, on a worker
thread) and this panel follows it through a JobWatcher. Cancel stops it; the partial file stays under its
`.incomplete` name and the next download of the same files (Retry on the Jobs page, or Download again)
continues from it.
"""

from __future__ import annotations

import glob
from pathlib import Path

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QProgressBar, QPushButton, QVBoxLayout, QWidget

from app.core.errors import QuantDeskError
from app.core.jobs.download import DOWNLOAD, DownloadJobParams, DownloadJobResult
from app.core.jobs.queue import JobRecord, JobState
from app.core.progress import TransferMeter, format_duration
from app.core.units import format_bytes
from app.ui.error_dialog import DetailsButton
from app.ui.job_controller import JobController
from app.ui.job_watcher import JobWatcher

_SCALE = 1000  # progress bars count in thousandths: byte counts overflow a Qt int past 2 GB


class DownloadPanel(QWidget):
    download_finished = Signal(object)  # DownloadJobResult
    download_stopped = Signal()  # failed or cancelled

    def __init__(self, controller: JobController, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.watcher = JobWatcher(controller, self)
        self._meter = TransferMeter()
        self.file_label = QLabel(self)
        self.file_label.setWordWrap(True)
        self.overall_bar = QProgressBar(self)
        self.overall_bar.setRange(0, _SCALE)
        self.status_label = QLabel(self)
        self.status_label.setObjectName("downloadStatus")
        self.status_label.setWordWrap(True)
        self.details_button = DetailsButton(self)
        self.cancel_button = QPushButton(self.tr("Cancel"), self)
        self.cancel_button.setEnabled(False)
        row = QHBoxLayout()
        row.addWidget(self.status_label, 1)
        row.addWidget(self.details_button)
        row.addWidget(self.cancel_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.file_label)
        layout.addWidget(self.overall_bar)
        layout.addLayout(row)
        self.cancel_button.clicked.connect(self._on_cancel_button_clicked)
        self.watcher.changed.connect(self._on_watcher_changed)
        self.watcher.finished.connect(self._on_watcher_finished)
        self.watcher.failed.connect(self._on_watcher_failed)
        self.watcher.stopped.connect(self._on_watcher_stopped)
        self.setVisible(False)

    def is_running(self) -> bool:
        return self.watcher.active

    def start(self, repo_id: str, files: list[str], folder: Path | None) -> JobRecord:
        """Queue the download of `files` (exact names in the repo) and follow it."""
        params = DownloadJobParams(repo_id=repo_id, include=tuple(glob.escape(f) for f in files),
                                   folder=str(folder) if folder is not None else None)
        title = (self.tr("Download {repo} ({name})").format(repo=repo_id, name=files[0]) if len(files) == 1 else
                 self.tr("Download {repo} ({n} files)").format(repo=repo_id, n=len(files)))
        self._meter = TransferMeter()
        self.overall_bar.setValue(0)
        self.file_label.setText(self.tr("Starting the download of {repo}…").format(repo=repo_id))
        self.status_label.setText("")
        self.details_button.clear()
        record = self.watcher.controller.enqueue(DOWNLOAD, title, params)
        self.cancel_button.setEnabled(True)
        self.setVisible(True)
        self.watcher.watch(record)
        return record

    def cancel(self) -> None:
        self.watcher.cancel()

    # ---- slots --------------------------------------------------------------------------------------

    def _on_cancel_button_clicked(self) -> None:
        self.cancel_button.setEnabled(False)
        self.status_label.setText(self.tr("Stopping…"))
        self.cancel()

    def _on_watcher_changed(self, record: JobRecord) -> None:
        if record.state is JobState.QUEUED:
            self.status_label.setText(self.watcher.waiting_text())
            return
        if record.detail:
            self.file_label.setText(record.detail)
        if record.total <= 0:
            return
        reading = self._meter.update(record.done, record.total)
        self.overall_bar.setValue(int(_SCALE * reading.fraction))
        speed = (self.tr("{rate}/s").format(rate=format_bytes(reading.bytes_per_second))
                 if reading.bytes_per_second else self.tr("measuring speed…"))
        self.status_label.setText(self.tr("{done} of {total} · {speed} · {left} left").format(
            done=format_bytes(record.done), total=format_bytes(record.total), speed=speed,
            left=format_duration(reading.seconds_left)))

    def _on_watcher_finished(self, record: JobRecord) -> None:
        self.cancel_button.setEnabled(False)
        self.overall_bar.setValue(_SCALE)
        result = record.typed_result()
        if isinstance(result, DownloadJobResult):
            self.file_label.setText(self.tr("Done: {n} file(s) in {folder}").format(
                n=len(result.files), folder=result.folder))
            self.status_label.setText(
                self.tr("{bytes} downloaded.").format(bytes=format_bytes(result.transferred_bytes)))
        self.download_finished.emit(result)

    def _on_watcher_failed(self, record: JobRecord) -> None:
        self.cancel_button.setEnabled(False)
        self.status_label.setText(self.tr("Stopped: {reason}").format(reason=record.error_message))
        self.details_button.set_error(QuantDeskError(record.error_message, record.error_detail), self.tr("Download"))
        self.download_stopped.emit()

    def _on_watcher_stopped(self, _record: JobRecord | None) -> None:
        self.cancel_button.setEnabled(False)
        self.status_label.setText(
            self.tr("Cancelled. Download again (or Retry on the Jobs page) to continue where it stopped."))
        self.download_stopped.emit()
