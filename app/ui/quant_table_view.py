"""The "Which quant?" page: for a chosen model, every quant level with its size, memory, where it runs, speed
and quality, the recommended one highlighted, and a context-length control that updates the table at once.

Reading a model's facts (a file header, a folder, or the Hub) runs off the GUI thread; the estimate itself
is a formula over those facts and takes milliseconds, so the table follows the slider without waiting.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QBrush, QColor, QFont, QShowEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QSlider,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.core.advice.recommend import QuantOption, Recommendation, recommend
from app.core.advice.sources import read_model_facts
from app.core.errors import QuantDeskError
from app.core.evaluate.measured import MeasuredLadder, measured_ladder
from app.core.machine.hardware import HardwareReport, read_hardware
from app.core.models.facts import ModelFacts
from app.core.models.library import list_models
from app.core.quant_words import explain_quant_type
from app.core.units import format_bytes
from app.ui.background import BackgroundTask
from app.ui.error_dialog import show_error
from app.ui.size_ladder import SizeLadder

CONTEXT_STEPS = [512 * 2**i for i in range(9)]  # 512 … 131072 tokens
DEFAULT_CONTEXT = 4096
BADGE_COLOURS = {"gpu": "#d8f5d0", "partial": "#fff1c2", "cpu": "#dde9f8", "none": "#f8d7d7"}
RECOMMENDED_COLOUR = "#e6f0ff"
COLUMNS = ("Quant", "File size", "Memory needed", "Runs on", "Speed (estimate)", "Quality loss*")


class QuantTableView(QWidget):
    recommendation_changed = Signal(object)  # Recommendation

    def __init__(
        self, parent: QWidget | None = None, read_hardware_now: bool = True, show_first_model: bool = False
    ) -> None:
        super().__init__(parent)
        self.facts: ModelFacts | None = None
        self.hardware: HardwareReport | None = None
        self.recommendation: Recommendation | None = None
        self.measured: MeasuredLadder | None = None  # this model's levels as measured here (Compare page)
        self._tasks: list[BackgroundTask] = []

        title = QLabel(self.tr("<h2>Which quant?</h2>"), self)
        intro = QLabel(
            self.tr(
                "Pick a model file, a downloaded model folder, or a Hugging Face name "
                "(owner/model). Each row is one compression level; smaller files lose more "
                "quality."
            ),
            self,
        )
        intro.setWordWrap(True)
        self.model_box = QComboBox(self)
        self.model_box.setEditable(True)
        self.model_box.setObjectName("modelChoice")
        self.model_box.setMinimumWidth(380)
        self.browse_button = QPushButton(self.tr("Browse…"), self)
        self.show_button = QPushButton(self.tr("Show"), self)
        model_row = QHBoxLayout()
        model_row.addWidget(QLabel(self.tr("Model:"), self))
        model_row.addWidget(self.model_box, 1)
        model_row.addWidget(self.browse_button)
        model_row.addWidget(self.show_button)

        self.ctx_slider = QSlider(Qt.Orientation.Horizontal, self)
        self.ctx_slider.setAccessibleName(self.tr("Context length"))
        self.ctx_slider.setRange(0, len(CONTEXT_STEPS) - 1)
        self.ctx_slider.setPageStep(1)
        self.ctx_slider.setTickPosition(QSlider.TickPosition.TicksBelow)
        self.ctx_slider.setValue(CONTEXT_STEPS.index(DEFAULT_CONTEXT))
        self.ctx_label = QLabel(self)
        self.ctx_label.setMinimumWidth(260)
        ctx_row = QHBoxLayout()
        ctx_row.addWidget(QLabel(self.tr("Context length:"), self))
        ctx_row.addWidget(self.ctx_slider, 1)
        ctx_row.addWidget(self.ctx_label)

        self.status = QLabel(self.tr("Choose a model to see which quant level fits this computer."), self)
        self.status.setWordWrap(True)
        self.sentence = QLabel(self)
        self.sentence.setObjectName("recommendation")
        self.sentence.setWordWrap(True)
        self.sentence.setStyleSheet("QLabel#recommendation { font-size: 13pt; padding: 6px; }")
        self.table = QTableWidget(0, len(COLUMNS), self)
        self.table.setAccessibleName(self.tr("Quant levels"))
        self.table.setHorizontalHeaderLabels([self.tr(c) for c in COLUMNS])
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.note = note = QLabel(self)
        note.setWordWrap(True)
        note.setStyleSheet("color: #555;")
        self._update_note()

        layout = QVBoxLayout(self)
        layout.addWidget(title)
        layout.addWidget(intro)
        layout.addLayout(model_row)
        layout.addLayout(ctx_row)
        layout.addWidget(self.status)
        layout.addWidget(self.sentence)
        layout.addWidget(self.table, 1)
        self.ladder = SizeLadder(self)  # each level's file against F16, in words
        layout.addWidget(self.ladder)
        layout.addWidget(note)

        self.ctx_slider.valueChanged.connect(self._on_ctx_slider_value_changed)
        self.browse_button.clicked.connect(self._on_browse_button_clicked)
        self.show_button.clicked.connect(self._on_show_button_clicked)
        self.model_box.activated.connect(lambda _i: self._on_show_button_clicked())
        self._fill_models()
        self._update_ctx_label()
        if read_hardware_now:
            self._run(read_hardware, self.set_hardware)
        # the starter model: a filled table, not an empty page. Read when the page is first shown, not at the
        # window's start-up, where reading the file (and importing gguf-py for it) would delay the first frame
        self._first_model_pending = show_first_model

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        if self._first_model_pending:
            self._first_model_pending = False
            if self.facts is None and self.model_box.count() and not self.model_box.currentText().strip():
                self.model_box.setCurrentIndex(0)
                self._on_show_button_clicked()

    # ---- inputs ---------------------------------------------------------------------------------------

    @property
    def n_ctx(self) -> int:
        ctx = CONTEXT_STEPS[self.ctx_slider.value()]
        if self.facts is not None:
            ctx = min(ctx, self.facts.context_length)
        return ctx

    def set_context(self, tokens: int) -> None:
        self.ctx_slider.setValue(min(range(len(CONTEXT_STEPS)), key=lambda i: abs(CONTEXT_STEPS[i] - tokens)))

    def set_hardware(self, report: HardwareReport) -> None:
        self.hardware = report
        self.update_table()

    def set_facts(self, facts: ModelFacts) -> None:
        self.facts = facts
        self.measured = measured_ladder(facts)  # a small SQLite read
        if not self.model_box.currentText().strip():
            self.model_box.setEditText(facts.source)
        self.status.setText(
            self.tr(
                "{name}: {arch}, {layers} layers, {params:.0f} M parameters, up to {ctx} tokens of context."
            ).format(
                name=facts.name,
                arch=facts.architecture,
                layers=facts.n_layers,
                params=facts.n_params / 1e6,
                ctx=f"{facts.context_length:,}",
            )
        )
        self._update_ctx_label()
        self.update_table()

    def show_model(self, model: str) -> BackgroundTask:
        """Read a model's facts in the background; the table fills when they arrive."""
        self.status.setText(self.tr("Reading {model}…").format(model=model))
        return self._run(read_model_facts, self.set_facts, model)

    def _fill_models(self) -> None:
        for entry in list_models():
            self.model_box.addItem(entry.title, str(entry.path))
        self.model_box.setCurrentIndex(-1)
        self.model_box.setEditText("")
        line = self.model_box.lineEdit()
        if line is not None:
            line.setPlaceholderText(self.tr("a .gguf file, a model folder, or owner/model"))

    def _run(self, work: Callable[..., Any], on_done: Callable[[Any], None], *args: object) -> BackgroundTask:
        task = BackgroundTask(work, *args, parent=self, pass_progress=False)
        task.finished.connect(on_done)
        task.failed.connect(self._on_task_failed)
        task.finished.connect(lambda _r, t=task: self._tasks.remove(t))
        task.failed.connect(lambda _e, t=task: self._tasks.remove(t))
        self._tasks.append(task)
        task.start()
        return task

    def _on_task_failed(self, error: QuantDeskError) -> None:
        self.status.setText(error.message)
        show_error(self, error)

    def _on_show_button_clicked(self) -> None:
        index = self.model_box.currentIndex()
        text = self.model_box.currentText().strip()
        data = (
            self.model_box.itemData(index) if index >= 0 and self.model_box.itemText(index) == text else None
        )
        if data or text:
            self.show_model(str(data or text))

    def _on_browse_button_clicked(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, self.tr("Choose a GGUF model file"), str(Path.home()), self.tr("GGUF models (*.gguf)")
        )
        if path:
            self.model_box.setEditText(path)
            self.show_model(path)

    def _on_ctx_slider_value_changed(self, _value: int) -> None:
        self._update_ctx_label()
        self.update_table()

    def _update_ctx_label(self) -> None:
        text = self.tr("{n} tokens").format(n=f"{self.n_ctx:,}")
        if self.facts is not None and CONTEXT_STEPS[self.ctx_slider.value()] > self.facts.context_length:
            text += self.tr(" (the model's maximum)")
        self.ctx_label.setText(text)

    # ---- the table ------------------------------------------------------------------------------------

    def refresh_measured(self) -> None:
        """New measurements were made (Compare page): read them again for the model shown."""
        if self.facts is not None:
            self.measured = measured_ladder(self.facts)
            self.update_table()

    def _update_note(self) -> None:
        text = self.tr("Speeds are estimates (memory bandwidth and each layer's time), or measured once a file "
                       "has run here. ")
        if self.measured is None:
            text += self.tr("*Quality loss is the rise in perplexity measured on Llama-3-8B by llama.cpp (lower "
                            "is better); small models lose more. Measure this model's own on the Compare page.")
        else:
            m = self.measured
            text += self.tr("*Quality loss marked \"measured here\" was measured on this computer on {model} "
                            "against {ref} ({text}, context {ctx}): the rise in perplexity and the KL divergence "
                            "(lower is better). Other levels show llama.cpp's figures for Llama-3-8B.").format(
                model=m.model_name, ref=m.reference_type or "the reference", text=m.text_title, ctx=m.n_ctx)
        self.note.setText(text)

    def update_table(self) -> None:
        self._update_note()
        if self.facts is None or self.hardware is None:
            return
        measured = self.measured.quality_by_type() if self.measured is not None else None
        rec = recommend(self.facts, self.hardware, self.n_ctx, measured)
        self.recommendation = rec
        rows = list(rec.options) + ([rec.this_file] if rec.this_file is not None else [])
        self.table.setRowCount(len(rows))
        for row, option in enumerate(rows):
            is_file = option is rec.this_file
            self._fill_row(row, option, is_file, option.type == rec.recommended and not is_file)
        self.sentence.setText(rec.sentence)
        self.ladder.show_recommendation(rec, self.measured.percent_worse_by_type() if self.measured else None)
        self.recommendation_changed.emit(rec)

    def recommended_row(self) -> int | None:
        rec = self.recommendation
        if rec is None or rec.recommended is None:
            return None
        return [o.type for o in rec.options].index(rec.recommended)

    def _fill_row(self, row: int, o: QuantOption, is_file: bool, recommended: bool) -> None:
        name = self.tr("{type} (this file)").format(type=o.type) if is_file else o.type
        if recommended:
            name = self.tr("★ {type} — recommended").format(type=o.type)
        speed = self.tr("~{n:.0f} tokens/s").format(n=o.tokens_per_second) if o.tokens_per_second else "–"
        if o.measured is not None:  # it ran here: what it did beats any estimate
            speed = self.tr("{n:.0f} tokens/s measured").format(n=o.measured.tokens_per_second)
        loss = self._loss_text(o)
        cells = [name, format_bytes(o.file_bytes), format_bytes(o.memory.total), self._badge(o), speed, loss]
        for column, text in enumerate(cells):
            item = QTableWidgetItem(text)
            if column == 3:
                item.setBackground(QBrush(QColor(BADGE_COLOURS[o.placement])))
                item.setTextAlignment(Qt.AlignmentFlag.AlignCenter)
            elif recommended:
                item.setBackground(QBrush(QColor(RECOMMENDED_COLOUR)))
            if column == 3 or recommended:  # dark text on the light badge colours, in the dark theme too
                item.setForeground(QBrush(QColor("#1a1a1a")))
            if recommended:
                font = QFont(item.font())
                font.setBold(True)
                item.setFont(font)
            item.setToolTip(explain_quant_type(o.type) if column == 0 else self._tooltip(o))
            self.table.setItem(row, column, item)

    def _loss_text(self, o: QuantOption) -> str:
        q = o.quality
        if q is None:
            return "–"
        if q.source.startswith("measured here") and self.measured is not None \
                and o.type == self.measured.reference_type:
            return self.tr("the reference of the figures measured here")
        if q.source.startswith("measured here"):
            return self.tr("{d:+.3g} perplexity, KL divergence {k:.4f} — measured here").format(
                d=q.delta_perplexity, k=q.mean_kld or 0.0)
        if self.measured is not None:
            return self.tr("not measured here; Llama-3-8B: +{d:g} perplexity").format(d=q.delta_perplexity)
        return self.tr("+{d:g} perplexity (Llama-3-8B)").format(d=q.delta_perplexity)

    def _badge(self, o: QuantOption) -> str:
        split = len(o.memory.devices) > 1
        where = self.recommendation.budget.gpu_name if self.recommendation is not None else ""
        if o.placement == "gpu" and split:
            return self.tr("{where} — split, fits whole").format(where=where)
        if o.placement == "gpu":
            return self.tr("GPU — fits whole")
        if o.placement == "partial" and split:
            return self.tr("{where} + CPU ({k} of {total} layers off the CPU)").format(
                where=where, k=o.n_gpu_layers, total=o.memory.n_layers + 1)
        if o.placement == "partial":
            return self.tr("GPU + CPU ({n} of {total} layers on GPU)").format(
                n=o.n_gpu_layers, total=o.memory.n_layers + 1
            )
        if o.placement == "cpu":
            return self.tr("CPU")
        return self.tr("Does not fit")

    def _tooltip(self, o: QuantOption) -> str:
        m = o.memory
        text = self.tr("weights {w}, context memory (KV cache) {kv}, working buffers {c}, other {x}").format(
            w=format_bytes(m.weights),
            kv=format_bytes(m.kv_cache),
            c=format_bytes(m.compute),
            x=format_bytes(m.overhead),
        )
        if m.devices and self.recommendation is not None:  # split: what each device holds
            labels = [d.label for d in self.recommendation.budget.devices]
            text += "\n" + " · ".join(f"{label} {format_bytes(d.total)}" for label, d in zip(labels, m.devices,
                                                                                           strict=False))
        return text
