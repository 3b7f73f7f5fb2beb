"""Quality against file size over a model's ladder, drawn with QPainter (PySide6-Essentials has no QtCharts).

x: the file's size; y: the mean KL divergence from the reference on a log scale (each step down is ten
times closer to the original), lower is better. The reference itself (no loss) is a dashed line at its size.
The recommended level is ringed and named. Sizes and losses are plain data from core; this only draws.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from PySide6.QtCore import QPointF, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QFont, QPainter, QPainterPath, QPaintEvent, QPen
from PySide6.QtWidgets import QSizePolicy, QWidget

LINE = QColor("#2f6fd0")
RECOMMENDED = QColor("#d98a00")
AXIS = QColor("#666666")
GRID = QColor("#e4e8ee")
MIN_KLD = 1e-4  # the bottom of the scale; a level that loses less is drawn on it
UNITS = (("GB", 1024**3), ("MB", 1024**2), ("KB", 1024))


def size_ticks(lo: float, hi: float, most: int = 6) -> list[tuple[float, str]]:
    """Round sizes between lo and hi (bytes) to mark on the axis: steps of 1, 2 or 5 × 10ⁿ of one unit, so
    the axis reads 100 MB, 150 MB, 200 MB rather than 70.2 MB, 120.7 MB."""
    name, unit = next(((n, u) for n, u in UNITS if hi >= u), ("B", 1))
    span = max(hi - lo, 1) / unit
    step = 1.0
    for power in range(math.floor(math.log10(span / most)), 12):
        step = next((m * 10.0**power for m in (1, 2, 2.5, 5) if span / (m * 10.0**power) <= most), 0.0)
        if step:
            break
    first = math.ceil(lo / unit / step) * step
    ticks = []
    value = first
    while value * unit <= hi:
        ticks.append((value * unit, f"{value:g} {name}"))
        value += step
    return ticks


@dataclass(frozen=True)
class ChartPoint:
    label: str  # "Q4_K_M"
    size_bytes: int
    kld: float  # mean KL divergence from the reference; 0 for the reference itself
    recommended: bool = False
    reference: bool = False
    source: bool = False  # the level the reference was expanded from: drawn apart from the line


class QualityChart(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.points: list[ChartPoint] = []
        self.reference_label = "F16"
        self.setMinimumHeight(160)  # the window fits 540 logical pixels at 200 %: the splitter gives it more
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setAccessibleName(self.tr("Quality against file size"))

    def sizeHint(self) -> QSize:
        return QSize(560, 300)

    def set_points(self, points: list[ChartPoint]) -> None:
        self.points = sorted(points, key=lambda p: p.size_bytes)
        self.update()

    # ---- geometry ---------------------------------------------------------------------------------------

    def _decades(self) -> tuple[int, int]:
        losses = [max(p.kld, MIN_KLD) for p in self.points if not p.reference]
        low = math.floor(math.log10(min(losses))) if losses else -3
        high = math.ceil(math.log10(max(losses))) if losses else 0
        return low, max(high, low + 1)

    def _plot_rect(self) -> QRectF:
        return QRectF(70, 16, max(self.width() - 100, 50), max(self.height() - 70, 50))

    def _x(self, size: int, rect: QRectF, lo: int, hi: int) -> float:
        span = max(hi - lo, 1)
        return rect.left() + (size - lo) / span * rect.width()

    def _y(self, kld: float, rect: QRectF, low: int, high: int) -> float:
        value = math.log10(max(kld, MIN_KLD))
        return rect.bottom() - (value - low) / (high - low) * rect.height()

    # ---- drawing ----------------------------------------------------------------------------------------

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.fillRect(self.rect(), QColor("white"))
        if not any(not p.reference for p in self.points):
            painter.setPen(AXIS)
            painter.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter,
                             self.tr("Measure the ladder to see its quality against file size."))
            painter.end()
            return
        rect = self._plot_rect()
        low, high = self._decades()
        sizes = [p.size_bytes for p in self.points]
        pad = max((max(sizes) - min(sizes)) * 0.08, max(sizes) * 0.02, 1)
        lo, hi = int(min(sizes) - pad), int(max(sizes) + pad)
        self._draw_axes(painter, rect, low, high, lo, hi)
        measured = [p for p in self.points if not p.reference and not p.source]
        path = QPainterPath()
        for i, p in enumerate(measured):
            point = QPointF(self._x(p.size_bytes, rect, lo, hi), self._y(p.kld, rect, low, high))
            if i == 0:
                path.moveTo(point)
            else:
                path.lineTo(point)
        painter.setPen(QPen(LINE, 2))
        painter.drawPath(path)
        for p in self.points:
            if p.reference:
                self._draw_reference(painter, p, rect, lo, hi)
            else:
                self._draw_point(painter, p, rect, low, high, lo, hi)
        painter.end()

    def _draw_axes(self, painter: QPainter, rect: QRectF, low: int, high: int, lo: int, hi: int) -> None:
        small = QFont(self.font())
        small.setPointSizeF(max(small.pointSizeF() - 1, 7))
        painter.setFont(small)
        for decade in range(low, high + 1):
            y = self._y(10.0**decade, rect, low, high)
            painter.setPen(QPen(GRID, 1))
            painter.drawLine(QPointF(rect.left(), y), QPointF(rect.right(), y))
            painter.setPen(AXIS)
            painter.drawText(QRectF(0, y - 8, rect.left() - 6, 16), Qt.AlignmentFlag.AlignRight
                             | Qt.AlignmentFlag.AlignVCenter, f"{10.0**decade:g}")
        for size, text in size_ticks(lo, hi):
            x = self._x(int(size), rect, lo, hi)
            painter.setPen(QPen(GRID, 1))
            painter.drawLine(QPointF(x, rect.top()), QPointF(x, rect.bottom()))
            painter.setPen(AXIS)
            painter.drawLine(QPointF(x, rect.bottom()), QPointF(x, rect.bottom() + 4))
            painter.drawText(QRectF(x - 50, rect.bottom() + 5, 100, 16), Qt.AlignmentFlag.AlignHCenter, text)
        painter.setPen(QPen(AXIS, 1))
        painter.drawLine(rect.bottomLeft(), rect.bottomRight())
        painter.drawLine(rect.bottomLeft(), rect.topLeft())
        painter.drawText(QRectF(rect.left(), rect.bottom() + 24, rect.width(), 18), Qt.AlignmentFlag.AlignHCenter,
                         self.tr("File size →"))
        painter.save()
        painter.translate(14, rect.center().y())
        painter.rotate(-90)
        painter.drawText(QRectF(-rect.height() / 2, -10, rect.height(), 20), Qt.AlignmentFlag.AlignCenter,
                         self.tr("KL divergence (lower is better)"))
        painter.restore()

    def _draw_reference(self, painter: QPainter, p: ChartPoint, rect: QRectF, lo: int, hi: int) -> None:
        x = self._x(p.size_bytes, rect, lo, hi)
        painter.setPen(QPen(AXIS, 1, Qt.PenStyle.DashLine))
        painter.drawLine(QPointF(x, rect.top()), QPointF(x, rect.bottom()))
        painter.drawText(QRectF(x - 110, rect.top(), 104, 16), Qt.AlignmentFlag.AlignRight,
                         self.tr("{label} (reference)").format(label=p.label))

    def _draw_point(self, painter: QPainter, p: ChartPoint, rect: QRectF, low: int, high: int, lo: int,
                    hi: int) -> None:
        center = QPointF(self._x(p.size_bytes, rect, lo, hi), self._y(p.kld, rect, low, high))
        painter.setPen(QPen(LINE, 2) if p.source else QPen(QColor("white"), 1.5))
        painter.setBrush(QColor("white") if p.source else LINE)
        painter.drawEllipse(center, 5, 5)
        label = self.tr("{label} (the reference's source)").format(label=p.label) if p.source else p.label
        if p.recommended:
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.setPen(QPen(RECOMMENDED, 3))
            painter.drawEllipse(center, 11, 11)
            label = self.tr("★ {label} — recommended").format(label=p.label)
        bold = QFont(painter.font())
        bold.setBold(p.recommended)
        painter.setFont(bold)
        painter.setPen(RECOMMENDED.darker(130) if p.recommended else QColor("#222222"))
        # The line falls from small files (high loss, upper left) to large ones (lower right), so a label
        # above and to the right of its point crosses neither segment; near the top edge it goes below, and
        # near the right edge to the left.
        width = painter.fontMetrics().horizontalAdvance(label) + 4
        gap = 14 if p.recommended else 8
        above = center.y() - rect.top() > 24
        left = center.x() + gap if center.x() + gap + width <= self.width() - 4 else center.x() - gap - width
        top = center.y() - 20 if above else center.y() + 4
        painter.drawText(QRectF(left, top, width, 18), Qt.AlignmentFlag.AlignLeft, label)
        bold.setBold(False)
        painter.setFont(bold)
