"""The Chat page: the models and the conversations on the left, the chat on the right.

The chat's lasting choices (sampling, reply length, context length, where models run) are read once here
and written back whenever the person changes one (app/core/chat/preferences.py).
"""

from __future__ import annotations

import dataclasses

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QSplitter, QWidget

from app.core.chat.preferences import ChatPreferences, load_preferences
from app.core.chat.store import ConversationStore
from app.ui.chat_view import ChatView
from app.ui.engine_bridge import EngineBridge
from app.ui.model_library_view import ModelLibraryView


class ChatPage(QSplitter):
    def __init__(self, bridge: EngineBridge, history: ConversationStore, parent: QWidget | None = None,
                 preferences: ChatPreferences | None = None) -> None:
        super().__init__(Qt.Orientation.Horizontal, parent)
        prefs = preferences or load_preferences()
        self.left = QSplitter(Qt.Orientation.Vertical, self)
        self.library = ModelLibraryView(bridge, self.left, prefs)
        self.chat = ChatView(bridge, history, self, prefs)
        self.left.addWidget(self.library)
        self.left.addWidget(self.chat.conversations)
        self.left.setSizes([420, 300])
        self.left.setChildrenCollapsible(False)
        self.addWidget(self.left)
        self.addWidget(self.chat)
        self.setStretchFactor(0, 0)
        self.setStretchFactor(1, 1)
        char = self.fontMetrics().averageCharWidth()
        self.setSizes([char * 30, char * 140])  # the chat gets most of the width
        self.setChildrenCollapsible(False)
        self.library.options.options_changed.connect(self._on_library_options_changed)

    def _on_library_options_changed(self) -> None:
        options = self.library.options
        # through the chat, so its settings panel holds the new values too and a later change keeps them
        self.chat.set_preferences(dataclasses.replace(self.chat.prefs, context_length=options.context_length,
                                                       placement=options.placement))

    def shutdown(self) -> None:
        self.library.shutdown()
