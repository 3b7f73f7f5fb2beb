"""How the selected model will load: its context length, where it runs (chosen from the memory estimate, or by
the person), a line in plain words saying where and why, and the progress while it loads.

The plan (app/core/advice/placement.plan_load) reads the file's header and the computer's memory, so it is
made on a worker thread whenever the model, the context length or the choice changes.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QTimer, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from app.core.advice.placement import LoadPlan, plan_load
from app.core.chat.preferences import MIN_CONTEXT
from app.ui.background import BackgroundTask

CONTEXT_STEPS = (512, 1024, 2048, 4096, 8192, 16384, 32768, 65536, 131072)


class LoadOptionsView(QWidget):
    options_changed = Signal()
    plan_ready = Signal(object)  # LoadPlan

    def __init__(self, context_length: int, placement: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.context = QSpinBox(self)
        self.context.setRange(MIN_CONTEXT, CONTEXT_STEPS[-1])
        self.context.setSingleStep(1024)
        self.context.setSuffix(self.tr(" tokens"))
        self.context.setValue(context_length)
        self.context.setToolTip(self.tr("How much text the model keeps in view: your messages and its replies. "
                                        "Longer takes more memory."))
        self.where = QComboBox(self)
        self.where.addItem(self.tr("Automatic"), "auto")
        self.where.addItem(self.tr("Graphics card"), "gpu")
        self.where.addItem(self.tr("Some layers on the graphics card"), "layers")
        self.where.addItem(self.tr("Processor"), "cpu")
        self.where.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.where.setMinimumContentsLength(10)  # its width follows the column, not its longest entry
        self.where.setToolTip(self.tr("Automatic: where the memory estimate says the model fits"))
        self.layers = QSpinBox(self)
        self.layers.setRange(0, 999)
        self.layers.setSuffix(self.tr(" layers"))
        self.context.setAccessibleName(self.tr("Context length"))
        self.where.setAccessibleName(self.tr("Where the model runs"))
        self.layers.setAccessibleName(self.tr("Layers on the graphics card"))
        self.reason = QLabel(self)
        self.reason.setObjectName("placementReason")
        self.reason.setWordWrap(True)
        self.progress = QProgressBar(self)
        self.progress.setRange(0, 100)
        self.progress.setFormat(self.tr("Loading… %p%"))
        self.progress.hide()
        where_row = QHBoxLayout()
        where_row.addWidget(self.where, 1)
        where_row.addWidget(self.layers)
        form = QFormLayout()
        form.addRow(self.tr("Context"), self.context)
        form.addRow(self.tr("Runs on"), where_row)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(form)
        layout.addWidget(self.reason)
        layout.addWidget(self.progress)
        self.set_placement(placement)

        self._path: Path | None = None
        self._task: BackgroundTask | None = None
        self.plan: LoadPlan | None = None
        self._asked: tuple[Path | None, int, str] = (None, 0, "")
        self._debounce = QTimer(self)
        self._debounce.setSingleShot(True)
        self._debounce.setInterval(150)
        self._debounce.timeout.connect(self._make_plan)
        self.context.valueChanged.connect(self._on_changed)
        self.where.currentIndexChanged.connect(self._on_changed)
        self.layers.valueChanged.connect(self._on_changed)

    # ---- what the person chose ---------------------------------------------------------------------------

    @property
    def context_length(self) -> int:
        return self.context.value()

    @property
    def placement(self) -> str:
        """"auto", "gpu", "cpu" or a number of layers (as text), as plan_load takes it."""
        key = self.where.currentData()
        return str(self.layers.value()) if key == "layers" else str(key)

    def set_placement(self, placement: str) -> None:
        if placement.isdigit():
            self.where.setCurrentIndex(self.where.findData("layers"))
            self.layers.setValue(int(placement))
        else:
            self.where.setCurrentIndex(max(self.where.findData(placement), 0))
        self.layers.setVisible(self.where.currentData() == "layers")

    def set_model(self, path: Path | None) -> None:
        self._path = path
        self._on_changed()

    def _on_changed(self, *_: object) -> None:
        self.layers.setVisible(self.where.currentData() == "layers")
        self.options_changed.emit()
        self._debounce.start()

    # ---- the plan ------------------------------------------------------------------------------------------

    def _make_plan(self) -> None:
        if self._path is None:
            self.reason.setText(self.tr("Choose a model above."))
            return
        if self._task is not None and self._task.is_running():
            self._debounce.start()  # one plan at a time: try again shortly
            return
        self.reason.setText(self.tr("Working out where it fits…"))
        self._asked = self._question()
        task = BackgroundTask(plan_load, self._path, self.context_length, parent=self, pass_progress=False,
                              choice=self.placement)
        task.finished.connect(self._on_task_finished)
        task.failed.connect(lambda error: self.reason.setText(error.message))
        self._task = task
        task.start()

    def _question(self) -> tuple[Path | None, int, str]:
        return self._path, self.context_length, self.placement

    def _on_task_finished(self, plan: LoadPlan) -> None:
        if self._asked != self._question():  # the choice changed while it was worked out: plan again
            self._debounce.start()
            return
        self.plan = plan
        if plan.n_layers:
            self.layers.setMaximum(plan.n_layers + 1)
        self.reason.setText(plan.reason)
        self.plan_ready.emit(plan)

    def show_progress(self, fraction: float | None) -> None:
        """A fraction while loading; None hides the bar."""
        if fraction is None:
            self.progress.hide()
            return
        self.progress.setValue(int(fraction * 100))
        self.progress.show()

    def shutdown(self) -> None:
        self._debounce.stop()
        if self._task is not None:
            self._task.wait(5.0)
