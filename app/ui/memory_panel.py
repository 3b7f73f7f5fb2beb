"""Live memory: the computer's RAM, the engine's resident memory and graphics memory, the graphics card's
total (NVML), as numbers and a small timeline, with the estimate for the loaded model beside them so the
estimate and reality can be compared.

The window samples on a worker thread once a second (MainWindow's readouts); this panel only draws.
"""

from __future__ import annotations

from collections import deque

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QPainter, QPaintEvent, QPen
from PySide6.QtWidgets import QFormLayout, QGroupBox, QLabel, QSizePolicy, QVBoxLayout, QWidget

from app.core.advice.estimate import MemoryEstimate
from app.core.machine.hardware import MemorySnapshot
from app.core.units import format_bytes

HISTORY = 120  # samples: two minutes at one a second
ENGINE_COLOUR = QColor("#1f6feb")
VRAM_COLOUR = QColor("#8250df")
ESTIMATE_COLOUR = QColor("#bf8700")


class MemoryTimeline(QWidget):
    """The engine's RAM (blue) and graphics memory (purple) over the last two minutes; the estimate dashed."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.rss: deque[int] = deque(maxlen=HISTORY)
        self.vram: deque[int] = deque(maxlen=HISTORY)
        self.estimate: int | None = None
        self.setMinimumHeight(self.fontMetrics().height() * 4)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setFixedHeight(self.fontMetrics().height() * 5)
        self.setToolTip(self.tr("Engine memory over the last two minutes: RAM (blue), graphics memory "
                                "(purple), the estimate (dashed)"))

    def add(self, rss: int | None, vram: int | None) -> None:
        self.rss.append(rss or 0)
        self.vram.append(vram or 0)
        self.update()

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        area = QRectF(self.rect()).adjusted(1, 1, -1, -1)
        painter.fillRect(area, self.palette().base().color())  # the theme's own (light or dark)
        painter.setPen(self.palette().mid().color())
        painter.drawRect(area)
        top = max([*self.rss, *self.vram, self.estimate or 0, 1]) * 1.15

        def y(value: float) -> float:
            return area.bottom() - (value / top) * area.height()

        if self.estimate:
            pen = QPen(ESTIMATE_COLOUR, 1, Qt.PenStyle.DashLine)
            painter.setPen(pen)
            painter.drawLine(QPointF(area.left(), y(self.estimate)), QPointF(area.right(), y(self.estimate)))
        step = area.width() / max(HISTORY - 1, 1)
        for series, colour in ((self.rss, ENGINE_COLOUR), (self.vram, VRAM_COLOUR)):
            if not any(series):
                continue
            painter.setPen(QPen(colour, 2))
            start = area.right() - step * (len(series) - 1)
            points = [QPointF(start + i * step, y(v)) for i, v in enumerate(series)]
            painter.drawPolyline(points)
        painter.end()


class MemoryPanel(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.system = QLabel("–", self)
        self.engine_ram = QLabel("–", self)
        self.engine_vram = QLabel("–", self)
        self.gpu_total = QLabel("–", self)
        for label in (self.system, self.engine_ram, self.engine_vram, self.gpu_total):
            label.setWordWrap(True)
        self.estimate = QLabel(self.tr("Load a model to see its estimate."), self)
        self.estimate.setWordWrap(True)
        self.comparison = QLabel(self)
        self.comparison.setWordWrap(True)
        self.comparison.setObjectName("memoryComparison")
        self.timeline = MemoryTimeline(self)
        box = QGroupBox(self.tr("Memory now"), self)
        form = QFormLayout(box)
        form.addRow(self.tr("Computer RAM"), self.system)
        form.addRow(self.tr("Engine, RAM"), self.engine_ram)
        form.addRow(self.tr("Engine, graphics"), self.engine_vram)
        form.addRow(self.tr("Graphics card"), self.gpu_total)
        form.addRow(self.timeline)
        est = QGroupBox(self.tr("Estimate for the loaded model"), self)
        est_layout = QVBoxLayout(est)
        est_layout.addWidget(self.estimate)
        est_layout.addWidget(self.comparison)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(box)
        layout.addWidget(est)
        layout.addStretch(1)
        self._estimate: MemoryEstimate | None = None
        self._idle_rss: int | None = None  # the engine's RAM before the model: the estimate is what loading adds
        self.last: MemorySnapshot | None = None

    def set_estimate(self, estimate: MemoryEstimate | None, baseline_rss: int | None = None) -> None:
        self._estimate = estimate
        self._idle_rss = baseline_rss
        if estimate is None:
            self.estimate.setText(self.tr("No estimate for this model (its file could not be read ahead)."))
            self.timeline.estimate = None
        else:
            text = self.tr("RAM {ram}").format(ram=format_bytes(estimate.cpu.total))
            if estimate.gpu.total:
                text += self.tr(", graphics memory {vram}").format(vram=format_bytes(estimate.gpu.total))
            self.estimate.setText(text + self.tr(" (weights {w}, context cache {kv})").format(
                w=format_bytes(estimate.weights), kv=format_bytes(estimate.kv_cache)))
            self.timeline.estimate = estimate.cpu.total + (baseline_rss or 0)
        self.timeline.update()

    def clear_estimate(self) -> None:
        self._estimate = None
        self.estimate.setText(self.tr("Load a model to see its estimate."))
        self.comparison.clear()
        self.timeline.estimate = None

    def add_snapshot(self, snap: MemorySnapshot) -> None:
        self.last = snap
        self.system.setText(self.tr("{used} of {total} in use").format(
            used=format_bytes(snap.system_used_bytes), total=format_bytes(snap.system_total_bytes)))
        self.engine_ram.setText(format_bytes(snap.process_rss_bytes) if snap.process_rss_bytes is not None
                                else self.tr("not running"))
        if snap.process_vram_bytes is not None:
            self.engine_vram.setText(format_bytes(snap.process_vram_bytes))
        else:
            self.engine_vram.setText(self.tr("none") if snap.gpu_total_bytes else self.tr("no NVIDIA graphics card"))
        if snap.gpu_total_bytes:
            self.gpu_total.setText(self.tr("{used} of {total} in use").format(
                used=format_bytes(snap.gpu_used_bytes or 0), total=format_bytes(snap.gpu_total_bytes)))
        else:
            self.gpu_total.setText(self.tr("none found"))
        self.timeline.add(snap.process_rss_bytes, snap.process_vram_bytes)
        self._compare(snap)

    def _compare(self, snap: MemorySnapshot) -> None:
        est = self._estimate
        if est is None or snap.process_rss_bytes is None:
            self.comparison.clear()
            return
        added = snap.process_rss_bytes - (self._idle_rss or 0)
        text = self.tr("The engine holds {real} more RAM than before the model; the estimate said {est}.").format(
            real=format_bytes(max(added, 0)), est=format_bytes(est.cpu.total))
        if est.gpu.total and snap.process_vram_bytes is not None:
            text += " " + self.tr("Graphics memory: {real}, estimated {est}.").format(
                real=format_bytes(snap.process_vram_bytes), est=format_bytes(est.gpu.total))
        self.comparison.setText(text)
