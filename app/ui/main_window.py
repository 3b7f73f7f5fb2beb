"""The main window: a navigation list on the left, one page per capability, live readouts below.

Pages are added in `_build_pages`; each is a self-contained widget that talks to core through its own
glue. The window itself holds no domain logic.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

from PySide6.QtCore import QSettings, QTimer, Signal
from PySide6.QtGui import QCloseEvent, QDragEnterEvent, QDropEvent, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QListWidget,
    QMainWindow,
    QStackedWidget,
    QWidget,
)

from app.core.chat.store import ConversationStore
from app.core.errors import QuantDeskError
from app.core.jobs.queue import JobRecord
from app.core.machine.hardware import MemorySnapshot, read_memory_snapshot
from app.core.quants import DEFAULT_LADDER
from app.core.settings import get_setting
from app.core.units import format_bytes
from app.ui.accessibility import tab_moves_focus
from app.ui.api_server_switch import ApiServerSwitch
from app.ui.chat_page import ChatPage
from app.ui.compare_view import CompareView
from app.ui.computer_view import ComputerView
from app.ui.convert_view import ConvertView
from app.ui.engine_bridge import EngineBridge
from app.ui.error_dialog import show_error
from app.ui.first_run_view import FirstRunView
from app.ui.help_view import HelpView
from app.ui.job_controller import JobController
from app.ui.jobs_view import JobsView
from app.ui.log_view import LogView, install_log_handler
from app.ui.model_browser_view import ModelBrowserView
from app.ui.privacy_bar import PrivacyBar
from app.ui.quant_table_view import QuantTableView
from app.ui.serve_view import ServeView
from app.ui.settings_view import SettingsView

READOUT_INTERVAL_MS = 1000
SPEED_REDRAW_SECONDS = 0.25


class MainWindow(QMainWindow):
    readout_ready = Signal(object)  # MemorySnapshot, from the sampling thread

    def __init__(self, bridge: EngineBridge | None = None, history: ConversationStore | None = None,
                 jobs: JobController | None = None) -> None:
        super().__init__()
        self.setWindowTitle(self.tr("QuantDesk"))
        self.resize(1180, 760)
        self.bridge = bridge or EngineBridge(parent=self)
        self.history = history or ConversationStore()
        # the one queue of long work: pages enqueue and watch, failures are shown once, here
        self.job_controller = jobs or JobController(parent=self)
        self.job_controller.job_failed.connect(self._on_job_controller_job_failed)

        self.nav = QListWidget(self)
        self.nav.setObjectName("navigation")
        self.nav.setFixedWidth(180)
        self.pages = QStackedWidget(self)
        central = QWidget(self)
        layout = QHBoxLayout(central)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addWidget(self.nav)
        layout.addWidget(self.pages, 1)
        self.setCentralWidget(central)
        self.nav.currentRowChanged.connect(self.pages.setCurrentIndex)
        self._bottom_pages = 0
        self._build_pages()
        # a first start opens on the guide; later starts on the chat
        self.show_page(self.tr("Chat") if get_setting("first_run_done") else self.tr("Get started"))
        self.nav.setAccessibleName(self.tr("Pages"))
        self.setAcceptDrops(True)  # a GGUF file dropped anywhere on the window joins the library
        tab_moves_focus(self)  # Tab leaves text areas and tables: every screen works from the keyboard
        QShortcut(QKeySequence(QKeySequence.StandardKey.HelpContents), self,
                  lambda: self.show_page(self.tr("How it works")))

        self.ram_label = QLabel(self)
        self.engine_label = QLabel(self)
        self.speed_label = QLabel(self.tr("– tokens/s"), self)
        # room for any rate: a crowded status bar (GPUs, the API server) otherwise cuts it to "52.8 toker"
        self.speed_label.setMinimumWidth(self.speed_label.fontMetrics().horizontalAdvance("0000.0 tokens/s") + 16)
        self.api_label = QLabel(self)  # while the API server is on: its requests and who asked last
        self.api_label.setVisible(False)
        for label in (self.api_label, self.ram_label, self.engine_label, self.speed_label):
            label.setContentsMargins(8, 0, 8, 0)
            self.statusBar().addPermanentWidget(label)
        self.privacy = PrivacyBar(self)  # the Offline switch and the network indicator, in the window's frame
        self.statusBar().addWidget(self.privacy)
        self.privacy.set_offline_shown(self.model_browser.offline_switch.isChecked())
        self.privacy.offline_toggled.connect(self.model_browser.offline_switch.setChecked)
        self.model_browser.offline_changed.connect(self.privacy.set_offline_shown)
        self.model_browser.offline_changed.connect(self.get_started.set_offline_shown)
        self.chat.tokens_per_second_changed.connect(self._on_chat_tokens_per_second_changed)
        self.bridge.text_arrived.connect(self._on_bridge_text_arrived)
        self.bridge.busy_changed.connect(self._on_bridge_busy_changed)
        self.bridge.waiting_for_turn.connect(self._on_bridge_waiting_for_turn)
        self.api_server.started.connect(lambda _address: self._draw_api_label())
        self.api_server.stopped.connect(self._draw_api_label)
        self.api_server.activity_changed.connect(lambda _activity: self._draw_api_label())
        self._stream_started: float | None = None
        self._pending_load: Path | None = None
        self.bridge.busy_changed.connect(self._on_bridge_idle_load_pending)
        self._speed_drawn_at = 0.0
        self._readout_timer = QTimer(self)
        self._readout_timer.setInterval(READOUT_INTERVAL_MS)
        self._readout_in_flight = False
        self.readout_ready.connect(self._on_readout_ready)
        self.readout_ready.connect(self.chat.memory.add_snapshot)
        self.readout_ready.connect(self.chat.machines_bar.show_readout)
        self._readout_timer.timeout.connect(self._on_readout_timer_timeout)
        self._readout_timer.start()
        self.update_readouts()
        self._restore_state()

    def _build_pages(self) -> None:
        self.get_started = FirstRunView(self.job_controller, self)
        self.get_started.chat_requested.connect(self.chat_with)
        self.add_page(self.tr("Get started"), self.get_started)
        self.chat_page = ChatPage(self.bridge, self.history, self)
        self.library, self.chat = self.chat_page.library, self.chat_page.chat
        self.add_page(self.tr("Chat"), self.chat_page)
        self.computer = ComputerView(self)
        self.quant_table = QuantTableView(self, read_hardware_now=False, show_first_model=True)
        self.computer.hardware_changed.connect(self.quant_table.set_hardware)
        self.computer.hardware_changed.connect(self.get_started.set_hardware)
        self.add_page(self.tr("Your computer"), self.computer)
        self.add_page(self.tr("Which quant?"), self.quant_table)
        self.compare = CompareView(self.job_controller, self)
        self.add_page(self.tr("Compare"), self.compare)
        self.model_browser = ModelBrowserView(self.job_controller, self)
        self.add_page(self.tr("Find models"), self.model_browser)
        self.convert = ConvertView(self.job_controller, self)
        self.add_page(self.tr("Convert"), self.convert)
        self.jobs = JobsView(self.job_controller, self)
        self.add_page(self.tr("Jobs"), self.jobs)
        # the local API server: the chat's engine for other programs, switched on and off on its page
        self.api_server = ApiServerSwitch(self.bridge, self)
        self.serve_page = ServeView(self.api_server, self)
        self.add_page(self.tr("API server"), self.serve_page)
        # whatever a job made (a download, a conversion, a quant) belongs in the model list
        self.job_controller.job_finished.connect(lambda _record: self.library.refresh())
        self.job_controller.job_finished.connect(self._on_job_controller_job_finished)
        self.compare.measurements_changed.connect(self.quant_table.refresh_measured)
        self.compare.ladder_requested.connect(self._on_compare_ladder_requested)
        self.settings_page = SettingsView(self)
        self.settings_page.models_dir_changed.connect(self.library.refresh)
        self.settings_page.models_dir_changed.connect(self.compare.refresh_models)
        self.add_last_page(self.tr("Settings"), self.settings_page)
        self.add_last_page(self.tr("How it works"), HelpView(self))
        self.add_last_page(self.tr("Log"), LogView(install_log_handler(), self))

    def _on_job_controller_job_finished(self, record: JobRecord) -> None:
        if record.kind != "evaluate":  # a new model file: the Compare page lists it
            self.compare.refresh_models()

    def _on_compare_ladder_requested(self, path: Path) -> None:
        self.show_page(self.tr("Jobs"))
        self.jobs.open_quantize_dialog(path, DEFAULT_LADDER)

    def _on_job_controller_job_failed(self, record: JobRecord | None, error: QuantDeskError) -> None:
        title = record.title if record is not None else self.tr("A job failed")
        show_error(self, error, title)

    def chat_with(self, path: object) -> None:
        """Open the Chat page on this model (from the guide): listed, selected, loaded when the engine is free."""
        model = Path(str(path))
        self.library.refresh()
        self.library.select_path(model)
        if self.library.selected_path() != model:
            self.library.add_file(model)
        self.show_page(self.tr("Chat"))
        loaded = self.bridge.loaded
        if loaded is None or Path(loaded.info.path) != model:
            if self.bridge.busy:  # the starter is still loading: load this one right after
                self._pending_load = model
            else:
                self.library.load_selected()  # with the context length and placement chosen on the Chat page
        self.chat.input.setFocus()

    def _on_bridge_idle_load_pending(self, busy: bool) -> None:
        if not busy and self._pending_load is not None:
            model, self._pending_load = self._pending_load, None
            self.library.select_path(model)
            if self.library.selected_path() == model:
                self.library.load_selected()

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if any(u.isLocalFile() for u in event.mimeData().urls()):
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        paths = [Path(u.toLocalFile()) for u in event.mimeData().urls() if u.isLocalFile()]
        added = [p for p in paths if self.library.add_file(p)]
        if added:
            event.acceptProposedAction()
            self.show_page(self.tr("Chat"))

    def load_default_model(self) -> None:
        """At start-up, load the selected model (the starter on first launch) so chat works at once."""
        self.library.load_selected()

    def add_page(self, title: str, widget: QWidget) -> None:
        """A page in the navigation, above the ones that stay at the bottom (the log)."""
        index = self.nav.count() - self._bottom_pages
        self.nav.insertItem(index, title)
        self.pages.insertWidget(index, widget)

    def add_last_page(self, title: str, widget: QWidget) -> None:
        self.nav.addItem(title)
        self.pages.addWidget(widget)
        self._bottom_pages += 1

    def show_page(self, title: str) -> None:
        for i in range(self.nav.count()):
            if self.nav.item(i).text() == title:
                self.nav.setCurrentRow(i)
                return

    # ---- readouts -----------------------------------------------------------------------------------

    def update_readouts(self) -> None:
        """Draw a RAM readout now (psutil only: quick enough for the GUI thread)."""
        self._on_readout_ready(read_memory_snapshot(self.bridge.engine_pid))

    def _on_readout_timer_timeout(self) -> None:
        # With a model on an NVIDIA GPU the readout also asks NVML, which can take a while: sample on a
        # worker thread and draw when the figures arrive; skip a tick if the last one is still out.
        if self._readout_in_flight:
            return
        self._readout_in_flight = True
        pid, with_vram = self.bridge.engine_pid, True  # NVML too: the GPU's total and the engine's VRAM

        def sample() -> None:
            try:
                self.readout_ready.emit(read_memory_snapshot(pid, with_vram=with_vram))
            finally:
                self._readout_in_flight = False

        threading.Thread(target=sample, name="task-readout", daemon=True).start()

    def _on_readout_ready(self, snap: MemorySnapshot) -> None:
        self.ram_label.setText(self.tr("RAM in use: {used} of {total}").format(
            used=format_bytes(snap.system_used_bytes), total=format_bytes(snap.system_total_bytes)))
        if snap.process_rss_bytes is None:
            engine = self.tr("not running")
        elif len(snap.process_vram_per_gpu) > 1:  # split across GPUs: each card's share
            cards = " · ".join(self.tr("GPU {i} {vram}").format(i=i, vram=format_bytes(b))
                               for i, b in snap.process_vram_per_gpu)
            engine = self.tr("{ram} + {cards}").format(ram=format_bytes(snap.process_rss_bytes), cards=cards)
        elif snap.process_vram_bytes:
            engine = self.tr("{ram} + {vram} on the GPU").format(
                ram=format_bytes(snap.process_rss_bytes), vram=format_bytes(snap.process_vram_bytes))
        else:
            engine = format_bytes(snap.process_rss_bytes)
        self.engine_label.setText(self.tr("Model engine: {mem}").format(mem=engine))

    def _on_bridge_text_arrived(self, _text: str, n_generated: int) -> None:
        now = time.perf_counter()
        if self._stream_started is None or n_generated <= 1:
            self._stream_started = self._speed_drawn_at = now
            return
        elapsed = now - self._stream_started
        # tokens can arrive hundreds a second: redraw the live speed a few times a second, not per token
        if elapsed > 0.25 and now - self._speed_drawn_at >= SPEED_REDRAW_SECONDS:
            self._speed_drawn_at = now
            self.speed_label.setText(self.tr("{rate:.1f} tokens/s").format(rate=(n_generated - 1) / elapsed))

    def _on_bridge_busy_changed(self, busy: bool) -> None:
        if busy:
            self._stream_started = None

    def _on_bridge_waiting_for_turn(self, who: str) -> None:
        self.chat.status.setText(self.tr("Waiting: the model is answering another program ({who}); your message "
                                         "comes next.").format(who=who))

    def _draw_api_label(self) -> None:
        running = self.api_server.running
        self.api_label.setVisible(running)
        if running:
            activity = self.api_server.activity()
            self.api_label.setText(self.tr("API server: 1 request") if activity.requests == 1 else
                                   self.tr("API server: {n} requests").format(n=activity.requests))
            self.api_label.setToolTip(self.tr("Last client: {who}").format(who=activity.last_client)
                                      if activity.last_client else self.tr("No requests yet"))

    def _on_chat_tokens_per_second_changed(self, rate: float) -> None:
        self.speed_label.setText(self.tr("{rate:.1f} tokens/s").format(rate=rate))

    # ---- window state -------------------------------------------------------------------------------

    def _restore_state(self) -> None:
        settings = QSettings()
        geometry = settings.value("main_window/geometry")
        if geometry is not None:
            self.restoreGeometry(geometry)

    def closeEvent(self, event: QCloseEvent) -> None:
        QSettings().setValue("main_window/geometry", self.saveGeometry())
        self._readout_timer.stop()
        self.privacy.shutdown()
        self.get_started.shutdown()
        self.model_browser.shutdown()
        self.chat_page.shutdown()
        self.compare.shutdown()
        self.jobs.shutdown()
        self.job_controller.shutdown()
        self.api_server.shutdown()  # before the engine: its requests end first
        self.bridge.shutdown()
        super().closeEvent(event)
