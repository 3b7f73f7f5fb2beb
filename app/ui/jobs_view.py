"""The Jobs page: every long job (downloads, conversions, quantizations) with its progress.

One row per job: what it is, where it stands, a progress bar, the time left, and the actions that make
sense for its state (Cancel while it waits or runs; Retry after a failure or cancel; Resume or Clear after
a restart interrupted it; Open folder once it made something).
"""

from __future__ import annotations

import time
from pathlib import Path

from PySide6.QtCore import QTimer, QUrl
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.core.errors import QuantDeskError
from app.core.jobs.quantize import QUANTIZE, QuantizeJobParams, ladder_jobs
from app.core.jobs.queue import JobRecord, JobState
from app.core.progress import format_duration
from app.core.quantize.quantizer import SourceInfo, inspect_source, requantize_warning
from app.core.units import format_bytes
from app.ui.background import BackgroundTask
from app.ui.error_dialog import show_error
from app.ui.job_controller import JobController
from app.ui.quantize_dialog import QuantizeChoice, QuantizeDialog

REPAINT_INTERVAL_MS = 500
COLUMNS = ("Job", "Status", "Progress", "Time left", "")

STAGE_NAMES = {"expand": "expanding to F16", "imatrix": "importance matrix", "quantize": "quantizing",
               "download": "downloading", "convert": "converting", "reference": "measuring the reference",
               "measure": "measuring"}


class JobRow(QWidget):
    """The action buttons of one row; which are visible follows the job's state."""

    def __init__(self, view: JobsView, job_id: str) -> None:
        super().__init__(view.table)
        self.job_id = job_id
        layout = QHBoxLayout(self)
        layout.setContentsMargins(2, 0, 2, 0)
        self.cancel = QPushButton(self.tr("Cancel"), self)
        self.retry = QPushButton(self.tr("Retry"), self)
        self.clear = QPushButton(self.tr("Clear"), self)
        self.open_folder = QPushButton(self.tr("Open folder"), self)
        for button in (self.cancel, self.retry, self.open_folder, self.clear):
            layout.addWidget(button)
        self.cancel.clicked.connect(lambda: view.controller.cancel(job_id))
        self.retry.clicked.connect(lambda: view.controller.retry(job_id))
        self.clear.clicked.connect(lambda: view.controller.remove(job_id))
        self.open_folder.clicked.connect(lambda: view.open_folder_requested_for(job_id))

    def show_state(self, record: JobRecord) -> None:
        self.cancel.setVisible(record.state in (JobState.QUEUED, JobState.RUNNING))
        self.retry.setVisible(record.state in (JobState.FAILED, JobState.CANCELLED, JobState.INTERRUPTED))
        self.retry.setText(self.tr("Resume") if record.state is JobState.INTERRUPTED else self.tr("Retry"))
        self.clear.setVisible(record.state is not JobState.RUNNING)
        self.open_folder.setVisible(record.typed_result() is not None)


class JobsView(QWidget):
    def __init__(self, controller: JobController, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.controller = controller
        title = QLabel(self.tr("<b>Jobs</b> — quantizations, downloads and conversions run here one at a "
                               "time; you can keep chatting meanwhile."), self)
        title.setWordWrap(True)
        self.quantize_button = QPushButton(self.tr("Quantize…"), self)
        self.quantize_button.setObjectName("quantizeButton")
        self.clear_button = QPushButton(self.tr("Clear finished"), self)
        self.notice = QLabel(self)
        self.notice.setWordWrap(True)
        self.table = QTableWidget(0, len(COLUMNS), self)
        self.table.setAccessibleName(self.tr("Jobs"))
        self.table.setObjectName("jobTable")
        self.table.setHorizontalHeaderLabels([self.tr(c) for c in COLUMNS])
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        for column in (1, 2, 3, 4):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
        self.table.setColumnWidth(2, 160)
        top = QHBoxLayout()
        top.addWidget(title, 1)
        top.addWidget(self.quantize_button)
        top.addWidget(self.clear_button)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.notice)
        layout.addWidget(self.table, 1)

        self._rows: dict[str, int] = {}
        self._inspect: BackgroundTask | None = None
        self._pending: QuantizeChoice | None = None
        self.quantize_button.clicked.connect(self._on_quantize_button_clicked)
        self.clear_button.clicked.connect(self.controller.clear_finished)
        self.controller.jobs_changed.connect(self.refresh)
        self._timer = QTimer(self)
        self._timer.setInterval(REPAINT_INTERVAL_MS)
        self._timer.timeout.connect(self.update_progress)
        self._timer.start()
        self.refresh()

    # ---- drawing ---------------------------------------------------------------------------------

    def refresh(self) -> None:
        records = self.controller.queue.jobs()
        self.table.setRowCount(len(records))
        self._rows = {}
        for row, record in enumerate(records):
            self._rows[record.id] = row
            item = QTableWidgetItem(record.title)
            result = record.typed_result()
            item.setToolTip(record.error_detail or (result.path if result is not None else "") or record.title)
            self.table.setItem(row, 0, item)
            bar = self.table.cellWidget(row, 2)
            if not isinstance(bar, QProgressBar):
                bar = QProgressBar(self.table)
                self.table.setCellWidget(row, 2, bar)
            actions = self.table.cellWidget(row, 4)
            if not isinstance(actions, JobRow) or actions.job_id != record.id:
                actions = JobRow(self, record.id)
                self.table.setCellWidget(row, 4, actions)
            actions.show_state(record)
        interrupted = sum(r.state is JobState.INTERRUPTED for r in records)
        self.notice.setText(self.tr("{n} job(s) did not finish before QuantDesk was closed: Resume runs "
                                    "them again (a download continues where it stopped), Clear removes "
                                    "them.").format(n=interrupted)
                            if interrupted else "")
        self.notice.setVisible(bool(interrupted))
        self.update_progress()

    def update_progress(self) -> None:
        now = time.time()
        for record in self.controller.queue.jobs():
            row = self._rows.get(record.id)
            if row is None:
                continue
            self.table.setItem(row, 1, QTableWidgetItem(self.status_text(record)))
            bar = self.table.cellWidget(row, 2)
            if isinstance(bar, QProgressBar):
                if record.state is JobState.DONE:
                    bar.setRange(0, 1)
                    bar.setValue(1)
                elif record.state is JobState.RUNNING and record.total <= 0:
                    bar.setRange(0, 0)  # busy: the stage has not said how long it is yet
                else:
                    bar.setRange(0, max(record.total, 1))
                    bar.setValue(min(record.done, max(record.total, 1)))
            self.table.setItem(row, 3, QTableWidgetItem(format_duration(record.seconds_left(now))
                                                        if record.state is JobState.RUNNING else ""))

    def status_text(self, record: JobRecord) -> str:
        if record.state is JobState.RUNNING:
            stage = STAGE_NAMES.get(record.stage, record.stage)
            if record.job_kind.progress_in_bytes and record.total > 0:
                stage = self.tr("{stage} {done} of {total}").format(
                    stage=stage, done=format_bytes(record.done), total=format_bytes(record.total))
            return self.tr("Running: {stage}").format(stage=stage) if stage else self.tr("Running")
        if record.state is JobState.FAILED:
            return self.tr("Failed: {reason}").format(reason=record.error_message)
        return {
            JobState.QUEUED: self.tr("Waiting"),
            JobState.DONE: self.tr("Done"),
            JobState.CANCELLED: self.tr("Cancelled"),
            JobState.INTERRUPTED: self.tr("Interrupted by a restart"),
        }.get(record.state, record.state.value)

    # ---- intents ---------------------------------------------------------------------------------

    def open_folder_requested_for(self, job_id: str) -> None:
        record = self.controller.queue.get(job_id)
        result = record.typed_result() if record is not None else None
        if result is not None:
            QDesktopServices.openUrl(QUrl.fromLocalFile(result.folder))

    def _on_quantize_button_clicked(self) -> None:
        self.open_quantize_dialog()

    def open_quantize_dialog(self, src: Path | None = None, types: tuple[str, ...] | None = None) -> QuantizeDialog:
        """The Quantize dialog, with a model and levels already chosen when given (the Compare page's ladder)."""
        dialog = QuantizeDialog(self)
        if src is not None:
            dialog.set_source(src)
        if types is not None:
            dialog.set_types(types)
        dialog.setModal(True)
        dialog.accepted.connect(lambda: self.quantize_requested(dialog.choice()))
        dialog.open()
        return dialog

    def quantize_requested(self, choice: QuantizeChoice | None) -> None:
        """Check the input off the GUI thread (its header can be large), then ask or queue."""
        if choice is None or self._inspect is not None:
            return
        self._pending = choice
        self._inspect = BackgroundTask(inspect_source, choice.src, parent=self, pass_progress=False)
        self._inspect.finished.connect(self._on_inspect_finished)
        self._inspect.failed.connect(self._on_inspect_failed)
        self._inspect.start()

    def _on_inspect_finished(self, info: SourceInfo) -> None:
        self._inspect = None
        choice, self._pending = self._pending, None
        if choice is None:
            return
        if not info.is_quantized:
            self.enqueue(choice, allow_requantize=False)
            return
        box = QMessageBox(QMessageBox.Icon.Question, self.tr("Already quantized"),
                          requantize_warning(info.file_type, ", ".join(choice.type_names)),
                          QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No, self)
        box.setInformativeText(self.tr("QuantDesk will first expand it to F16, so every level starts from "
                                       "the same weights. The original file is not changed."))
        box.button(QMessageBox.StandardButton.Yes).setText(self.tr("Continue"))
        box.setModal(True)
        box.finished.connect(lambda result: self.enqueue(choice, allow_requantize=True)
                             if result == QMessageBox.StandardButton.Yes else None)
        box.open()

    def _on_inspect_failed(self, error: QuantDeskError) -> None:
        self._inspect = None
        self._pending = None
        show_error(self, error)

    def enqueue(self, choice: QuantizeChoice, allow_requantize: bool) -> None:
        from app.core.quantize.imatrix_compute import default_calibration_text  # numpy: not at start-up

        calibration = choice.calibration or (default_calibration_text() if choice.use_imatrix else None)
        for params in ladder_jobs(choice.src, list(choice.type_names), allow_requantize, calibration):
            self.controller.enqueue(QUANTIZE, self._title(params), params)

    def _title(self, params: QuantizeJobParams) -> str:
        name = Path(params.src).name
        extra = self.tr(", with importance matrix") if params.calibration or params.imatrix else ""
        return self.tr("Quantize {name} → {type}{extra}").format(name=name, type=params.type_name,
                                                                  extra=extra)

    def shutdown(self) -> None:
        self._timer.stop()
