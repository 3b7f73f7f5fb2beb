"""Get started: the first-run guide. Your computer in plain words → a model and level that suit it, from the
popular-models list (resources/popular-models.json) → download it (a job in the window's one queue) →
chat. Or chat with the starter model at once.

The hardware comes from the "Your computer" page (set_hardware); sizing the list's models takes half a
second, so it runs on a worker thread. The guide is the first page until it is finished or skipped
(settings: first_run_done), and stays in the navigation after that.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QFrame,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from app.core.advice.catalog import Suggestion, suggest, suggestions
from app.core.advice.recommend import QuantOption, budget_for
from app.core.errors import QuantDeskError
from app.core.jobs.download import DownloadJobResult
from app.core.machine.hardware import HardwareReport
from app.core.models.library import downloaded_models, starter_model_path
from app.core.offline import is_offline
from app.core.quant_words import explain_quant_type
from app.core.settings import set_setting
from app.core.units import format_bytes
from app.ui.background import BackgroundTask
from app.ui.download_panel import DownloadPanel
from app.ui.job_controller import JobController
from app.ui.size_ladder import SizeLadder

SHUTDOWN_WAIT_S = 2.0
SIZE_DELAY_MS = 300  # after the window's first paint: sizing the list holds the GIL for half a second
WHERE = {"gpu": "on the graphics card", "partial": "partly on the graphics card", "cpu": "on the processor"}


def describe_computer(report: HardwareReport) -> str:
    """What this computer has for models, in a person's words."""
    cpu, memory = report.cpu, report.memory
    text = (f"This computer has a {cpu.physical_cores}-core processor ({cpu.name}) and "
            f"{format_bytes(memory.total_bytes)} of memory, {format_bytes(memory.available_bytes)} of it free now.")
    usable = [g for g in report.gpus if g.usable_by_llama]
    if any(g.unified_memory for g in usable):
        g = next(g for g in usable if g.unified_memory)
        text += (f" Its graphics ({g.name}) share that memory and can use up to "
                 f"{format_bytes(g.working_set_limit_bytes)} of it for a model, which makes replies fast.")
    elif usable:
        g = max(usable, key=lambda g: g.total_bytes)
        text += (f" It has a graphics card, {g.name}, with {format_bytes(g.total_bytes)} of its own memory: "
                 "models that fit there answer fastest.")
    else:
        text += (" QuantDesk found no graphics card it can use, so models run on the processor: small and "
                 "medium models work well that way.")
    budget = budget_for(report)
    return text + f" Room for a model right now: about {format_bytes(max(budget.gpu or 0, budget.ram, 0))}."


class FirstRunView(QWidget):
    chat_requested = Signal(object)  # the Path of the GGUF file to chat with

    def __init__(self, controller: JobController, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.found: list[Suggestion] = []
        self.downloaded_path: Path | None = None
        self._task: BackgroundTask | None = None
        self._hardware: HardwareReport | None = None

        title = QLabel(self.tr("<h2>Welcome to QuantDesk</h2>"), self)
        intro = QLabel(self.tr(
            "Three short steps to a language model that suits this computer, running here, offline and "
            "private. Or start right away with the small model that comes with QuantDesk."), self)
        intro.setWordWrap(True)
        self.starter_button = QPushButton(self.tr("Chat with the starter model now"), self)
        self.starter_button.setObjectName("starterButton")

        self.computer_label = QLabel(self.tr("Looking at this computer…"), self)
        self.pick_label = QLabel(self.tr("Choosing a model…"), self)
        self.model_combo = QComboBox(self)
        self.model_combo.setAccessibleName(self.tr("Model"))
        self.level_combo = QComboBox(self)
        self.level_combo.setAccessibleName(self.tr("Compression level"))
        self.about_label = QLabel(self)
        self.about_label.setOpenExternalLinks(True)  # the licence opens in the browser, only when clicked
        self.ladder = SizeLadder(self)
        self.download_button = QPushButton(self.tr("Download"), self)
        self.download_button.setObjectName("guideDownloadButton")
        self.download_note = QLabel(self)
        self.downloads = DownloadPanel(controller, self)
        self.chat_button = QPushButton(self.tr("Start chatting"), self)
        self.chat_button.setObjectName("guideChatButton")
        self.chat_button.setEnabled(False)
        self.chat_note = QLabel(self.tr("When the download is done, the model opens in the Chat page."), self)
        for label in (self.computer_label, self.pick_label, self.about_label, self.download_note, self.chat_note):
            label.setWordWrap(True)
            label.setTextInteractionFlags(label.textInteractionFlags() | Qt.TextInteractionFlag.TextSelectableByMouse)

        choose = QFormLayout()
        choose.addRow(self.tr("Model:"), self.model_combo)
        choose.addRow(self.tr("Level:"), self.level_combo)
        download_row = QHBoxLayout()
        download_row.addWidget(self.download_button)
        download_row.addStretch(1)
        chat_row = QHBoxLayout()
        chat_row.addWidget(self.chat_button)
        chat_row.addStretch(1)
        starter_row = QHBoxLayout()
        starter_row.addWidget(self.starter_button)
        starter_row.addStretch(1)

        body = QWidget(self)
        layout = QVBoxLayout(body)
        layout.addWidget(title)
        layout.addWidget(intro)
        layout.addLayout(starter_row)
        layout.addWidget(self._step(self.tr("1. Your computer"), self.computer_label))
        layout.addWidget(self._step(self.tr("2. A model for it"), self.pick_label, choose, self.about_label,
                                    self.ladder))
        layout.addWidget(self._step(self.tr("3. Download it"), download_row, self.download_note, self.downloads))
        layout.addWidget(self._step(self.tr("4. Chat"), chat_row, self.chat_note))
        layout.addStretch(1)
        scroll = QScrollArea(self)
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setWidget(body)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addWidget(scroll)

        self.starter_button.clicked.connect(self._on_starter_button_clicked)
        self.model_combo.currentIndexChanged.connect(self._on_model_combo_current_index_changed)
        self.level_combo.currentIndexChanged.connect(lambda _i: self._show_level())
        self.download_button.clicked.connect(self.start_download)
        self.downloads.download_finished.connect(self._on_downloads_download_finished)
        self.downloads.download_stopped.connect(self._show_level)
        self.chat_button.clicked.connect(self._on_chat_button_clicked)
        self._update_download_button()

    def _step(self, title: str, *parts: object) -> QGroupBox:
        box = QGroupBox(title, self)
        layout = QVBoxLayout(box)
        for part in parts:
            if isinstance(part, QWidget):
                layout.addWidget(part)
            elif isinstance(part, (QFormLayout, QHBoxLayout)):
                layout.addLayout(part)
        return box

    # ---- step 1 and 2: the computer, the pick ---------------------------------------------------------

    def set_hardware(self, report: HardwareReport) -> None:
        """The computer as the "Your computer" page read it; the list is sized when the guide is on screen."""
        self._hardware = report
        self.computer_label.setText(describe_computer(report))
        if self.isVisible():
            QTimer.singleShot(SIZE_DELAY_MS, self, self._size_the_list)

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        if self._hardware is not None and not self.found:
            QTimer.singleShot(SIZE_DELAY_MS, self, self._size_the_list)

    def refresh_list(self) -> None:
        """Size the list again (it was edited, or the computer's free memory changed)."""
        self.found = []
        self._size_the_list()

    def _size_the_list(self) -> None:
        report = self._hardware
        if report is None or self.found or (self._task is not None and self._task.is_running()):
            return
        self._task = BackgroundTask(suggestions, report, parent=self)  # cancellable between models
        self._task.finished.connect(self.show_suggestions)
        self._task.failed.connect(self._on_task_failed)
        self._task.start()

    def show_suggestions(self, found: list[Suggestion]) -> None:
        self.found = found
        pick = suggest(found)
        self.model_combo.blockSignals(True)
        self.model_combo.clear()
        for s in found:
            option = s.option
            fit = (self.tr("{level}, {size}, runs {where}").format(level=option.type, size=format_bytes(
                option.file_bytes), where=self.tr(WHERE[option.placement])) if option else self.tr("too big for "
                                                                                                    "this computer"))
            self.model_combo.addItem(f"{s.model.title} — {fit}", s.model.id)
        self.model_combo.blockSignals(False)
        if pick is None:
            self.pick_label.setText(self.tr(
                "None of the popular models fits in this computer's free memory right now. The starter model "
                "does: chat with it, or close other programs and look again (Your computer → Check again)."))
            self.model_combo.setCurrentIndex(-1)
            self._update_download_button()
            return
        self.model_combo.setCurrentIndex(found.index(pick))
        self._on_model_combo_current_index_changed(found.index(pick))

    def _on_task_failed(self, error: QuantDeskError) -> None:
        self.pick_label.setText(error.message)

    def current(self) -> Suggestion | None:
        index = self.model_combo.currentIndex()
        return self.found[index] if 0 <= index < len(self.found) else None

    def current_option(self) -> QuantOption | None:
        s = self.current()
        level = self.level_combo.currentData()
        return next((o for o in s.recommendation.options if o.type == level), None) if s else None

    def _on_model_combo_current_index_changed(self, _index: int) -> None:
        s = self.current()
        if s is None:
            return
        self.level_combo.blockSignals(True)
        self.level_combo.clear()
        for o in s.recommendation.options:
            if o.type == "F16":
                continue  # no GGUF repo of the list publishes F16 as one file people should fetch
            fits = self.tr("does not fit") if o.placement == "none" else self.tr(WHERE[o.placement])
            self.level_combo.addItem(f"{o.type} — {format_bytes(o.file_bytes)}, {fits}", o.type)
            self.level_combo.setItemData(self.level_combo.count() - 1, explain_quant_type(o.type),
                                         Qt.ItemDataRole.ToolTipRole)
        self.level_combo.setCurrentIndex(max(0, self.level_combo.findData(s.recommendation.recommended)))
        self.level_combo.blockSignals(False)
        m = s.model
        self.about_label.setText(self.tr(
            "{title} by {maker}: {good}. {params:.1f} billion parameters. Licence: <a href=\"{url}\">{licence}</a>"
            " (read it before use; by downloading you accept it).").format(
            title=m.title, maker=m.maker, good=m.good_for, params=s.facts.n_params / 1e9, url=m.licence_url,
            licence=m.licence))
        self._show_level()

    def _show_level(self) -> None:
        s, option = self.current(), self.current_option()
        if s is None or option is None:
            return
        self.ladder.show_sizes({o.type: o.file_bytes for o in s.recommendation.options}, option.type)
        recommended = option.type == s.recommendation.recommended
        if option.placement == "none":
            words = self.tr("{title} at {level} does not fit in this computer's free memory.")
        elif recommended:
            words = self.tr("Suggested: <b>{title}</b> at <b>{level}</b>. {why}")
        else:
            words = self.tr("{title} at {level}: {size} to download, runs {where}{speed}.")
        speed = (self.tr(", about {n:.0f} tokens (word pieces) a second").format(n=option.tokens_per_second)
                 if option.tokens_per_second else "")
        self.pick_label.setText(words.format(title=s.model.title, level=option.type, why=s.recommendation.sentence,
                                             size=format_bytes(option.file_bytes),
                                             where=self.tr(WHERE.get(option.placement, "")), speed=speed))
        self._update_download_button()

    # ---- step 3 and 4: download, chat ------------------------------------------------------------------

    def _file(self) -> tuple[str, str] | None:
        s, option = self.current(), self.current_option()
        return (s.model.gguf_repo, s.model.file_for(option.type)) if s and option else None

    def already_downloaded(self) -> Path | None:
        wanted = self._file()
        if wanted is None:
            return None
        title = f"{wanted[0]} · {wanted[1]}"
        return next((e.path for e in downloaded_models() if e.title == title), None)

    def _update_download_button(self) -> None:
        wanted, option = self._file(), self.current_option()
        have = self.already_downloaded()
        if have is not None:
            self.downloaded_path = have
        busy = self.downloads.is_running()
        offline = is_offline()
        self.download_button.setEnabled(bool(wanted and option and option.placement != "none" and not busy
                                             and not offline and have is None))
        if wanted and option:
            self.download_button.setText(self.tr("Download {size}").format(size=format_bytes(option.file_bytes)))
            self.download_note.setText(
                self.tr("Already on this computer: no download needed.") if have is not None else
                self.tr("Offline mode is on: switch it off at the bottom of the window to download.") if offline
                else self.tr("{file} from huggingface.co/{repo}, into the Hugging Face cache other tools share. "
                             "It is a job: it can wait, be cancelled and continue later (Jobs page).")
                .format(file=wanted[1], repo=wanted[0]))
        self.chat_button.setEnabled(self.downloaded_path is not None)

    def set_offline_shown(self, _offline: bool) -> None:
        self._update_download_button()

    def start_download(self) -> None:
        wanted = self._file()
        if wanted is None or is_offline() or self.downloads.is_running():
            return
        self.downloads.start(wanted[0], [wanted[1]], None)
        self._update_download_button()

    def _on_downloads_download_finished(self, result: object) -> None:
        if isinstance(result, DownloadJobResult):
            self.downloaded_path = Path(result.path)
            self.chat_note.setText(self.tr("Downloaded. Start chatting opens it in the Chat page."))
        self._update_download_button()

    def _on_chat_button_clicked(self) -> None:
        if self.downloaded_path is not None:
            self._finish(self.downloaded_path)

    def _on_starter_button_clicked(self) -> None:
        try:
            path = starter_model_path()
        except QuantDeskError as error:
            self.pick_label.setText(error.message)
            return
        self._finish(path)

    def _finish(self, path: Path) -> None:
        with contextlib.suppress(OSError):  # if the setting can't be saved, the guide shows again: no harm
            set_setting("first_run_done", True)
        self.chat_requested.emit(path)

    def shutdown(self) -> None:
        """The window closes: stop sizing the list, and let the worker finish (at most one model's sizing,
        tens of milliseconds) before Python shuts down under it."""
        if self._task is not None:
            self._task.cancel()
            self._task.wait(SHUTDOWN_WAIT_S)
