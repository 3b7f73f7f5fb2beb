"""The "Quantize…" dialog: which model, which levels (a ladder preset), with an importance matrix or not."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.core.models.library import list_models
from app.core.quant_words import explain_quant_type
from app.core.quants import DEFAULT_LADDER, QUANT_TYPES
from app.core.units import format_bytes

PATH_ROLE = Qt.ItemDataRole.UserRole


@dataclass(frozen=True)
class QuantizeChoice:
    src: Path
    type_names: tuple[str, ...]
    calibration: Path | None  # None: no importance matrix unless a type needs one
    use_imatrix: bool


class QuantizeDialog(QDialog):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(self.tr("Quantize a model"))
        self.resize(520, 600)
        self.model = QComboBox(self)
        self.model.setObjectName("modelChoice")
        for entry in list_models():
            self.model.addItem(f"{entry.title} ({format_bytes(entry.size_bytes)})", str(entry.path))
        browse = QPushButton(self.tr("Choose file…"), self)
        browse.clicked.connect(self._on_browse_clicked)

        self.types = QListWidget(self)
        self.types.setAccessibleName(self.tr("Quant types"))
        self.types.setObjectName("typeList")
        for t in QUANT_TYPES:
            note = ""
            if t.needs_imatrix:
                note = self.tr(" — needs an importance matrix")
            elif t.imatrix_recommended:
                note = self.tr(" — best with an importance matrix")
            bits = self.tr("about {bits:.1f} bits per weight").format(bits=t.main_bits_per_weight)
            item = QListWidgetItem(f"{t.name}  ·  {bits}{note}", self.types)
            item.setData(PATH_ROLE, t.name)
            item.setToolTip(explain_quant_type(t.name))
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(Qt.CheckState.Checked if t.name in DEFAULT_LADDER else Qt.CheckState.Unchecked)
        ladder = QPushButton(self.tr("Comparison ladder: {types}").format(types=", ".join(DEFAULT_LADDER)),
                             self)
        ladder.clicked.connect(self._on_ladder_clicked)

        self.use_imatrix = QCheckBox(self.tr("Use an importance matrix (better quality at 4 bits and below)"),
                                     self)
        self.use_imatrix.setChecked(True)
        self.calibration_label = QLabel(self.tr("Calibration text: QuantDesk's built-in English text"), self)
        self.calibration_label.setWordWrap(True)
        self._calibration: Path | None = None
        calibrate = QPushButton(self.tr("Use my own text…"), self)
        calibrate.clicked.connect(self._on_calibrate_clicked)

        ok, cancel = QDialogButtonBox.StandardButton.Ok, QDialogButtonBox.StandardButton.Cancel
        buttons = QDialogButtonBox(ok | cancel, self)
        buttons.button(QDialogButtonBox.StandardButton.Ok).setText(self.tr("Add to jobs"))
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)

        model_row = QHBoxLayout()
        model_row.addWidget(self.model, 1)
        model_row.addWidget(browse)
        calibration_row = QHBoxLayout()
        calibration_row.addWidget(self.calibration_label, 1)
        calibration_row.addWidget(calibrate)
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel(self.tr("<b>Model</b>"), self))
        layout.addLayout(model_row)
        layout.addWidget(QLabel(self.tr("<b>Levels</b> — each one becomes a job; smaller levels lose more "
                                        "quality"), self))
        layout.addWidget(self.types, 1)
        layout.addWidget(ladder)
        layout.addWidget(self.use_imatrix)
        layout.addLayout(calibration_row)
        layout.addWidget(buttons)

    def _on_browse_clicked(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, self.tr("Choose a GGUF model"), "",
                                              self.tr("GGUF models (*.gguf)"))
        if path:
            self.set_source(Path(path))

    def set_source(self, path: Path) -> None:
        index = self.model.findData(str(path))
        if index < 0:
            self.model.addItem(path.name, str(path))
            index = self.model.count() - 1
        self.model.setCurrentIndex(index)

    def _on_ladder_clicked(self) -> None:
        self.set_types(DEFAULT_LADDER)

    def set_types(self, names: tuple[str, ...]) -> None:
        for i in range(self.types.count()):
            item = self.types.item(i)
            wanted = item.data(PATH_ROLE) in names
            item.setCheckState(Qt.CheckState.Checked if wanted else Qt.CheckState.Unchecked)

    def _on_calibrate_clicked(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, self.tr("Choose a calibration text"), "",
                                              self.tr("Text files (*.txt);;All files (*)"))
        if path:
            self._calibration = Path(path)
            self.use_imatrix.setChecked(True)
            self.calibration_label.setText(self.tr("Calibration text: {name}").format(name=Path(path).name))

    def choice(self) -> QuantizeChoice | None:
        src = self.model.currentData()
        names = tuple(self.types.item(i).data(PATH_ROLE) for i in range(self.types.count())
                      if self.types.item(i).checkState() == Qt.CheckState.Checked)
        if not src or not names:
            return None
        return QuantizeChoice(Path(src), names, self._calibration, self.use_imatrix.isChecked())
