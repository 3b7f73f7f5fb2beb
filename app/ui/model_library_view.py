"""The model library: the models on this computer, the one that is loaded, a way to add a GGUF file (the
button, or dropping files on the window: read where they lie, never copied, and remembered), and how the
selected one loads (context length, where it runs and why, progress)."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.core.chat.preferences import ChatPreferences
from app.core.engine.protocol import ModelLoaded
from app.core.errors import QuantDeskError
from app.core.models.library import ModelEntry, add_model_file, list_models
from app.core.units import format_bytes
from app.ui.engine_bridge import EngineBridge
from app.ui.error_dialog import show_error
from app.ui.load_options_view import LoadOptionsView

PATH_ROLE = Qt.ItemDataRole.UserRole


class ModelLibraryView(QWidget):
    load_requested = Signal(Path)

    def __init__(self, bridge: EngineBridge, parent: QWidget | None = None,
                 preferences: ChatPreferences | None = None) -> None:
        super().__init__(parent)
        self.bridge = bridge
        prefs = preferences or ChatPreferences()
        self.options = LoadOptionsView(prefs.context_length, prefs.placement, self)
        title = QLabel(self.tr("<b>Your models</b>"), self)
        self.list = QListWidget(self)
        self.list.setAccessibleName(self.tr("Your models"))
        self.list.setObjectName("modelList")
        self.list.setWordWrap(True)
        self.list.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.load_button = QPushButton(self.tr("Load"), self)
        self.unload_button = QPushButton(self.tr("Unload"), self)
        self.unload_button.setToolTip(self.tr("Free the memory the loaded model uses"))
        self.add_button = QPushButton(self.tr("Add file…"), self)
        self.add_button.setToolTip(self.tr("Add a GGUF model file from this computer (it is read in place)"))
        self.state = QLabel(self.tr("No model loaded."), self)
        self.state.setWordWrap(True)
        buttons = QHBoxLayout()
        buttons.addWidget(self.load_button)
        buttons.addWidget(self.unload_button)
        buttons.addWidget(self.add_button)
        layout = QVBoxLayout(self)
        layout.addWidget(title)
        layout.addWidget(self.list, 1)
        layout.addLayout(buttons)
        layout.addWidget(self.options)
        layout.addWidget(self.state)

        self.load_button.clicked.connect(self._on_load_button_clicked)
        self.add_button.clicked.connect(self._on_add_button_clicked)
        self.unload_button.clicked.connect(self._on_unload_button_clicked)
        bridge.model_unloaded.connect(self._on_bridge_model_unloaded)
        self.list.itemDoubleClicked.connect(lambda _item: self._on_load_button_clicked())
        self.list.currentRowChanged.connect(lambda _row: self._on_list_current_row_changed())
        bridge.model_loaded.connect(self._on_bridge_model_loaded)
        bridge.load_failed.connect(self._on_bridge_load_failed)
        bridge.engine_crashed.connect(self._on_bridge_engine_crashed)
        bridge.status_changed.connect(self.state.setText)
        bridge.busy_changed.connect(lambda _busy: self._update_buttons())
        bridge.load_progress.connect(self.options.show_progress)
        bridge.load_planned.connect(lambda plan: self.options.reason.setText(plan.reason))
        self.options.plan_ready.connect(lambda _plan: self._say_options_wait_for_load())
        self.refresh()

    def refresh(self) -> None:
        selected = self.selected_path()
        self.list.clear()
        for entry in list_models():
            self._add_entry(entry)
        if selected is not None:
            self.select_path(selected)
        elif self.list.count():
            self.list.setCurrentRow(0)
        self._update_buttons()

    def _add_entry(self, entry: ModelEntry) -> QListWidgetItem:
        where = f" · {entry.source}" if entry.source else ""
        item = QListWidgetItem(f"{entry.title}\n{format_bytes(entry.size_bytes)}{where}")
        item.setData(PATH_ROLE, str(entry.path))
        item.setToolTip(str(entry.path))
        self.list.addItem(item)
        return item

    def entries(self) -> list[str]:
        return [self.list.item(i).text() for i in range(self.list.count())]

    def selected_path(self) -> Path | None:
        item = self.list.currentItem()
        return Path(item.data(PATH_ROLE)) if item is not None else None

    def select_path(self, path: Path) -> None:
        for i in range(self.list.count()):
            if Path(self.list.item(i).data(PATH_ROLE)) == path:
                self.list.setCurrentRow(i)
                return

    def add_file(self, path: Path) -> bool:
        """Add a GGUF file chosen or dropped by the person (read in place, nothing is copied, remembered for
        next time); a file that is not a GGUF model is refused in plain words. Returns whether it was added."""
        try:
            entry = add_model_file(path)
        except QuantDeskError as error:
            show_error(self.window(), error, self.tr("Add a model"))
            return False
        for i in range(self.list.count()):
            if Path(self.list.item(i).data(PATH_ROLE)).resolve() == entry.path:
                self.list.setCurrentRow(i)
                return True
        item = self._add_entry(entry)
        self.list.setCurrentItem(item)
        return True

    def _on_add_button_clicked(self) -> None:
        name, _ = QFileDialog.getOpenFileName(self, self.tr("Choose a GGUF model file"), str(Path.home()),
                                              self.tr("GGUF models (*.gguf);;All files (*)"))
        if name:
            self.add_file(Path(name))

    def _on_list_current_row_changed(self) -> None:
        self.options.set_model(self.selected_path())
        self._update_buttons()

    def load_selected(self) -> bool:
        """Load the selected model with the context length and placement chosen below the list."""
        path = self.selected_path()
        if path is None or self.bridge.busy:
            return False
        self.options.show_progress(0.0)
        return self.bridge.load_model(path, n_ctx=self.options.context_length, placement=self.options.placement)

    def _on_load_button_clicked(self) -> None:
        self.load_selected()

    def _mark_loaded(self, loaded_path: Path | None) -> None:
        """Bold the model that is in the engine now, so it is clear what the chat talks to."""
        for i in range(self.list.count()):
            item = self.list.item(i)
            font = item.font()
            font.setBold(loaded_path is not None and Path(item.data(PATH_ROLE)) == loaded_path)
            item.setFont(font)

    def _on_unload_button_clicked(self) -> None:
        if self.bridge.loaded is not None and not self.bridge.busy:
            self.bridge.unload_model()

    def _on_bridge_model_unloaded(self) -> None:
        self._mark_loaded(None)
        self.state.setText(self.tr("No model loaded."))
        self._update_buttons()

    def _on_bridge_model_loaded(self, loaded: ModelLoaded) -> None:
        self.options.show_progress(None)
        info = loaded.info
        self._mark_loaded(Path(info.path))
        remote = sum(name.startswith("RPC") for name in info.devices)
        if remote:
            where = self.tr("split across {n} device(s), {r} on other machines").format(n=len(info.devices), r=remote)
        elif len(info.devices) > 1:
            where = self.tr("split across {n} graphics cards").format(n=len(info.devices))
        elif info.n_gpu_layers < 0:
            where = self.tr("on the graphics card (all layers)")
        elif info.n_gpu_layers:
            where = self.tr("on the graphics card ({n} layers)").format(n=info.n_gpu_layers)
        else:
            where = self.tr("on the processor")
        self.state.setText(self.tr("Loaded {name}\nruns {where}, context {ctx} tokens, ready in {secs:.1f} s").format(
            name=Path(info.path).name, where=where, ctx=info.n_ctx, secs=loaded.load_seconds))

    def _say_options_wait_for_load(self) -> None:
        """The options are for the next load: when the loaded model runs with another context, say so."""
        loaded = self.bridge.loaded
        if loaded is None or self.selected_path() != Path(loaded.info.path):
            return
        if self.options.context_length != loaded.info.n_ctx:
            self.options.reason.setText(self.options.reason.text() + "\n" + self.tr(
                "It runs with {now:,} tokens of context now; Load it again for {new:,}.").format(
                now=loaded.info.n_ctx, new=self.options.context_length))

    def _on_bridge_load_failed(self, error: QuantDeskError) -> None:
        self.options.show_progress(None)
        self._mark_loaded(None)
        self.state.setText(self.tr("Not loaded."))
        show_error(self.window(), error, self.tr("Could not load the model"))

    def _on_bridge_engine_crashed(self, error: QuantDeskError) -> None:
        self.options.show_progress(None)
        self._mark_loaded(None)
        self.state.setText(self.tr("The engine stopped. Restart it from the chat panel."))

    def shutdown(self) -> None:
        self.options.shutdown()

    def _update_buttons(self) -> None:
        self.load_button.setEnabled(self.selected_path() is not None and not self.bridge.busy)
        self.unload_button.setEnabled(self.bridge.loaded is not None and not self.bridge.busy)
