"""A running download: the file and overall progress (bytes, speed, time left) and a Cancel button.

The work is core's `download` on a BackgroundTask worker thread; per-file progress comes from core's `on_file`
hook through a signal (queued onto the GUI thread). Cancel sets the task's token; the partial file stays under
its `.incomplete` name and the next download of the same files continues from it.
"""

from __future__ import annotations

import threading
from pathlib import Path

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QProgressBar, QPushButton, QVBoxLayout, QWidget

from app.core.download import DownloadResult, FileProgress, download_model
from app.core.errors import QuantDeskError
from app.core.transfer_meter import TransferMeter, format_duration
from app.core.units import format_bytes
from app.ui.background import BackgroundTask
from app.ui.error_dialog import show_error

_SCALE = 1000  # progress bars count in thousandths: byte counts overflow a Qt int past 2 GB


class DownloadPanel(QWidget):
    file_progress_changed = Signal(object)  # FileProgress, emitted from the worker thread
    # (done, total) bytes as Python ints: a Signal(int, int) is a 32-bit C++ int and overflows past 2 GiB
    bytes_progress_changed = Signal(object, object)
    download_finished = Signal(object)  # DownloadResult
    download_stopped = Signal()  # failed or cancelled

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.task: BackgroundTask | None = None
        self._meter = TransferMeter()
        self.file_label = QLabel(self)
        self.file_label.setWordWrap(True)
        self.file_bar = QProgressBar(self)
        self.file_bar.setRange(0, _SCALE)
        self.overall_bar = QProgressBar(self)
        self.overall_bar.setRange(0, _SCALE)
        self.status_label = QLabel(self)
        self.status_label.setObjectName("downloadStatus")
        self.cancel_button = QPushButton(self.tr("Cancel"), self)
        self.cancel_button.setEnabled(False)
        row = QHBoxLayout()
        row.addWidget(self.status_label, 1)
        row.addWidget(self.cancel_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.file_label)
        layout.addWidget(self.file_bar)
        layout.addWidget(QLabel(self.tr("All files:"), self))
        layout.addWidget(self.overall_bar)
        layout.addLayout(row)
        self.cancel_button.clicked.connect(self._on_cancel_button_clicked)
        self.file_progress_changed.connect(self._on_self_file_progress_changed)
        self.bytes_progress_changed.connect(self._on_self_bytes_progress_changed)
        self._cancel = threading.Event()
        self.setVisible(False)

    def is_running(self) -> bool:
        return self.task is not None and self.task.is_running()

    def start(self, repo_id: str, include: list[str], folder: Path | None) -> None:
        """Plan and download on the worker thread (planning asks the Hub too); finished files are kept."""
        self._meter = TransferMeter()
        self.file_bar.setValue(0)
        self.overall_bar.setValue(0)
        self.file_label.setText(self.tr("Starting the download of {repo}…").format(repo=repo_id))
        self.status_label.setText("")
        self._cancel = threading.Event()
        self.task = BackgroundTask(download_model, repo_id, include, "main", folder, parent=self,
                                   pass_progress=False, on_progress=self.bytes_progress_changed.emit,
                                   cancel=self._cancel, on_file=self.file_progress_changed.emit)
        self.task.finished.connect(self._on_task_finished)
        self.task.failed.connect(self._on_task_failed)
        self.task.cancelled.connect(self._on_task_cancelled)
        self.cancel_button.setEnabled(True)
        self.setVisible(True)
        self.task.start()

    def cancel(self) -> None:
        self._cancel.set()

    # ---- slots --------------------------------------------------------------------------------------

    def _on_cancel_button_clicked(self) -> None:
        self.cancel_button.setEnabled(False)
        self.status_label.setText(self.tr("Stopping…"))
        self.cancel()

    def _on_self_file_progress_changed(self, p: FileProgress) -> None:
        self.file_label.setText(self.tr("File {i} of {n}: {name} — {done} of {total}").format(
            i=p.index + 1, n=p.count, name=p.path, done=format_bytes(p.done), total=format_bytes(p.total)))
        self.file_bar.setValue(int(_SCALE * p.done / p.total) if p.total else _SCALE)

    def _on_self_bytes_progress_changed(self, done: int, total: int) -> None:
        reading = self._meter.update(done, total)
        self.overall_bar.setValue(int(_SCALE * reading.fraction))
        speed = (self.tr("{rate}/s").format(rate=format_bytes(reading.bytes_per_second))
                 if reading.bytes_per_second else self.tr("measuring speed…"))
        self.status_label.setText(self.tr("{done} of {total} · {speed} · {left} left").format(
            done=format_bytes(done), total=format_bytes(total), speed=speed,
            left=format_duration(reading.seconds_left)))

    def _on_task_finished(self, result: DownloadResult) -> None:
        self.cancel_button.setEnabled(False)
        self.overall_bar.setValue(_SCALE)
        self.file_bar.setValue(_SCALE)
        self.file_label.setText(self.tr("Done: {n} file(s) in {folder}").format(
            n=len(result.files), folder=str(result.folder)))
        self.status_label.setText(
            self.tr("{bytes} downloaded.").format(bytes=format_bytes(result.transferred)))
        self.download_finished.emit(result)

    def _on_task_failed(self, error: QuantDeskError) -> None:
        self.cancel_button.setEnabled(False)
        self.status_label.setText(self.tr("Stopped: {reason}").format(reason=error.message))
        self.download_stopped.emit()
        show_error(self, error, self.tr("Download"))

    def _on_task_cancelled(self) -> None:
        self.cancel_button.setEnabled(False)
        self.status_label.setText(
            self.tr("Cancelled. Start the download again to continue where it stopped."))
        self.download_stopped.emit()
