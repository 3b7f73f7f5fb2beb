"""The Compare page: quant levels of one model (or any GGUF files) side by side and blind, and by numbers.

Two tabs share the page: "Side by side" (one prompt to every side, each in its own engine; blind votes) and
"Numbers" (each level measured against the reference as evaluation jobs, with the chart). "Make the
ladder…" on either asks the window to open the Jobs page's Quantize dialog with the ladder ticked.
"""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QLabel, QTabWidget, QVBoxLayout, QWidget

from app.core.compare.votes import VoteStore
from app.ui.compare_bridge import CompareBridge
from app.ui.compare_numbers_panel import CompareNumbersPanel
from app.ui.compare_sides_panel import CompareSidesPanel
from app.ui.job_controller import JobController


class CompareView(QWidget):
    ladder_requested = Signal(object)  # Path of the model to make a ladder of
    measurements_changed = Signal()

    def __init__(self, jobs: JobController, parent: QWidget | None = None, bridge: CompareBridge | None = None,
                 votes: VoteStore | None = None) -> None:
        super().__init__(parent)
        title = QLabel(self.tr("<h2>Compare quant levels</h2>"), self)
        intro = QLabel(self.tr("Feel the difference: the same prompt, seed and sampling to two or more levels of a "
                               "model, side by side or blind. Then see it in numbers, measured on this computer."),
                       self)
        intro.setWordWrap(True)
        self.tabs = QTabWidget(self)
        self.sides = CompareSidesPanel(bridge, votes, self.tabs)
        self.numbers = CompareNumbersPanel(jobs, self.tabs)
        self.tabs.addTab(self.sides, self.tr("Side by side"))
        self.tabs.addTab(self.numbers, self.tr("Numbers"))
        layout = QVBoxLayout(self)
        layout.addWidget(title)
        layout.addWidget(intro)
        layout.addWidget(self.tabs, 1)
        self.sides.ladder_requested.connect(self.ladder_requested)
        self.numbers.ladder_requested.connect(self.ladder_requested)
        self.numbers.measurements_changed.connect(self.measurements_changed)
        self.tabs.currentChanged.connect(self._on_tabs_current_changed)

    def _on_tabs_current_changed(self, _index: int) -> None:
        # the ladder's headers are read the first time the tab is shown, not when the window opens
        if self.tabs.currentWidget() is self.numbers and self.numbers.survey is None:
            self.numbers.refresh()

    def refresh_models(self) -> None:
        """A job made a model file (a quant of the ladder): list it on both tabs."""
        self.sides.picker.refresh()
        self.numbers.refresh_models()

    def shutdown(self) -> None:
        self.sides.shutdown()
        self.numbers.shutdown()
