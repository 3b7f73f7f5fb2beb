"""Numbers: each level of a model's ladder measured against its reference (F16, or Q8_0 when F16 does not fit)
over a text — perplexity, KL divergence (mean, 90th and 99th percentiles), same top token — as evaluation
jobs on the one queue (progress and Cancel), cached per (file, text, context); and a chart of quality
against file size with the recommended level marked. Measured figures replace the published ones on
"Which quant?" for this model (`measurements_changed`).
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.core.compare.ladder import EVAL_CTX
from app.core.compare.measurements import LadderSurvey, survey_ladder
from app.core.errors import QuantDeskError
from app.core.evaluate.text import text_title
from app.core.jobs.evaluate import EVALUATE, EvaluateJobParams
from app.core.jobs.queue import JobRecord, JobState
from app.core.machine.hardware import read_hardware
from app.core.models.library import list_models
from app.core.units import format_bytes
from app.ui.background import BackgroundTask
from app.ui.error_dialog import show_error
from app.ui.job_controller import JobController
from app.ui.quality_chart import ChartPoint, QualityChart

COLUMNS = ("Level", "File size", "Perplexity", "Δ perplexity", "KLD mean", "KLD 90 %", "KLD 99 %", "Same top token")
POLL_MS = 250


class CompareNumbersPanel(QWidget):
    measurements_changed = Signal()
    ladder_requested = Signal(object)  # Path

    def __init__(self, jobs: JobController, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.jobs = jobs
        self.survey: LadderSurvey | None = None
        self.text: Path | None = None  # None: the shipped text
        self.job_ids: list[str] = []
        self._task: BackgroundTask | None = None
        self._again = False
        self._reference: str | None = None  # the person's choice of reference, for the current model

        self.model = QComboBox(self)
        self.model.setObjectName("numbersModel")
        self.model.setMinimumWidth(220)  # the window fits 960 logical pixels at 200 %
        self.model.setAccessibleName(self.tr("Model"))
        self.show_button = QPushButton(self.tr("Show its ladder"), self)
        self.ladder_button = QPushButton(self.tr("Make the ladder…"), self)
        self.reference = QComboBox(self)
        self.reference.setAccessibleName(self.tr("Reference"))
        self.reference_label = QLabel(self)
        self.reference_label.setWordWrap(True)
        self.text_label = QLabel(self)
        self.text_label.setWordWrap(True)  # a long file name must not widen the window
        self.text_button = QPushButton(self.tr("Use my own text…"), self)
        self.ctx = QSpinBox(self)
        self.ctx.setRange(64, 8192)
        self.ctx.setSingleStep(64)
        self.ctx.setValue(EVAL_CTX)
        self.ctx.setAccessibleName(self.tr("Context in tokens"))
        self.measure_button = QPushButton(self.tr("Measure"), self)
        self.measure_button.setObjectName("measureButton")
        self.cancel_button = QPushButton(self.tr("Cancel"), self)
        self.progress = QProgressBar(self)
        self.status = QLabel(self)
        self.status.setWordWrap(True)
        self.table = QTableWidget(0, len(COLUMNS), self)
        self.table.setObjectName("measurements")
        self.table.setAccessibleName(self.tr("Measurements per level"))
        self.table.setTabKeyNavigation(False)
        self.table.setHorizontalHeaderLabels([self.tr(c) for c in COLUMNS])
        self.table.verticalHeader().setVisible(False)
        self.table.verticalHeader().setDefaultSectionSize(24)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.chart = QualityChart(self)
        self.note = QLabel(self)
        self.note.setWordWrap(True)
        self.note.setStyleSheet("color: #555;")
        self._layout()

        self.show_button.clicked.connect(self.refresh)
        self.model.activated.connect(self._on_model_activated)
        self.reference.activated.connect(self._on_reference_activated)
        self.ladder_button.clicked.connect(self._on_ladder_button_clicked)
        self.text_button.clicked.connect(self._on_text_button_clicked)
        self.ctx.editingFinished.connect(self.refresh)
        self.measure_button.clicked.connect(self.measure)
        self.cancel_button.clicked.connect(self.cancel)
        self.jobs.job_finished.connect(self._on_jobs_job_finished)
        self._timer = QTimer(self)
        self._timer.setInterval(POLL_MS)
        self._timer.timeout.connect(self.update_progress)
        self._fill_models()
        self._update_text_label()
        self.update_progress()

    def _layout(self) -> None:
        model_row = QHBoxLayout()
        model_row.addWidget(QLabel(self.tr("Model:"), self))
        model_row.addWidget(self.model, 1)
        model_row.addWidget(self.show_button)
        model_row.addWidget(self.ladder_button)
        ref_row = QHBoxLayout()
        ref_row.addWidget(QLabel(self.tr("Reference:"), self))
        ref_row.addWidget(self.reference)
        ref_row.addWidget(self.reference_label, 1)
        text_row = QHBoxLayout()
        text_row.addWidget(QLabel(self.tr("Text:"), self))
        text_row.addWidget(self.text_label, 1)
        text_row.addWidget(self.text_button)
        text_row.addWidget(QLabel(self.tr("Context:"), self))
        text_row.addWidget(self.ctx)
        run_row = QHBoxLayout()
        run_row.addWidget(self.measure_button)
        run_row.addWidget(self.cancel_button)
        run_row.addWidget(self.progress, 1)
        lower = QSplitter(Qt.Orientation.Vertical, self)
        lower.addWidget(self.table)
        lower.addWidget(self.chart)
        lower.setSizes([250, 330])
        layout = QVBoxLayout(self)
        for row in (model_row, ref_row, text_row, run_row):
            layout.addLayout(row)
        layout.addWidget(self.status)
        layout.addWidget(lower, 1)
        layout.addWidget(self.note)

    def refresh_models(self) -> None:
        """A job made a file: list the models again and re-read the ladder."""
        self._fill_models()
        self.refresh()

    def _fill_models(self) -> None:
        current = self.model.currentData()
        self.model.clear()
        for entry in list_models():
            self.model.addItem(f"{entry.title} ({format_bytes(entry.size_bytes)})", str(entry.path))
        index = self.model.findData(current) if current else -1
        self.model.setCurrentIndex(max(index, 0))

    def set_model(self, path: Path) -> None:
        index = self.model.findData(str(path))
        if index < 0:
            self.model.addItem(path.name, str(path))
            index = self.model.count() - 1
        self.model.setCurrentIndex(index)
        self._on_model_activated(index)

    def _on_model_activated(self, _index: int) -> None:
        self._reference = None
        self.refresh()

    def _on_reference_activated(self, _index: int) -> None:
        self._reference = self.reference.currentData()
        self.refresh()

    def _update_text_label(self) -> None:
        name = text_title(self.text) if self.text else self.tr("QuantDesk's evaluation text (about 7,000 tokens, "
                                                               "varied English, written for the project)")
        self.text_label.setText(name)

    def _on_text_button_clicked(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, self.tr("Choose a text to measure over"), "",
                                              self.tr("Text files (*.txt);;All files (*)"))
        if path:
            self.set_text(Path(path))

    def set_text(self, path: Path | None) -> None:
        self.text = path
        self._update_text_label()
        self.refresh()

    def _on_ladder_button_clicked(self) -> None:
        if self.model.currentData():
            self.ladder_requested.emit(Path(self.model.currentData()))

    # ---- the survey: ladder, reference, cached results ---------------------------------------------------

    def refresh(self) -> BackgroundTask | None:
        """Read the ladder and what is already measured, off the GUI thread."""
        model = self.model.currentData()
        if not model:
            return None
        if self._task is not None:
            self._again = True
            return self._task
        reference = self._reference
        candidates = [Path(self.model.itemData(i)) for i in range(self.model.count())]

        def work() -> LadderSurvey:
            return survey_ladder(Path(model), candidates, read_hardware(), self.text, self.ctx.value(),
                                 Path(reference) if reference else None)

        self.status.setText(self.tr("Reading the ladder…"))
        self._task = BackgroundTask(work, parent=self, pass_progress=False)
        self._task.finished.connect(self._on_task_finished)
        self._task.failed.connect(self._on_task_failed)
        self._task.start()
        return self._task

    def _on_task_finished(self, survey: LadderSurvey) -> None:
        self._task = None
        if self._again:
            self._again = False
            self.refresh()
        self.show_survey(survey)

    def _on_task_failed(self, error: QuantDeskError) -> None:
        self._task = None
        self.status.setText(error.message)
        show_error(self, error)

    def show_survey(self, survey: LadderSurvey) -> None:
        self.survey = survey
        ref = survey.reference.file
        self.reference.clear()
        for f in survey.ladder.files:
            if f.type in ("F16", "BF16", "F32", "Q8_0"):
                self.reference.addItem(f.type, str(f.path))
        if ref is not None:
            self.reference.setCurrentIndex(self.reference.findData(str(ref.path)))
        self.reference_label.setText(survey.reference.reason)
        self._fill_table(survey)
        points = []
        for f in survey.ladder.files:
            is_ref = ref is not None and f.path == ref.path
            if is_ref or f.type in survey.results:
                kld = 0.0 if is_ref else survey.results[f.type].kld_mean
                points.append(ChartPoint(f.type, f.size_bytes, kld, f.type == survey.recommended, is_ref,
                                         f.type == survey.reference_source))
        self.chart.reference_label = ref.type if ref else ""
        self.chart.set_points(points)
        missing = len(survey.to_measure())
        levels = len(survey.ladder.files)
        if levels < 2:
            self.status.setText(self.tr("{model} has one level on this computer. Make the ladder to measure "
                                        "what each level loses.").format(model=survey.ladder.model_name))
        elif missing:
            self.status.setText(self.tr("{n} of {levels} levels to measure against {ref}.").format(
                n=missing, levels=levels, ref=ref.type if ref else "?"))
        else:
            self.status.setText(self.tr("Every level is measured."))
        self.note.setText(self.tr(
            "Measured here over {text} with a context of {ctx} tokens, as llama.cpp's llama-perplexity "
            "--kl-divergence measures (the second half of each chunk is scored). KL divergence: how far a level's "
            "predictions move from the reference's (0 = the same). The \"Which quant?\" page uses these figures "
            "for this model; ★ marks the level it recommends here.").format(
                text=text_title(survey.text), ctx=survey.n_ctx) if survey.results else "")
        self._update_buttons()

    def _fill_table(self, survey: LadderSurvey) -> None:
        ref = survey.reference.file
        self.table.setRowCount(len(survey.ladder.files))
        for row, f in enumerate(survey.ladder.files):
            r = survey.results.get(f.type)
            name = f.type + (self.tr(" (reference)") if ref and f.path == ref.path else "")
            if f.type == survey.reference_source:
                name += self.tr(" (the reference's source)")
            if f.type == survey.recommended:
                name = "★ " + name
            cells = [name, format_bytes(f.size_bytes)]
            if r is not None:
                cells += [f"{r.ppl:.3f}", f"{r.ppl - r.ppl_reference:+.3f}", f"{r.kld_mean:.4f}", f"{r.kld_p90:.4f}",
                          f"{r.kld_p99:.4f}", f"{100 * r.same_top:.1f} %"]
            else:
                cells += ["–"] * 6
            for column, text in enumerate(cells):
                item = QTableWidgetItem(text)
                item.setToolTip(str(f.path))
                self.table.setItem(row, column, item)

    # ---- measuring: jobs on the one queue ------------------------------------------------------------------

    def measure(self) -> list[JobRecord]:
        survey = self.survey
        if survey is None or survey.reference.file is None:
            return []
        ref = survey.reference.file
        records = []
        for f in survey.to_measure():
            params = EvaluateJobParams(str(ref.path), str(f.path), str(self.text) if self.text else None,
                                       survey.n_ctx)
            record = self.jobs.enqueue(EVALUATE, self.tr("Measure {level} against {ref}").format(
                level=f.type, ref=ref.type), params)
            records.append(record)
            self.job_ids.append(record.id)
        if records:
            self._timer.start()
        self.update_progress()
        return records

    def _mine(self) -> list[JobRecord]:
        return [r for r in (self.jobs.queue.get(i) for i in self.job_ids) if r is not None]

    def cancel(self) -> None:
        for record in self._mine():
            if record.state in (JobState.QUEUED, JobState.RUNNING):
                self.jobs.cancel(record.id)

    def _on_jobs_job_finished(self, record: JobRecord) -> None:
        if record.id in self.job_ids:
            self.measurements_changed.emit()
            self.refresh()

    def update_progress(self) -> None:
        mine = self._mine()
        active = [r for r in mine if r.state in (JobState.QUEUED, JobState.RUNNING)]
        if not active:
            self._timer.stop()
            self.job_ids = [r.id for r in mine if r.state is JobState.FAILED][-5:]
            self.progress.setRange(0, 1)
            self.progress.setValue(0)
            self.progress.setFormat("")
            self._update_buttons()
            return
        finished = len(mine) - len(active)
        running = next((r for r in active if r.state is JobState.RUNNING), None)
        fraction = running.done / running.total if running and running.total else 0.0
        self.progress.setRange(0, 1000)
        self.progress.setValue(int(1000 * (finished + fraction) / len(mine)))
        if running is None:
            self.progress.setFormat(self.tr("waiting for other jobs"))
        else:
            stage = self.tr("reference") if running.stage == "reference" else running.title
            self.progress.setFormat(self.tr("{stage}: chunk {done} of {total} — level {n} of {levels}").format(
                stage=stage, done=running.done, total=running.total, n=finished + 1, levels=len(mine)))
        self._update_buttons()

    def _update_buttons(self) -> None:
        busy = any(r.state in (JobState.QUEUED, JobState.RUNNING) for r in self._mine())
        self.cancel_button.setEnabled(busy)
        self.measure_button.setEnabled(not busy and self.survey is not None and bool(self.survey.to_measure()))

    def shutdown(self) -> None:
        self._timer.stop()
        if self._task is not None:
            self._task.wait(5.0)
