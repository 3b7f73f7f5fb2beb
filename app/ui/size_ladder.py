"""Size bars from F16 down the ladder: how much smaller each level is, and what it costs, in one line each.

"14.2 GB → 4.1 GB at Q4_K_M, 71 % smaller, about 3 % worse on the published measure" heads the bars for
the recommended level (or the one picked). Each bar is a QProgressBar (a screen reader reads its value and
its accessible name) and each type name carries the type's tooltip (bits per weight, what K and IQ types
and an importance matrix are: app/core/quant_words.py).
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QGridLayout, QLabel, QProgressBar, QVBoxLayout, QWidget

from app.core.advice.recommend import Recommendation
from app.core.quant_words import LadderStep, explain_quant_type, ladder
from app.core.units import format_bytes

_SCALE = 1000


class SizeLadder(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("sizeLadder")
        self.headline = QLabel(self)
        self.headline.setObjectName("ladderHeadline")
        self.headline.setWordWrap(True)
        self.headline.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self._grid = QGridLayout()
        self._grid.setHorizontalSpacing(10)
        self._grid.setVerticalSpacing(3)
        self._grid.setColumnStretch(1, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 4, 0, 4)
        layout.addWidget(self.headline)
        layout.addLayout(self._grid)
        self.steps: list[LadderStep] = []
        self.bars: dict[str, QProgressBar] = {}

    def show_sizes(self, sizes: dict[str, int], highlight: str | None,
                   measured: dict[str, float] | None = None) -> None:
        """`sizes`: type → file bytes, F16 included; `highlight`: the level the headline speaks of;
        `measured`: type → percent worse measured here (the Compare page), shown instead of the published."""
        self._clear()
        if "F16" not in sizes:
            self.headline.setText("")
            return
        f16 = sizes["F16"]
        self.steps = ladder(sizes, measured)
        for row, step in enumerate(self.steps):
            name = QLabel(f"<b>{step.type}</b>" if step.type == highlight else step.type, self)
            name.setToolTip(explain_quant_type(step.type))
            bar = QProgressBar(self)
            bar.setRange(0, _SCALE)
            bar.setValue(round(step.share_of_f16 * _SCALE))
            bar.setTextVisible(False)
            bar.setMaximumHeight(14)
            bar.setToolTip(explain_quant_type(step.type))
            words = step.sentence(f16)
            bar.setAccessibleName(self.tr("{type} size").format(type=step.type))
            bar.setAccessibleDescription(words)
            if step.type == highlight:
                bar.setObjectName("ladderBarHighlight")
            figures = (self.tr("{size}").format(size=format_bytes(step.file_bytes)) if step.type == "F16" else
                       self.tr("{size} · {smaller:.0f} % smaller").format(size=format_bytes(step.file_bytes),
                                                                        smaller=step.percent_smaller))
            if step.percent_worse is not None and step.type != "F16":
                figures += (self.tr(" · {worse} worse, measured here") if step.measured else
                            self.tr(" · {worse} worse")).format(worse=_short_percent(step.percent_worse))
            text = QLabel(figures, self)
            self._grid.addWidget(name, row, 0)
            self._grid.addWidget(bar, row, 1)
            self._grid.addWidget(text, row, 2)
            self.bars[step.type] = bar
        chosen = next((s for s in self.steps if s.type == highlight), None)
        self.headline.setText(chosen.sentence(f16) + "." if chosen else "")

    def show_recommendation(self, rec: Recommendation, measured: dict[str, float] | None = None) -> None:
        self.show_sizes({o.type: o.file_bytes for o in rec.options}, rec.recommended, measured)

    def _clear(self) -> None:
        while self._grid.count():
            item = self._grid.takeAt(0)
            widget = item.widget() if item is not None else None
            if widget is not None:
                widget.deleteLater()
        self.steps, self.bars = [], {}


def _short_percent(value: float) -> str:
    if value < 0.1:
        return "< 0.1 %"
    return f"~{value:.1f} %" if value < 1 else f"~{value:.0f} %"
