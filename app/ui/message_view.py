"""One message in the transcript: who wrote it, its text (a reply as safe Markdown), its figures, and the
things a person does with it (Copy; Edit and resend a question; Regenerate the last reply)."""

from __future__ import annotations

from PySide6.QtCore import Qt, QUrl, Signal
from PySide6.QtGui import QDesktopServices, QGuiApplication
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFrame,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QSizePolicy,
    QTextBrowser,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from app.core.chat.conversation import Message
from app.core.chat.export import reply_note
from app.ui.markdown_html import COPY_SCHEME, plain_html, render_markdown


class MessageText(QTextBrowser):
    """Rich text that grows to its content (the transcript scrolls, not each message), loads nothing from
    anywhere, and follows a link only when it is clicked."""

    link_hovered = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setOpenLinks(False)
        self.setOpenExternalLinks(False)
        # Links by mouse only: with keyboard link navigation Tab would walk every link of every message
        # instead of moving on (app/ui/accessibility.py); the message's own Copy button serves the keyboard.
        self.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse
                                     | Qt.TextInteractionFlag.TextSelectableByKeyboard
                                     | Qt.TextInteractionFlag.LinksAccessibleByMouse)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setVerticalScrollBarPolicy(self.verticalScrollBarPolicy().ScrollBarAlwaysOff)
        self.setHorizontalScrollBarPolicy(self.horizontalScrollBarPolicy().ScrollBarAlwaysOff)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setMinimumWidth(self.fontMetrics().averageCharWidth() * 12)  # the transcript's width decides
        self.viewport().setAutoFillBackground(False)
        self.setStyleSheet("QTextBrowser { background: transparent; }")
        self.code_blocks: tuple[str, ...] = ()
        self.document().setDocumentMargin(2)
        self.document().documentLayout().documentSizeChanged.connect(lambda _size: self._fit())
        self.anchorClicked.connect(self._on_anchor_clicked)
        self.highlighted.connect(lambda url: self.link_hovered.emit(url.toString()))

    def loadResource(self, kind: int, name: QUrl | str) -> object:
        # Rich text never fetches anything: no remote image, no local file read on a model's say-so.
        return None

    def set_markdown(self, text: str) -> None:
        # the application's palette (the theme): this widget's own Base is transparent (its style sheet)
        rendered = render_markdown(text, dark=QGuiApplication.palette().base().color().lightness() < 128)
        self.code_blocks = rendered.code_blocks
        self.setHtml(rendered.html)

    def set_plain(self, text: str) -> None:
        self.code_blocks = ()
        self.setHtml(plain_html(text))

    def _fit(self) -> None:
        height = int(self.document().size().height()) + 2 * self.frameWidth() + 2
        if height != self.height():
            self.setFixedHeight(height)

    def resizeEvent(self, event: object) -> None:
        super().resizeEvent(event)  # type: ignore[arg-type]
        self._fit()

    def _on_anchor_clicked(self, url: QUrl) -> None:
        if url.scheme() == COPY_SCHEME:
            index = int(url.path() or -1)
            if 0 <= index < len(self.code_blocks):
                QGuiApplication.clipboard().setText(self.code_blocks[index])
            return
        if url.scheme() in ("http", "https", "mailto"):
            QDesktopServices.openUrl(url)  # the person clicked it: that is the consent

    def plain_text(self) -> str:
        return self.document().toPlainText()


class MessageView(QFrame):
    copy_requested = Signal(object)  # Message
    edit_requested = Signal(object)
    regenerate_requested = Signal(object)

    def __init__(self, message: Message, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.message = message
        self.setObjectName("userMessage" if message.role == "user" else "modelMessage")
        # its colours are in resources/style.qss and style-dark.qss (by object name), so both themes read well
        who = {"user": self.tr("You"), "assistant": self.tr("Model"), "system": self.tr("System")}[message.role]
        self.who = QLabel(f"<b>{who}</b>", self)
        self.figures = QLabel(self)
        self.figures.setObjectName("replyFigures")
        self.figures.setWordWrap(True)
        self.copy_button = self._tool(self.tr("Copy"), self.tr("Copy this message"))
        self.edit_button = self._tool(self.tr("Edit"), self.tr("Change this message and send it again"))
        self.regenerate_button = self._tool(self.tr("Regenerate"), self.tr("Write this reply again"))
        self.edit_button.setVisible(message.role == "user")
        self.regenerate_button.setVisible(False)
        self.text = MessageText(self)
        self.text.setAccessibleName(self.tr("Message from {who}").format(who=who))
        self.text.setTabChangesFocus(True)  # a message is read, not typed in: Tab moves on
        self.note = QLabel(self)  # where a reply stopped, and why
        self.note.setObjectName("stopNote")
        self.note.setWordWrap(True)
        self.note.hide()

        header = QHBoxLayout()
        header.addWidget(self.who)
        header.addStretch(1)
        for button in (self.copy_button, self.edit_button, self.regenerate_button):
            header.addWidget(button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(10, 6, 10, 8)
        layout.setSpacing(2)
        layout.addLayout(header)
        layout.addWidget(self.text)
        layout.addWidget(self.note)
        layout.addWidget(self.figures)
        self.copy_button.clicked.connect(lambda: self.copy_requested.emit(self.message))
        self.edit_button.clicked.connect(lambda: self.edit_requested.emit(self.message))
        self.regenerate_button.clicked.connect(lambda: self.regenerate_requested.emit(self.message))
        self.refresh(streaming=False)

    def _tool(self, text: str, tip: str) -> QToolButton:
        button = QToolButton(self)
        button.setText(text)
        button.setToolTip(tip)
        button.setAutoRaise(True)
        button.setFocusPolicy(Qt.FocusPolicy.TabFocus)  # reachable by keyboard; a click leaves the focus where it is
        return button

    def refresh(self, streaming: bool) -> None:
        """Draw the message as it stands (a streaming reply is drawn again as text arrives)."""
        m = self.message
        if m.role == "assistant":
            self.text.set_markdown(m.content if m.content or streaming else self.tr("(no text)"))
        else:
            self.text.set_plain(m.content)
        self.copy_button.setEnabled(not streaming)
        self.edit_button.setEnabled(not streaming)
        note = "" if streaming else reply_note(m)
        if note:
            self.note.setText(self.tr("■ Stopped here: {why}.").format(why=note) if not m.interrupted
                              else self.tr("■ Interrupted here: QuantDesk closed while this reply was being "
                                           "written."))
        self.note.setVisible(bool(note))
        self.figures.setText("" if streaming else figures_text(self, m))
        self.figures.setVisible(bool(self.figures.text()))

    def set_dimmed(self, dimmed: bool) -> None:
        """A message the model no longer sees (the conversation outgrew its context)."""
        self.text.setStyleSheet("QTextBrowser { background: transparent; color: #8a8f98; }" if dimmed
                                else "QTextBrowser { background: transparent; }")

    def plain_text(self) -> str:
        return self.text.plain_text()


def figures_text(widget: QWidget, m: Message) -> str:
    """"0.21 s to first token · 95.3 tokens/s · 57 tokens" for a reply; empty when there are none."""
    f = m.figures
    if m.role != "assistant" or f.generated_tokens is None:
        return ""
    parts = []
    if f.first_token_seconds is not None:
        parts.append(widget.tr("{s:.2f} s to first token").format(s=f.first_token_seconds))
    if f.tokens_per_second:
        parts.append(widget.tr("{r:.1f} tokens/s").format(r=f.tokens_per_second))
    parts.append(widget.tr("{n} tokens").format(n=f.generated_tokens))
    return " · ".join(parts)



class EditDialog(QDialog):
    """Edit and resend: the message's text, changed, replaces it and everything after it."""

    def __init__(self, text: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(self.tr("Edit and resend"))
        self.editor = QPlainTextEdit(self)
        self.editor.setPlainText(text)
        note = QLabel(self.tr("The replies after this message are replaced by a new one."), self)
        note.setWordWrap(True)
        buttons = QDialogButtonBox(self)
        self.send_button = buttons.addButton(self.tr("Send"), QDialogButtonBox.ButtonRole.AcceptRole)
        buttons.addButton(QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.editor)
        layout.addWidget(note)
        layout.addWidget(buttons)
        self.resize(self.fontMetrics().averageCharWidth() * 70, self.fontMetrics().lineSpacing() * 14)

    def text(self) -> str:
        return self.editor.toPlainText()
