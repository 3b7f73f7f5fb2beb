"""One Hub repo, inspected: what it is, whether QuantDesk can use it, the files to pick, the disk it needs.

Shows a core RepoInspection; it asks the network for nothing itself except saving a token (on a worker
thread). Beside it, the recommendation for this computer the inspection arrives with (hub_recommend): the
recommended level with its memory need and placement, why in one sentence, and for a repo of ready GGUF
files the one that fits best, ticked; or in plain words why QuantDesk can't estimate this model.
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.core.advice.recommend import QuantOption
from app.core.advice.repo import RepoRecommendation
from app.core.convert.supported import CONVERTIBLE_ARCHITECTURES, SUPPORTED_TITLES
from app.core.errors import QuantDeskError
from app.core.paths import hf_cache_dir
from app.core.quant_words import explain_quant_type
from app.core.units import format_bytes
from app.ui.background import BackgroundTask
from app.ui.error_dialog import show_error

if TYPE_CHECKING:  # the Hub client loads with the first inspection, not at start-up
    from app.core.hub.inspect import RepoInspection

COLUMNS = ("File", "Size", "Quant (name)", "Quant (header)")


def format_parameters(n: int) -> str:
    for scale, unit in ((1e9, "B"), (1e6, "M"), (1e3, "K")):
        if n >= scale:
            return f"{n / scale:.1f} {unit}".replace(".0 ", " ")
    return str(n)


class ModelInspectPanel(QWidget):
    download_requested = Signal(str, list, object)  # repo_id, file names, folder (None: the HF cache)
    token_saved = Signal(str)  # the account name: gated files can be read now, so look again

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.inspection: RepoInspection | None = None
        self.recommendation: RepoRecommendation | None = None
        self.folder: Path | None = None
        self._token_task: BackgroundTask | None = None

        self.title = QLabel(self)
        self.title.setTextFormat(Qt.TextFormat.RichText)
        self.title.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.kind_label = self._value_label()
        self.size_label = self._value_label()
        self.licence_label = self._value_label()
        self.recommendation_label = self._value_label()
        self.recommendation_label.setObjectName("recommendation")
        self.recommendation_label.setTextFormat(Qt.TextFormat.RichText)
        self.disk_label = self._value_label()
        form = QFormLayout()
        form.addRow(self.tr("What it is:"), self.kind_label)
        form.addRow(self.tr("Size:"), self.size_label)
        form.addRow(self.tr("Licence:"), self.licence_label)
        form.addRow(self.tr("For this computer:"), self.recommendation_label)
        form.addRow(self.tr("Disk:"), self.disk_label)

        self.table = QTableWidget(0, len(COLUMNS), self)
        self.table.setAccessibleName(self.tr("Files in this model"))
        self.table.setHorizontalHeaderLabels([self.tr(c) for c in COLUMNS])
        self.table.verticalHeader().setVisible(False)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        for c in range(1, len(COLUMNS)):
            header.setSectionResizeMode(c, QHeaderView.ResizeMode.ResizeToContents)

        self.token_box = QWidget(self)
        self.token_edit = QLineEdit(self.token_box)
        self.token_edit.setAccessibleName(self.tr("Hugging Face access token"))
        self.token_edit.setEchoMode(QLineEdit.EchoMode.Password)
        self.token_edit.setPlaceholderText(self.tr("Hugging Face access token (hf_…)"))
        self.token_button = QPushButton(self.tr("Save token"), self.token_box)
        token_row = QHBoxLayout(self.token_box)
        token_row.setContentsMargins(0, 0, 0, 0)
        token_row.addWidget(QLabel(self.tr("This model is gated:"), self.token_box))
        token_row.addWidget(self.token_edit, 1)
        token_row.addWidget(self.token_button)

        self.folder_label = QLabel(self)
        self.folder_label.setWordWrap(True)
        self.folder_button = QPushButton(self.tr("Choose folder…"), self)
        self.cache_button = QPushButton(self.tr("Use the shared cache"), self)
        self.download_button = QPushButton(self.tr("Download"), self)
        self.download_button.setObjectName("downloadButton")
        dest_row = QHBoxLayout()
        dest_row.addWidget(self.folder_label, 1)
        dest_row.addWidget(self.cache_button)
        dest_row.addWidget(self.folder_button)
        dest_row.addWidget(self.download_button)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.title)
        layout.addLayout(form)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.token_box)
        layout.addLayout(dest_row)

        self.token_button.clicked.connect(self._on_token_button_clicked)
        self.token_edit.returnPressed.connect(self._on_token_button_clicked)
        self.folder_button.clicked.connect(self._on_folder_button_clicked)
        self.cache_button.clicked.connect(self._on_cache_button_clicked)
        self.download_button.clicked.connect(self._on_download_button_clicked)
        self.table.itemChanged.connect(lambda _item: self._update_buttons())
        self.clear()

    def _value_label(self) -> QLabel:
        label = QLabel(self)
        label.setWordWrap(True)
        label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        return label

    # ---- showing ------------------------------------------------------------------------------------

    def clear(self, message: str = "") -> None:
        self.inspection = None
        self.recommendation = None
        self.title.setText(message or self.tr("<i>Pick a model on the left to see what is in it.</i>"))
        for label in (self.kind_label, self.size_label, self.licence_label, self.disk_label):
            label.setText("")
        self.recommendation_label.setText("")
        self.table.setRowCount(0)
        self.token_box.setVisible(False)
        self._show_folder()
        self._update_buttons()

    def show_inspection(self, inspection: RepoInspection, recommendation: RepoRecommendation | None = None) -> None:
        """The repo, and beside it what QuantDesk recommends for it on this computer (None: not estimated)."""
        self.inspection = inspection
        self.recommendation = recommendation
        self.title.setText(f"<b>{inspection.repo_id}</b>")
        self.kind_label.setText(self._kind_text(inspection))
        size = self.tr("{files} files, {bytes} in all").format(files=len(inspection.files),
                                                                 bytes=format_bytes(inspection.download_bytes))
        if inspection.safetensors is not None:
            st = inspection.safetensors
            size += self.tr(" · {params} parameters ({dtype})").format(
                params=format_parameters(st.parameter_count), dtype=", ".join(d for d, _ in st.dtypes))
        self.size_label.setText(size)
        gate = (self.tr("gated: you must accept the authors' terms on huggingface.co")
                if inspection.gated else "")
        licence = inspection.license or self.tr("not stated")
        self.licence_label.setText(", ".join(x for x in (licence, gate) if x))
        self.recommendation_label.setText(self._recommendation_text(recommendation))
        self.disk_label.setText(self._disk_text(inspection))
        self._fill_table(inspection)
        from app.core.hub.connection import has_token  # loaded by the inspection that got us here

        self.token_box.setVisible(inspection.gated and not has_token())
        self._update_buttons()

    def _placement_text(self, option: QuantOption) -> str:
        if option.placement == "gpu":
            return self.tr("all on the GPU")
        if option.placement == "partial":
            return self.tr("{n} layers on the GPU, the rest on the processor").format(n=option.n_gpu_layers)
        return self.tr("on the processor")

    def _recommendation_text(self, rec: RepoRecommendation | None) -> str:
        if rec is None:
            return self.tr("<i>not estimated for this computer</i>")
        chosen = rec.chosen
        if chosen is None:  # can't be sized (the plain reason), or nothing fits (the estimator's sentence)
            lines = [html.escape(rec.sentence, quote=False)]
        else:
            lines = [self.tr("<b>{type}</b> — needs about {memory} of memory, runs {where}.").format(
                type=chosen.type, memory=format_bytes(chosen.memory.total),
                where=self._placement_text(chosen)), html.escape(rec.sentence, quote=False)]
        if rec.recommendation is not None and rec.files:
            best = next((f for f in rec.files if f.path == rec.best_file), None)
            if best is None:
                lines.append(self.tr("None of the GGUF files here fits this computer."))
            elif best.quant == rec.recommended:
                lines.append(self.tr("Its {type} file here: <b>{file}</b> (ticked below).").format(
                    type=best.quant, file=html.escape(best.path, quote=False)))
            else:
                memory = format_bytes(best.option.memory.total) if best.option else "?"
                lines.append(self.tr("There is no {type} file here; the largest that fits is <b>{file}</b> "
                                     "(about {memory} of memory, ticked below).").format(
                    type=rec.recommended or "", file=html.escape(best.path, quote=False), memory=memory))
        return "<br>".join(lines)

    def _kind_text(self, inspection: RepoInspection) -> str:
        arch = inspection.architecture or self.tr("unknown")
        if inspection.gguf_files:
            return self.tr("Ready-made GGUF files ({arch}): no conversion needed — pick one below.").format(
                arch=arch)
        if inspection.convertible:
            family = CONVERTIBLE_ARCHITECTURES.get(inspection.architecture or "", arch)
            return self.tr("{family} weights (safetensors). QuantDesk can convert them to GGUF.").format(
                family=family)
        if inspection.safetensors is not None:
            return self.tr("{arch} weights. QuantDesk can't convert this architecture yet. Supported: "
                           "{families}.").format(arch=arch, families=SUPPORTED_TITLES)
        if any(f.kind == "safetensors" for f in inspection.files):
            why = self.tr(" (the model is gated: save a token with access)") if inspection.gated else ""
            return self.tr("Safetensors weights; their details could not be read{why}.").format(why=why)
        return self.tr("No GGUF or safetensors weights in this repo: nothing QuantDesk can use.")

    def _disk_text(self, inspection: RepoInspection) -> str:
        free = format_bytes(inspection.free_bytes)
        if inspection.disk is not None:
            d = inspection.disk
            verdict = self.tr("fits") if d.fits else self.tr("does NOT fit")
            return self.tr("{download} download + {f16} F16 + {quant} quantized = {total}; {free} free — "
                           "{verdict}").format(download=format_bytes(d.download_bytes),
                                               f16=format_bytes(d.f16_bytes),
                                               quant=format_bytes(d.quant_bytes),
                                               total=format_bytes(d.total_bytes), free=free, verdict=verdict)
        if inspection.gguf_files:
            return self.tr("the GGUF file you pick (sizes below); {free} free").format(free=free)
        return self.tr("{free} free").format(free=free)

    def _fill_table(self, inspection: RepoInspection) -> None:
        self.table.blockSignals(True)
        ggufs = {g.path: g for g in inspection.gguf_files}
        best = self._best_gguf(inspection, self.recommendation)
        self.table.setRowCount(len(inspection.files))
        for row, f in enumerate(inspection.files):
            name = QTableWidgetItem(f.path)
            name.setFlags(Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsUserCheckable)
            # safetensors: the weights and their config/tokenizer files; GGUF: a person picks one quant
            # (the one that fits this computer best is pre-ticked)
            checked = f.path == best if ggufs else f.kind in ("safetensors", "config")
            name.setCheckState(Qt.CheckState.Checked if checked else Qt.CheckState.Unchecked)
            if f.path == best and len(ggufs) > 1:
                name.setText(self.tr("★ {file}").format(file=f.path))
                name.setToolTip(self.tr("The file that fits this computer best"))
            name.setData(Qt.ItemDataRole.UserRole, f.path)
            self.table.setItem(row, 0, name)
            size = QTableWidgetItem(format_bytes(f.size))
            if f.kind == "gguf" and f.size > inspection.free_bytes:
                size.setText(self.tr("{size} (too big for the free disk)").format(size=format_bytes(f.size)))
            self.table.setItem(row, 1, size)
            g = ggufs.get(f.path)
            quant = QTableWidgetItem(g.quant_from_name or "" if g else "")
            quant.setToolTip(explain_quant_type(quant.text()))  # bits per weight, K/IQ, importance matrix
            self.table.setItem(row, 2, quant)
            if g is None:
                header_text = ""
            elif g.header_error:
                header_text = self.tr("unreadable: {reason}").format(reason=g.header_error)
            elif g.quant_from_header is None:
                header_text = self.tr("not read")
            elif g.confirmed is False:
                header_text = self.tr("{q} — differs from the name!").format(q=g.quant_from_header)
            else:
                header_text = self.tr("{q} ✓").format(q=g.quant_from_header)
            self.table.setItem(row, 3, QTableWidgetItem(header_text))
        self.table.blockSignals(False)

    @staticmethod
    def _best_gguf(inspection: RepoInspection, rec: RepoRecommendation | None) -> str | None:
        """The GGUF file to pre-tick: the recommendation's pick; without an estimate, the only one."""
        if rec is not None and rec.recommendation is not None:
            return rec.best_file
        return inspection.gguf_files[0].path if len(inspection.gguf_files) == 1 else None

    def checked_files(self) -> list[str]:
        files = []
        for row in range(self.table.rowCount()):
            item = self.table.item(row, 0)
            if item is not None and item.checkState() == Qt.CheckState.Checked:
                files.append(str(item.data(Qt.ItemDataRole.UserRole)))
        return files

    def set_checked(self, paths: set[str]) -> None:
        for row in range(self.table.rowCount()):
            item = self.table.item(row, 0)
            if item is not None:
                item.setCheckState(Qt.CheckState.Checked if item.data(Qt.ItemDataRole.UserRole) in paths
                                   else Qt.CheckState.Unchecked)

    def set_busy(self, busy: bool) -> None:
        self._busy = busy
        self._update_buttons()

    def _show_folder(self) -> None:
        where = self.folder or hf_cache_dir()
        what = self.tr("Save to the shared Hugging Face cache") if self.folder is None else self.tr("Save to")
        self.folder_label.setText(f"{what}: {where}")
        self.cache_button.setVisible(self.folder is not None)

    def _update_buttons(self) -> None:
        busy = getattr(self, "_busy", False)
        ready = self.inspection is not None and bool(self.checked_files())
        self.download_button.setEnabled(ready and not busy)

    # ---- slots --------------------------------------------------------------------------------------

    def _on_download_button_clicked(self) -> None:
        if self.inspection is None:
            return
        self.download_requested.emit(self.inspection.repo_id, self.checked_files(), self.folder)

    def _on_folder_button_clicked(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, self.tr("Save the model in…"))
        if folder:
            self.folder = Path(folder)
            self._show_folder()

    def _on_cache_button_clicked(self) -> None:
        self.folder = None
        self._show_folder()

    def _on_token_button_clicked(self) -> None:
        token = self.token_edit.text()
        self.token_edit.clear()  # the token leaves the widget at once; only huggingface_hub's store keeps it
        self.token_button.setEnabled(False)
        from app.core.hub.connection import save_token

        self._token_task = BackgroundTask(save_token, token, parent=self, pass_progress=False)
        self._token_task.finished.connect(self._on_token_task_finished)
        self._token_task.failed.connect(self._on_token_task_failed)
        self._token_task.start()

    def _on_token_task_finished(self, account: str) -> None:
        self.token_button.setEnabled(True)
        self.token_box.setVisible(False)
        self.licence_label.setText(self.licence_label.text() + self.tr(" · token saved for {name}").format(
            name=account))
        self.token_saved.emit(account)

    def _on_token_task_failed(self, error: QuantDeskError) -> None:
        self.token_button.setEnabled(True)
        show_error(self, error, self.tr("Hugging Face token"))
