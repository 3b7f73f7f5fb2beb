"""Find models: search the Hugging Face Hub, look inside a repo, download it — or stay offline.

Left: the search (text, sort, "ready GGUF only", "text generation only") and its results, a page at a time.
Right: the picked repo inspected (ModelInspectPanel) and a running download (DownloadPanel). Every Hub
call is a core function on a BackgroundTask worker thread, except the download itself: a job in the window's
queue, which the DownloadPanel follows (it waits its turn and can be resumed later from the Jobs page). The
offline switch is a core setting, and while it is on this page says so and starts nothing that would touch
the network.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QApplication,
    QCheckBox,
    QComboBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from app.core.advice.repo import HardwareOnce, RepoAdvice, inspect_and_recommend
from app.core.errors import QuantDeskError
from app.core.offline import apply_offline_mode, is_offline, set_offline
from app.ui.background import BackgroundTask
from app.ui.download_panel import DownloadPanel
from app.ui.error_dialog import show_error
from app.ui.job_controller import JobController
from app.ui.model_inspect_panel import ModelInspectPanel

if TYPE_CHECKING:  # the Hub client (huggingface_hub, httpx2) loads with the first search, not at start-up
    from app.core.hub.search import ModelSearch, ModelSummary, SearchPage, SearchQuery

REPO_ROLE = Qt.ItemDataRole.UserRole
SORTS = (("downloads", "Most downloaded"), ("likes", "Most liked"), ("recent", "Recently updated"))


def _count(n: int) -> str:
    return f"{n / 1e6:.1f}M" if n >= 1e6 else f"{n / 1e3:.1f}k" if n >= 1e3 else str(n)


class ModelBrowserView(QWidget):
    offline_changed = Signal(bool)
    download_finished = Signal(object)  # DownloadJobResult: the library may want to refresh

    def __init__(self, controller: JobController, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._search: ModelSearch | None = None
        self._search_task: BackgroundTask | None = None
        self._inspect_task: BackgroundTask | None = None
        self._hardware = HardwareOnce()  # read on the first inspection's worker thread, then kept

        self.offline_switch = QCheckBox(self.tr("Offline mode"), self)
        self.offline_switch.setObjectName("offlineSwitch")
        self.offline_banner = QLabel(self.tr(
            "Offline mode is on: QuantDesk makes no network connection at all. Models already on this "
            "computer still work. Switch it off to search and download."), self)
        self.offline_banner.setObjectName("offlineBanner")
        self.offline_banner.setWordWrap(True)
        self.offline_banner.setStyleSheet("QLabel#offlineBanner { background: #fff4ce; color: #4a3b00; "
                                          "border: 1px solid #e0c060; border-radius: 4px; padding: 6px; }")

        self.search_edit = QLineEdit(self)
        self.search_edit.setAccessibleName(self.tr("Search models"))
        self.search_edit.setPlaceholderText(self.tr("Search models, e.g. qwen 0.5b instruct"))
        self.sort_combo = QComboBox(self)
        for key, label in SORTS:
            self.sort_combo.addItem(self.tr(label), key)
        self.gguf_check = QCheckBox(self.tr("Ready GGUF files only"), self)
        self.textgen_check = QCheckBox(self.tr("Text generation only"), self)
        self.textgen_check.setChecked(True)
        self.search_button = QPushButton(self.tr("Search"), self)
        self.results = QListWidget(self)
        self.results.setAccessibleName(self.tr("Search results"))
        self.results.setObjectName("searchResults")
        self.more_button = QPushButton(self.tr("More results"), self)
        self.search_status = QLabel(self)
        self.search_status.setWordWrap(True)

        search_row = QHBoxLayout()
        search_row.addWidget(self.search_edit, 1)
        search_row.addWidget(self.search_button)
        # the order, then the two filters under it: side by side in one row they set the page's width
        # (at 200 % the window must fit 960 pixels, tests/ui/test_chat_features.py)
        filters = QVBoxLayout()
        sort_row = QHBoxLayout()
        sort_row.addWidget(self.sort_combo)
        sort_row.addStretch(1)
        checks_row = QHBoxLayout()
        checks_row.addWidget(self.gguf_check)
        checks_row.addWidget(self.textgen_check)
        checks_row.addStretch(1)
        filters.addLayout(sort_row)
        filters.addLayout(checks_row)
        left = QWidget(self)
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 0, 0)
        left_layout.addLayout(search_row)
        left_layout.addLayout(filters)
        left_layout.addWidget(self.results, 1)
        left_layout.addWidget(self.search_status)
        left_layout.addWidget(self.more_button)

        self.inspector = ModelInspectPanel(self)
        self.downloads = DownloadPanel(controller, self)
        right = QWidget(self)
        right_layout = QVBoxLayout(right)
        right_layout.setContentsMargins(0, 0, 0, 0)
        right_layout.addWidget(self.inspector, 1)
        right_layout.addWidget(self.downloads)

        splitter = QSplitter(Qt.Orientation.Horizontal, self)
        splitter.addWidget(left)
        splitter.addWidget(right)
        splitter.setSizes([420, 580])
        top = QHBoxLayout()
        top.addWidget(QLabel(self.tr("<b>Find models on Hugging Face</b>"), self), 1)
        top.addWidget(self.offline_switch)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.offline_banner)
        layout.addWidget(splitter, 1)

        self.search_button.clicked.connect(self._on_search_button_clicked)
        self.search_edit.returnPressed.connect(self._on_search_button_clicked)
        self.sort_combo.currentIndexChanged.connect(lambda _i: self._restart_search_if_shown())
        self.gguf_check.toggled.connect(lambda _on: self._restart_search_if_shown())
        self.textgen_check.toggled.connect(lambda _on: self._restart_search_if_shown())
        self.more_button.clicked.connect(self._on_more_button_clicked)
        self.results.currentItemChanged.connect(self._on_results_current_item_changed)
        self.offline_switch.toggled.connect(self._on_offline_switch_toggled)
        self.inspector.download_requested.connect(self._on_inspector_download_requested)
        self.inspector.token_saved.connect(self._on_inspector_token_saved)
        self.downloads.download_finished.connect(self._on_downloads_download_finished)
        self.downloads.download_stopped.connect(lambda: self.inspector.set_busy(False))
        app = QApplication.instance()
        if app is not None:
            app.aboutToQuit.connect(self.shutdown)

        offline = apply_offline_mode()  # huggingface_hub's switch follows the saved setting from the start
        self.offline_switch.setChecked(offline)
        self._apply_offline(offline)

    # ---- state --------------------------------------------------------------------------------------

    def query(self) -> SearchQuery:
        from app.core.hub.search import SearchQuery

        return SearchQuery(text=self.search_edit.text(), sort=self.sort_combo.currentData(),
                           gguf_only=self.gguf_check.isChecked(),
                           text_generation_only=self.textgen_check.isChecked())

    def _busy_searching(self) -> bool:
        return self._search_task is not None and self._search_task.is_running()

    def _apply_offline(self, offline: bool) -> None:
        self.offline_banner.setVisible(offline)
        for w in (self.search_edit, self.search_button, self.sort_combo, self.gguf_check, self.textgen_check,
                  self.results):
            w.setEnabled(not offline)
        self.more_button.setEnabled(not offline and self._search is not None and self._search.has_more
                                    and not self._busy_searching())
        self.inspector.download_button.setEnabled(not offline and self.inspector.download_button.isEnabled())
        self.inspector.setEnabled(not offline)

    def shutdown(self) -> None:
        """Stop the searches and inspections this page runs (the window closes). A download is a job: the
        window's JobController stops it, and it comes back as interrupted, resumable, next time."""
        for task in (self._search_task, self._inspect_task):
            if task is not None:
                task.cancel()

    # ---- search -------------------------------------------------------------------------------------

    def start_search(self) -> None:
        if is_offline():
            return
        from app.core.hub.search import ModelSearch

        self._search = ModelSearch(self.query())
        self.results.clear()
        self.inspector.clear()
        self._fetch_page()

    def _restart_search_if_shown(self) -> None:
        if self._search is not None and not self._busy_searching():
            self.start_search()

    def _fetch_page(self) -> None:
        if self._search is None or self._busy_searching():
            return
        self.search_status.setText(self.tr("Searching…"))
        self.more_button.setEnabled(False)
        self.search_button.setEnabled(False)
        self._search_task = BackgroundTask(self._search.next_page, parent=self, pass_progress=False)
        self._search_task.finished.connect(self._on_search_task_finished)
        self._search_task.failed.connect(self._on_search_task_failed)
        self._search_task.start()

    def _on_search_button_clicked(self) -> None:
        self.start_search()

    def _on_more_button_clicked(self) -> None:
        self._fetch_page()

    def _on_search_task_finished(self, page: SearchPage) -> None:
        for model in page.results:
            self.results.addItem(self._result_item(model))
        n = self.results.count()
        more = self.tr(", more available") if page.has_more else ""
        shown = self.tr("1 model shown{more}.") if n == 1 else self.tr("{n} models shown{more}.")
        self.search_status.setText(shown.format(n=n, more=more) if n else self.tr("No models found."))
        self.search_button.setEnabled(True)
        self.more_button.setEnabled(page.has_more)

    def _on_search_task_failed(self, error: QuantDeskError) -> None:
        self.search_status.setText(error.message)
        self.search_button.setEnabled(not is_offline())
        self.more_button.setEnabled(False)

    def _result_item(self, model: ModelSummary) -> QListWidgetItem:
        badges = [self.tr("GGUF")] if model.has_gguf else []
        if model.gated:
            badges.append(self.tr("gated"))
        text = self.tr("{repo}\n    ↓ {downloads} · ♥ {likes}{badges}").format(
            repo=model.repo_id, downloads=_count(model.downloads), likes=_count(model.likes),
            badges=(" · " + ", ".join(badges)) if badges else "")
        item = QListWidgetItem(text)
        item.setData(REPO_ROLE, model.repo_id)
        return item

    # ---- inspect ------------------------------------------------------------------------------------

    def inspect(self, repo_id: str) -> None:
        if self._inspect_task is not None and self._inspect_task.is_running():
            self._inspect_task.cancel()
        self.inspector.clear(self.tr("Looking inside <b>{repo}</b>…").format(repo=repo_id))
        task = BackgroundTask(inspect_and_recommend, repo_id, self._hardware, parent=self)
        task.finished.connect(lambda result, t=task: self._on_inspect_task_finished(t, result))
        task.failed.connect(lambda error, t=task: self._on_inspect_task_failed(t, error))
        self._inspect_task = task
        task.start()

    def _on_results_current_item_changed(self, current: QListWidgetItem | None, _previous: object) -> None:
        if current is not None:
            self.inspect(str(current.data(REPO_ROLE)))

    def _on_inspect_task_finished(self, task: BackgroundTask, advice: RepoAdvice) -> None:
        if task is self._inspect_task:  # an answer for a repo no longer picked is dropped
            self.inspector.show_inspection(advice.inspection, advice.recommendation)
            self.inspector.set_busy(self.downloads.is_running())

    def _on_inspect_task_failed(self, task: BackgroundTask, error: QuantDeskError) -> None:
        if task is self._inspect_task:
            self.inspector.clear(error.message)

    def _on_inspector_token_saved(self, _account: str) -> None:
        if self.inspector.inspection is not None:  # the gated headers are readable now
            self.inspect(self.inspector.inspection.repo_id)

    # ---- download -----------------------------------------------------------------------------------

    def _on_inspector_download_requested(self, repo_id: str, files: list[str], folder: Path | None) -> None:
        if is_offline() or self.downloads.is_running():
            return
        self.inspector.set_busy(True)
        self.downloads.start(repo_id, files, folder)

    def _on_downloads_download_finished(self, result: object) -> None:
        self.inspector.set_busy(False)
        self.download_finished.emit(result)

    # ---- offline ------------------------------------------------------------------------------------

    def _on_offline_switch_toggled(self, on: bool) -> None:
        try:
            offline = set_offline(on)
        except OSError as error:
            show_error(self, QuantDeskError("The setting could not be saved.", str(error)))
            return
        if offline:  # a running search or download stops at once: offline means no network at all
            self.shutdown()
            self.downloads.cancel()
        self._apply_offline(offline)
        self.offline_changed.emit(offline)
