"""Settings: the data folder, the models folder, threads, the graphics memory limit, the theme, offline by
default; a menu entry on Linux.

Each change is saved at once in the settings file (app/core/settings.py, checked values). The theme applies
at once; a new data folder is used from the next start (the open conversations and jobs stay where they
are, and nothing is moved); a new models folder is where the next conversion or quantization goes.
"""

from __future__ import annotations

import sys
from pathlib import Path

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QApplication,
    QCheckBox,
    QComboBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from app.core.desktop_entry import install_menu_entry, launch_command
from app.core.errors import QuantDeskError
from app.core.paths import data_dir, default_data_dir, models_dir
from app.core.settings import THEMES, get_setting, set_setting
from app.ui.error_dialog import show_error
from app.ui.theme import apply_theme

THEME_LABELS = {"system": "Same as the system", "light": "Light", "dark": "Dark"}


class SettingsView(QWidget):
    theme_changed = Signal(str)
    models_dir_changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        title = QLabel(self.tr("<h2>Settings</h2>"), self)
        self.data_edit = QLineEdit(self)
        self.data_edit.setAccessibleName(self.tr("Data folder"))
        self.data_edit.setPlaceholderText(str(default_data_dir()))
        self.data_button = QPushButton(self.tr("Choose…"), self)
        self.data_button.setAccessibleName(self.tr("Choose the data folder"))
        self.data_note = QLabel(self.tr("Conversations, jobs and converted models. Used from the next start; "
                                        "nothing is moved."), self)
        self.models_edit = QLineEdit(self)
        self.models_edit.setAccessibleName(self.tr("Models folder"))
        self.models_button = QPushButton(self.tr("Choose…"), self)
        self.models_button.setAccessibleName(self.tr("Choose the models folder"))
        self.models_note = QLabel(self.tr("Where QuantDesk saves the models it converts and quantizes. Downloads "
                                          "go to the Hugging Face cache, which other tools share."), self)
        self.threads = QSpinBox(self)
        self.threads.setRange(0, 256)
        self.threads.setSpecialValueText(self.tr("Automatic (one per processor core)"))
        self.threads.setAccessibleName(self.tr("Processor threads"))
        self.threads_note = QLabel(self.tr("For chatting and quantizing. Applies to the next model loaded."), self)
        self.gpu_limit = QSpinBox(self)
        self.gpu_limit.setRange(0, 4096)
        self.gpu_limit.setSuffix(self.tr(" GB"))
        self.gpu_limit.setSpecialValueText(self.tr("All that is free"))
        self.gpu_limit.setAccessibleName(self.tr("Graphics memory limit"))
        self.gpu_limit_note = QLabel(self.tr("The most graphics memory QuantDesk plans a model into. Lower it to "
                                             "leave room for other programs, or to see what a smaller card would "
                                             "do; the rest of a model runs on the processor."), self)
        self.theme = QComboBox(self)
        self.theme.setAccessibleName(self.tr("Theme"))
        for key in THEMES:
            self.theme.addItem(self.tr(THEME_LABELS[key]), key)
        self.offline_default = QCheckBox(self.tr("Start offline every time"), self)
        self.offline_default.setToolTip(self.tr("The window opens with Offline on, whatever it was when you left. "
                                                "The switch at the bottom of the window goes online for a while."))
        self.menu_button = QPushButton(self.tr("Add QuantDesk to the applications menu"), self)
        self.menu_note = QLabel(self)
        for note in (self.data_note, self.models_note, self.threads_note, self.gpu_limit_note, self.menu_note):
            note.setWordWrap(True)
            note.setObjectName("settingsNote")

        form = QFormLayout()
        form.addRow(self.tr("Data folder:"), self._row(self.data_edit, self.data_button))
        form.addRow("", self.data_note)
        form.addRow(self.tr("Models folder:"), self._row(self.models_edit, self.models_button))
        form.addRow("", self.models_note)
        form.addRow(self.tr("Threads:"), self.threads)
        form.addRow("", self.threads_note)
        form.addRow(self.tr("Graphics memory:"), self.gpu_limit)
        form.addRow("", self.gpu_limit_note)
        form.addRow(self.tr("Theme:"), self.theme)
        form.addRow(self.tr("Privacy:"), self.offline_default)
        layout = QVBoxLayout(self)
        layout.addWidget(title)
        layout.addLayout(form)
        if sys.platform.startswith("linux"):
            menu_row = QHBoxLayout()
            menu_row.addWidget(self.menu_button)
            menu_row.addStretch(1)
            layout.addLayout(menu_row)
            layout.addWidget(self.menu_note)
        else:
            self.menu_button.hide()
        layout.addStretch(1)
        self.load()

        self.data_button.clicked.connect(self._on_data_button_clicked)
        self.models_button.clicked.connect(self._on_models_button_clicked)
        self.data_edit.editingFinished.connect(lambda: self._save_folder("data_dir", self.data_edit))
        self.models_edit.editingFinished.connect(lambda: self._save_folder("models_dir", self.models_edit))
        self.threads.valueChanged.connect(lambda n: self._save("threads", int(n)))
        self.gpu_limit.valueChanged.connect(lambda n: self._save("gpu_memory_limit_gb", int(n)))
        self.theme.currentIndexChanged.connect(self._on_theme_current_index_changed)
        self.offline_default.toggled.connect(lambda on: self._save("offline_by_default", bool(on)))
        self.menu_button.clicked.connect(self._on_menu_button_clicked)

    def _row(self, edit: QLineEdit, button: QPushButton) -> QWidget:
        row = QWidget(self)
        layout = QHBoxLayout(row)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(edit, 1)
        layout.addWidget(button)
        return row

    def load(self) -> None:
        """Show the saved values (the defaults where none were chosen)."""
        for widget in (self.threads, self.gpu_limit, self.theme, self.offline_default):
            widget.blockSignals(True)
        self.data_edit.setText(get_setting("data_dir") or str(data_dir()))
        self.models_edit.setText(get_setting("models_dir") or str(models_dir()))
        self.threads.setValue(int(get_setting("threads")))
        self.gpu_limit.setValue(int(get_setting("gpu_memory_limit_gb")))
        self.theme.setCurrentIndex(max(0, self.theme.findData(get_setting("theme"))))
        self.offline_default.setChecked(bool(get_setting("offline_by_default")))
        for widget in (self.threads, self.gpu_limit, self.theme, self.offline_default):
            widget.blockSignals(False)

    def _save(self, key: str, value: object) -> bool:
        try:
            set_setting(key, value)
        except (OSError, ValueError) as error:
            show_error(self, QuantDeskError("The setting could not be saved.", f"{key}: {error}"))
            return False
        return True

    def _save_folder(self, key: str, edit: QLineEdit) -> None:
        text = edit.text().strip()
        default = str(default_data_dir()) if key == "data_dir" else str(data_dir() / "models")
        value = "" if not text or text == default else str(Path(text).expanduser())
        if value == get_setting(key):
            return
        if value:
            try:
                Path(value).mkdir(parents=True, exist_ok=True)
            except OSError as error:
                show_error(self, QuantDeskError(f"QuantDesk cannot use {value}: the folder cannot be made there.",
                                                str(error)))
                return
        if self._save(key, value) and key == "models_dir":
            self.models_dir_changed.emit()

    def _choose_folder(self, edit: QLineEdit, title: str) -> None:
        folder = QFileDialog.getExistingDirectory(self, title, edit.text())
        if folder:
            edit.setText(folder)
            edit.editingFinished.emit()

    def _on_data_button_clicked(self) -> None:
        self._choose_folder(self.data_edit, self.tr("Choose the data folder"))

    def _on_models_button_clicked(self) -> None:
        self._choose_folder(self.models_edit, self.tr("Choose the models folder"))

    def _on_theme_current_index_changed(self, _index: int) -> None:
        theme = str(self.theme.currentData())
        if self._save("theme", theme):
            app = QApplication.instance()
            if isinstance(app, QApplication):
                apply_theme(app, theme)
            self.theme_changed.emit(theme)

    def _on_menu_button_clicked(self) -> None:
        try:
            entry = install_menu_entry(launch_command())
        except OSError as error:
            show_error(self, QuantDeskError("QuantDesk could not be added to the applications menu.", str(error)))
            return
        self.menu_note.setText(self.tr("Added: QuantDesk is in the applications menu ({path}).").format(path=entry))
