"""The conversations kept on this computer: newest first, titled by their first message, with search, rename,
delete and export as Markdown. Reads the store on the GUI thread: a few hundred short rows, quick."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QPoint, Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QMenu,
    QMessageBox,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.core.chat.conversation import Conversation
from app.core.chat.export import export_file_name, write_markdown
from app.core.chat.store import ConversationStore

ID_ROLE = Qt.ItemDataRole.UserRole


class ConversationListView(QWidget):
    open_requested = Signal(int)  # conversation id
    new_requested = Signal()
    deleted = Signal(int)
    renamed = Signal(int, str)

    def __init__(self, store: ConversationStore, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.store = store
        self.current_id: int | None = None
        title = QLabel(self.tr("<b>Conversations</b>"), self)
        self.new_button = QPushButton(self.tr("New chat"), self)
        self.new_button.setToolTip(self.tr("Start a new conversation (Ctrl+N)"))
        self.search = QLineEdit(self)
        self.search.setPlaceholderText(self.tr("Search conversations"))
        self.search.setClearButtonEnabled(True)
        self.search.setAccessibleName(self.tr("Search conversations"))
        self.list = QListWidget(self)
        self.list.setObjectName("conversationList")
        self.list.setAccessibleName(self.tr("Conversations"))
        self.list.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.list.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.rename_button = QPushButton(self.tr("Rename"), self)
        self.delete_button = QPushButton(self.tr("Delete"), self)
        self.export_button = QPushButton(self.tr("Export…"), self)
        self.export_button.setToolTip(self.tr("Save this conversation as a Markdown file"))
        head = QHBoxLayout()
        head.addWidget(title, 1)
        head.addWidget(self.new_button)
        actions = QHBoxLayout()
        actions.addWidget(self.rename_button)
        actions.addWidget(self.delete_button)
        actions.addWidget(self.export_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(head)
        layout.addWidget(self.search)
        layout.addWidget(self.list, 1)
        layout.addLayout(actions)

        self._search_timer = QTimer(self)
        self._search_timer.setSingleShot(True)
        self._search_timer.setInterval(150)
        self._search_timer.timeout.connect(self.refresh)
        self.search.textChanged.connect(lambda _t: self._search_timer.start())
        self.new_button.clicked.connect(self.new_requested)
        self.list.itemClicked.connect(self._on_list_item_clicked)
        self.list.itemActivated.connect(self._on_list_item_clicked)
        self.list.customContextMenuRequested.connect(self._on_list_context_menu_requested)
        self.rename_button.clicked.connect(lambda: self.rename_selected())
        self.delete_button.clicked.connect(lambda: self.delete_selected())
        self.export_button.clicked.connect(lambda: self.export_selected())
        self.list.currentRowChanged.connect(lambda _row: self._update_buttons())
        self.refresh()

    # ---- the list -----------------------------------------------------------------------------------------

    def refresh(self) -> None:
        self.list.blockSignals(True)
        self.list.clear()
        for summary in self.store.conversations(search=self.search.text()):
            item = QListWidgetItem(summary.title or self.tr("(untitled)"))
            item.setData(ID_ROLE, summary.id)
            item.setToolTip(summary.title)
            self.list.addItem(item)
            if summary.id == self.current_id:
                self.list.setCurrentItem(item)
        self.list.blockSignals(False)
        self._update_buttons()

    def titles(self) -> list[str]:
        return [self.list.item(i).text() for i in range(self.list.count())]

    def set_current(self, conversation_id: int | None) -> None:
        self.current_id = conversation_id
        self.refresh()

    def selected_id(self) -> int | None:
        item = self.list.currentItem()
        return int(item.data(ID_ROLE)) if item is not None else None

    def select(self, conversation_id: int) -> None:
        for i in range(self.list.count()):
            if self.list.item(i).data(ID_ROLE) == conversation_id:
                self.list.setCurrentRow(i)

    def _on_list_item_clicked(self, item: QListWidgetItem) -> None:
        self.open_requested.emit(int(item.data(ID_ROLE)))

    def _update_buttons(self) -> None:
        chosen = self.selected_id() is not None
        for button in (self.rename_button, self.delete_button, self.export_button):
            button.setEnabled(chosen)

    def _on_list_context_menu_requested(self, point: QPoint) -> None:
        item = self.list.itemAt(point)
        if item is None:
            return
        self.list.setCurrentItem(item)
        menu = QMenu(self)
        menu.addAction(self.tr("Rename…"), lambda: self.rename_selected())
        menu.addAction(self.tr("Export as Markdown…"), lambda: self.export_selected())
        menu.addAction(self.tr("Delete…"), lambda: self.delete_selected())
        menu.exec(self.list.viewport().mapToGlobal(point))

    # ---- actions (the title/path/confirmation can be given, for tests and scripts) -------------------------

    def rename_selected(self, title: str | None = None) -> bool:
        cid = self.selected_id()
        if cid is None:
            return False
        if title is None:
            current = self.list.currentItem().text()
            title, ok = QInputDialog.getText(self, self.tr("Rename conversation"), self.tr("Title:"), text=current)
            if not ok:
                return False
        title = " ".join(title.split())
        if not title:
            return False
        self.store.set_title(cid, title)
        self.refresh()
        self.renamed.emit(cid, title)
        return True

    def delete_selected(self, confirmed: bool = False) -> bool:
        cid = self.selected_id()
        if cid is None:
            return False
        if not confirmed:
            answer = QMessageBox.question(
                self, self.tr("Delete conversation"),
                self.tr("Delete “{title}”? This cannot be undone.").format(title=self.list.currentItem().text()))
            if answer != QMessageBox.StandardButton.Yes:
                return False
        self.store.delete_conversation(cid)
        if cid == self.current_id:
            self.current_id = None
        self.refresh()
        self.deleted.emit(cid)
        return True

    def export_selected(self, path: Path | None = None) -> Path | None:
        cid = self.selected_id()
        if cid is None:
            return None
        conversation = Conversation.load(self.store, cid)
        if path is None:
            name, _ = QFileDialog.getSaveFileName(self, self.tr("Export conversation"),
                                                  str(Path.home() / export_file_name(conversation)),
                                                  self.tr("Markdown (*.md)"))
            if not name:
                return None
            path = Path(name)
        write_markdown(conversation, path)
        return path
