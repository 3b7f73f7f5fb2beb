"""Which files to compare: the models on disk with a tick each, a file added by hand, all levels of one model,
and "Make the ladder…" (the quantize jobs) for a model that has only one level yet."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.core.compare.ladder import Ladder, find_ladder
from app.core.errors import QuantDeskError
from app.core.models.library import list_models
from app.core.units import format_bytes
from app.ui.background import BackgroundTask
from app.ui.error_dialog import show_error

PATH_ROLE = Qt.ItemDataRole.UserRole


class ModelPicker(QWidget):
    ladder_requested = Signal(object)  # Path
    ladder_found = Signal(object)  # Ladder

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.list = QListWidget(self)
        self.list.setObjectName("compareModels")
        self.list.setAccessibleName(self.tr("Model files to compare"))
        self.list.setMaximumHeight(120)
        self.add_button = QPushButton(self.tr("Add GGUF file…"), self)
        self.levels_button = QPushButton(self.tr("Tick all levels of this model"), self)
        self.ladder_button = QPushButton(self.tr("Make the ladder…"), self)
        self.ladder_button.setToolTip(self.tr("Quantize the selected model to Q8_0, Q6_K, Q4_K_M, Q3_K_M and Q2_K "
                                              "(jobs on the Jobs page)"))
        buttons = QVBoxLayout()
        for button in (self.add_button, self.levels_button, self.ladder_button):
            buttons.addWidget(button)
        buttons.addStretch(1)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.list, 1)
        layout.addLayout(buttons)
        self._task: BackgroundTask | None = None
        self.add_button.clicked.connect(self._on_add_button_clicked)
        self.levels_button.clicked.connect(self.tick_levels_of_selected)
        self.ladder_button.clicked.connect(self._on_ladder_button_clicked)
        self.refresh()

    def refresh(self) -> None:
        """List the models on disk again (after a job made one), keeping ticks and hand-added files."""
        ticked = set(self.checked_paths())
        extra = [self.list.item(i).data(PATH_ROLE) for i in range(self.list.count())]
        self.list.clear()
        for entry in list_models():
            self._add(entry.path, f"{entry.title} ({format_bytes(entry.size_bytes)})", entry.path in ticked)
        for path in extra:
            if self._row(Path(path)) < 0 and Path(path).is_file():
                self._add(Path(path), Path(path).name, Path(path) in ticked)

    def _add(self, path: Path, title: str, checked: bool) -> QListWidgetItem:
        item = QListWidgetItem(title, self.list)
        item.setData(PATH_ROLE, str(path))
        item.setToolTip(str(path))
        item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
        item.setCheckState(Qt.CheckState.Checked if checked else Qt.CheckState.Unchecked)
        return item

    def _row(self, path: Path) -> int:
        return next((i for i in range(self.list.count()) if Path(self.list.item(i).data(PATH_ROLE)) == path), -1)

    def add_path(self, path: Path, checked: bool = True) -> None:
        row = self._row(path)
        if row < 0:
            self._add(path, path.name, checked)
        else:
            self.list.item(row).setCheckState(Qt.CheckState.Checked if checked else Qt.CheckState.Unchecked)

    def all_paths(self) -> list[Path]:
        return [Path(self.list.item(i).data(PATH_ROLE)) for i in range(self.list.count())]

    def checked_paths(self) -> list[Path]:
        return [Path(self.list.item(i).data(PATH_ROLE)) for i in range(self.list.count())
                if self.list.item(i).checkState() == Qt.CheckState.Checked]

    def set_checked(self, paths: list[Path]) -> None:
        wanted = {Path(p) for p in paths}
        for i in range(self.list.count()):
            item = self.list.item(i)
            item.setCheckState(Qt.CheckState.Checked if Path(item.data(PATH_ROLE)) in wanted
                               else Qt.CheckState.Unchecked)

    def selected_path(self) -> Path | None:
        item = self.list.currentItem()
        if item is not None:
            return Path(item.data(PATH_ROLE))
        checked = self.checked_paths()
        return checked[0] if checked else None

    def _on_add_button_clicked(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, self.tr("Choose a GGUF model file"), "",
                                              self.tr("GGUF models (*.gguf)"))
        if path:
            self.add_path(Path(path), checked=True)

    def tick_levels_of_selected(self) -> BackgroundTask | None:
        """Tick every listed file that is the selected model at another level (headers read off the GUI
        thread)."""
        model = self.selected_path()
        if model is None or self._task is not None:
            return None
        self._task = BackgroundTask(find_ladder, model, self.all_paths(), parent=self, pass_progress=False)
        self._task.finished.connect(self._on_task_finished)
        self._task.failed.connect(self._on_task_failed)
        self._task.start()
        return self._task

    def _on_task_finished(self, ladder: Ladder) -> None:
        self._task = None
        self.set_checked([f.path for f in ladder.files])
        self.ladder_found.emit(ladder)

    def _on_task_failed(self, error: QuantDeskError) -> None:
        self._task = None
        show_error(self, error)

    def _on_ladder_button_clicked(self) -> None:
        path = self.selected_path()
        if path is not None:
            self.ladder_requested.emit(path)

    def shutdown(self) -> None:
        if self._task is not None:
            self._task.wait(5.0)
