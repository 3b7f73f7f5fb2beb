"""The "Your computer" page: what this machine has for running models, in plain words."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QFormLayout, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from app.core.advice.recommend import budget_for
from app.core.engine.build_info import forget as forget_build
from app.core.errors import QuantDeskError
from app.core.machine.hardware import GpuInfo, HardwareReport, read_hardware
from app.core.units import format_bytes
from app.ui.background import BackgroundTask
from app.ui.error_dialog import show_error


class ComputerView(QWidget):
    """Reads the hardware off the GUI thread and shows it; `hardware_changed` tells other pages."""

    hardware_changed = Signal(object)  # HardwareReport

    def __init__(self, parent: QWidget | None = None, read_now: bool = True) -> None:
        super().__init__(parent)
        self.report: HardwareReport | None = None
        self._task: BackgroundTask | None = None
        title = QLabel(self.tr("<h2>Your computer</h2>"), self)
        intro = QLabel(
            self.tr(
                "What this computer has for running language models. Models run fastest when "
                "they fit entirely in a graphics card's memory (GPU); otherwise they run on "
                "the processor, using the main memory."
            ),
            self,
        )
        intro.setWordWrap(True)
        self.processor = QLabel(self)
        self.memory = QLabel(self)
        self.gpus = QLabel(self)
        self.engine = QLabel(self)
        self.room = QLabel(self)
        for label in (self.processor, self.memory, self.gpus, self.engine, self.room):
            label.setWordWrap(True)
            label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.warnings = QLabel(self)
        self.warnings.setObjectName("hardwareWarnings")
        self.warnings.setWordWrap(True)
        self.warnings.setStyleSheet(
            "QLabel#hardwareWarnings { background: #fff4ce; border: 1px solid #e0b000;"
            " border-radius: 4px; padding: 8px; }"
        )
        self.warnings.hide()
        self.refresh_button = QPushButton(self.tr("Check again"), self)
        form = QFormLayout()
        form.addRow(self.tr("Processor:"), self.processor)
        form.addRow(self.tr("Memory:"), self.memory)
        form.addRow(self.tr("Graphics:"), self.gpus)
        form.addRow(self.tr("Model engine:"), self.engine)
        form.addRow(self.tr("Room for a model:"), self.room)
        buttons = QHBoxLayout()
        buttons.addWidget(self.refresh_button)
        buttons.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addWidget(title)
        layout.addWidget(intro)
        layout.addLayout(form)
        layout.addWidget(self.warnings)
        layout.addLayout(buttons)
        layout.addStretch(1)
        self.refresh_button.clicked.connect(self.refresh)
        self.processor.setText(self.tr("Checking…"))
        if read_now:
            self.refresh()

    def refresh(self) -> None:
        if self._task is not None and self._task.is_running():
            return
        self.refresh_button.setEnabled(False)
        forget_build()  # "Check again" asks the engine again too (a rebuilt llama.cpp shows at once)
        self._task = BackgroundTask(read_hardware, parent=self, pass_progress=False)
        self._task.finished.connect(self._on_task_finished)
        self._task.failed.connect(self._on_task_failed)
        self._task.start()

    def _on_task_finished(self, report: HardwareReport) -> None:
        self.refresh_button.setEnabled(True)
        self.show_report(report)

    def _on_task_failed(self, error: QuantDeskError) -> None:
        self.refresh_button.setEnabled(True)
        show_error(self, error)

    def show_report(self, report: HardwareReport) -> None:
        self.report = report
        cpu = report.cpu
        simd = self.tr(", with {features}").format(features=", ".join(cpu.features)) if cpu.features else ""
        self.processor.setText(
            self.tr("{name}: {cores} cores ({threads} threads){simd}").format(
                name=cpu.name, cores=cpu.physical_cores, threads=cpu.logical_cores, simd=simd
            )
        )
        self.memory.setText(
            self.tr("{total} in all, {free} free right now").format(
                total=format_bytes(report.memory.total_bytes),
                free=format_bytes(report.memory.available_bytes),
            )
        )
        lines = [self._gpu_line(g) for g in report.gpus]
        self.gpus.setText(
            "<br>".join(lines)
            if lines
            else self.tr("No graphics card that can run models was found; models will run on the processor.")
        )
        backend = report.backend
        if backend is None:
            self.engine.setText(self.tr("llama.cpp is not installed."))
        else:
            where = (
                self.tr("can use the graphics card")
                if backend.has_gpu
                else self.tr("uses the processor only")
            )
            self.engine.setText(
                self.tr("llama.cpp {where} (llama-cpp-python {version})").format(
                    where=where, version=backend.version
                )
            )
        budget = budget_for(report)
        room = self.tr("up to {ram} in the main memory").format(ram=format_bytes(max(budget.ram, 0)))
        if budget.split:  # a model is split across them, each taking a share in proportion to its room
            each = ", ".join(f"{d.label} {format_bytes(max(d.budget, 0))}" for d in budget.devices)
            room = self.tr("up to {gpu} across your {name} ({each}), or {rest}").format(
                gpu=format_bytes(max(budget.gpu or 0, 0)), name=budget.gpu_name, each=each, rest=room)
        elif budget.gpu is not None:
            room = self.tr("up to {gpu} on the {name}, or {rest}").format(
                gpu=format_bytes(max(budget.gpu, 0)), name=budget.gpu_name, rest=room
            )
        self.room.setText(room + self.tr(" (keeping some free for the system and your other programs)"))
        self.warnings.setText("<br><br>".join(report.warnings))
        self.warnings.setVisible(bool(report.warnings))
        self.hardware_changed.emit(report)

    def _gpu_line(self, g: GpuInfo) -> str:
        if g.unified_memory:
            return self.tr("{name}, sharing the main memory: it may use up to {limit}").format(
                name=g.name, limit=format_bytes(g.working_set_limit_bytes)
            )
        text = self.tr("GPU {index}, {name}: {total} of graphics memory, {free} free").format(
            index=g.index, name=g.name, total=format_bytes(g.total_bytes), free=format_bytes(g.free_bytes)
        )
        if g.process_used_bytes:
            text += self.tr(" ({used} used by QuantDesk)").format(used=format_bytes(g.process_used_bytes))
        if not g.usable_by_llama:
            text += self.tr(" — not usable by the installed llama.cpp")
        return text
