"""The Convert page: pick a Hugging Face model folder, pick where the GGUF goes, convert with a progress bar.

Convert puts the conversion in the job queue (it runs after whatever waits on the Jobs page, in a child
process) and this page follows it: waiting, progress, done or why not. Cancel stops the child; its partial
file is removed and nothing appears under the output name.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.core.convert.supported import SUPPORTED_TITLES, convertible_family
from app.core.errors import QuantDeskError
from app.core.jobs.convert import CONVERT, PROGRESS_STEPS, ConvertJobParams, ConvertJobResult
from app.core.jobs.queue import JobRecord, JobState
from app.core.models.hf_folder import read_config
from app.core.paths import models_dir
from app.core.quant_words import explain_quant_type
from app.core.units import format_bytes
from app.ui.error_dialog import DetailsButton
from app.ui.job_controller import JobController
from app.ui.job_watcher import JobWatcher


class ConvertView(QWidget):
    conversion_finished = Signal(object)  # ConvertJobResult
    conversion_failed = Signal(object)  # JobRecord of the failed job
    conversion_cancelled = Signal()

    def __init__(self, controller: JobController, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.watcher = JobWatcher(controller, self)
        self.watcher.changed.connect(self._on_watcher_changed)
        self.watcher.finished.connect(self._on_watcher_finished)
        self.watcher.failed.connect(self._on_watcher_failed)
        self.watcher.stopped.connect(self._on_watcher_stopped)

        intro = QLabel(
            self.tr(
                "Turn a model downloaded from Hugging Face (a folder with config.json and .safetensors "
                "files) into one GGUF file that QuantDesk can chat with and quantize. Supported: {families}. "
                "A conversion is a job: it waits for the jobs before it and is listed on the Jobs page too."
            ).format(families=SUPPORTED_TITLES),
            self,
        )
        intro.setWordWrap(True)

        self.folder_edit = QLineEdit(self)
        self.folder_edit.setAccessibleName(self.tr("Hugging Face model folder"))
        self.folder_edit.setPlaceholderText(self.tr("Model folder"))
        self.folder_edit.textChanged.connect(self._on_folder_edit_text_changed)
        folder_button = QPushButton(self.tr("Choose…"), self)
        folder_button.clicked.connect(self._on_folder_button_clicked)
        self.model_label = QLabel(self)
        self.model_label.setWordWrap(True)

        self.out_edit = QLineEdit(self)
        self.out_edit.setAccessibleName(self.tr("GGUF file to write"))
        self.out_edit.setPlaceholderText(self.tr("Where to save the GGUF file"))
        out_button = QPushButton(self.tr("Save as…"), self)
        out_button.clicked.connect(self._on_out_button_clicked)

        self.type_combo = QComboBox(self)
        for outtype, label in (
            ("f16", self.tr("F16 — full quality, 2 bytes per weight (recommended)")),
            ("q8_0", self.tr("Q8_0 — half the size, nearly the same quality")),
            ("bf16", self.tr("BF16 — full quality, for models trained in bfloat16")),
            ("f32", self.tr("F32 — exact copy, twice the size of F16")),
        ):
            self.type_combo.addItem(label, outtype)
            self.type_combo.setItemData(self.type_combo.count() - 1, explain_quant_type(outtype.upper()),
                                        Qt.ItemDataRole.ToolTipRole)
        self.type_combo.currentIndexChanged.connect(self._on_type_combo_current_index_changed)

        self.convert_button = QPushButton(self.tr("Convert"), self)
        self.convert_button.clicked.connect(self.start)
        self.cancel_button = QPushButton(self.tr("Cancel"), self)
        self.cancel_button.clicked.connect(self.cancel)
        self.progress_bar = QProgressBar(self)
        self.progress_bar.setRange(0, PROGRESS_STEPS)
        self.progress_bar.setValue(0)
        self.progress_bar.setFormat("%p %")
        self.status_label = QLabel(self)
        self.status_label.setWordWrap(True)
        self.details_button = DetailsButton(self)

        form = QFormLayout()
        form.addRow(self.tr("Hugging Face folder:"), _row(self.folder_edit, folder_button))
        form.addRow("", self.model_label)
        form.addRow(self.tr("Save as:"), _row(self.out_edit, out_button))
        form.addRow(self.tr("Format:"), self.type_combo)
        buttons = QHBoxLayout()
        buttons.addWidget(self.convert_button)
        buttons.addWidget(self.cancel_button)
        buttons.addStretch(1)
        status = QHBoxLayout()
        status.addWidget(self.status_label, 1)
        status.addWidget(self.details_button)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addLayout(form)
        layout.addLayout(buttons)
        layout.addWidget(self.progress_bar)
        layout.addLayout(status)
        layout.addStretch(1)
        self._update_buttons()

    # ---- what the person does -----------------------------------------------------------------------

    def set_folder(self, folder: Path) -> None:
        self.folder_edit.setText(str(folder))

    def start(self) -> JobRecord | None:
        """Queue the conversion (it runs on the Jobs page's queue, after the jobs before it) and follow it."""
        folder, out = self.folder_edit.text().strip(), self.out_edit.text().strip()
        if not folder or not out or self.is_running():
            return None
        params = ConvertJobParams(folder=folder, out=out, outtype=self.outtype())
        title = self.tr("Convert {folder} → {out}").format(folder=Path(folder).name, out=Path(out).name)
        self.progress_bar.setValue(0)
        self.details_button.clear()
        record = self.watcher.controller.enqueue(CONVERT, title, params)
        self.watcher.watch(record)
        self._update_buttons()
        return record

    def cancel(self) -> None:
        if self.watcher.active:
            self.status_label.setText(self.tr("Cancelling…"))
            self.watcher.cancel()

    def is_running(self) -> bool:
        return self.watcher.active

    def outtype(self) -> str:
        return str(self.type_combo.currentData())

    # ---- slots --------------------------------------------------------------------------------------

    def _on_folder_button_clicked(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, self.tr("Choose a Hugging Face model folder"))
        if folder:
            self.set_folder(Path(folder))

    def _on_out_button_clicked(self) -> None:
        path, _ = QFileDialog.getSaveFileName(
            self, self.tr("Save the GGUF file as"), self.out_edit.text(), self.tr("GGUF models (*.gguf)")
        )
        if path:
            self.out_edit.setText(path if path.endswith(".gguf") else path + ".gguf")

    def _on_folder_edit_text_changed(self, text: str) -> None:
        self._describe_folder(Path(text.strip()) if text.strip() else None)
        self._suggest_output()
        self._update_buttons()

    def _on_type_combo_current_index_changed(self, _index: int) -> None:
        self._suggest_output()

    def _on_watcher_changed(self, record: JobRecord) -> None:
        if record.state is JobState.QUEUED:
            self.status_label.setText(self.watcher.waiting_text())
            return
        self.status_label.setText(self.tr("Converting…"))
        if record.total:
            self.progress_bar.setValue(min(record.done, record.total))

    def _on_watcher_finished(self, record: JobRecord) -> None:
        result = record.typed_result()
        self.progress_bar.setValue(PROGRESS_STEPS)
        if isinstance(result, ConvertJobResult):
            text = self.tr("Done: {name} ({size}, {tensors} tensors) in {seconds:.1f} s.").format(
                name=Path(result.path).name, size=format_bytes(result.size_bytes), tensors=result.n_tensors,
                seconds=result.seconds)
            if Path(result.path).parent == models_dir():
                text += " " + self.tr("It is now in the Chat page's list.")
            self.status_label.setText(text)
            self.conversion_finished.emit(result)
        self._update_buttons()

    def _on_watcher_failed(self, record: JobRecord) -> None:
        self.progress_bar.setValue(0)
        self.status_label.setText(self.tr("The conversion failed: {message}").format(message=record.error_message))
        self.details_button.set_error(QuantDeskError(record.error_message, record.error_detail),
                                      self.tr("Conversion failed"))
        self._update_buttons()
        self.conversion_failed.emit(record)

    def _on_watcher_stopped(self, _record: JobRecord | None) -> None:
        self.progress_bar.setValue(0)
        self.status_label.setText(self.tr("Cancelled; nothing was written."))
        self._update_buttons()
        self.conversion_cancelled.emit()

    # ---- helpers ------------------------------------------------------------------------------------

    def _describe_folder(self, folder: Path | None) -> None:
        # config.json is a few KB: reading it here keeps the feedback immediate without a worker
        if folder is None:
            self.model_label.setText("")
            return
        try:
            config = read_config(folder)
            family = convertible_family(config)
        except QuantDeskError as error:
            self.model_label.setText(error.message)
            return
        layers = config.get("num_hidden_layers") or config.get("text_config", {}).get("num_hidden_layers")
        self.model_label.setText(
            self.tr("{family} model, {layers} layers — can be converted.").format(
                family=family, layers=layers if layers is not None else "?"
            )
        )

    def _suggest_output(self) -> None:
        folder = self.folder_edit.text().strip()
        current = self.out_edit.text().strip()
        if not folder or (current and not self.out_edit.property("suggested")):
            return
        name = Path(folder).name or "model"
        self.out_edit.setText(str(models_dir() / f"{name}.{self.outtype().upper()}.gguf"))
        self.out_edit.setProperty("suggested", True)

    def _update_buttons(self) -> None:
        running = self.is_running()
        self.convert_button.setEnabled(not running and bool(self.folder_edit.text().strip()))
        self.cancel_button.setEnabled(running)
        for widget in (self.folder_edit, self.out_edit, self.type_combo):
            widget.setEnabled(not running)


def _row(*widgets: QWidget) -> QWidget:
    row = QWidget()
    layout = QHBoxLayout(row)
    layout.setContentsMargins(0, 0, 0, 0)
    for i, widget in enumerate(widgets):
        layout.addWidget(widget, 1 if i == 0 else 0)
    return row
