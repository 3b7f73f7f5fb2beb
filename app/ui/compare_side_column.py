"""One side of a comparison on screen: its name (or just "A" in blind mode), its own conversation, and the
place where its last reply parted from the others highlighted.

Text arrives token by token from the side's engine; it is buffered and drawn on a short timer by the page.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field

from PySide6.QtCore import QCoreApplication
from PySide6.QtWidgets import QFrame, QLabel, QTextBrowser, QVBoxLayout, QWidget

from app.core.compare.divergence import split_at
from app.core.engine.protocol import GeneratedToken

PART_COLOUR = "#ffd966"


@dataclass
class Turn:
    prompt: str
    reply: str = ""
    tokens: tuple[GeneratedToken, ...] = ()
    part_at: int | None = None  # the token where this reply parted from the others
    cut_off: bool = False


@dataclass
class ColumnState:
    turns: list[Turn] = field(default_factory=list)
    pending: str = ""


class SideColumn(QFrame):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("compareSide")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.title = QLabel(self)
        self.title.setObjectName("sideTitle")
        self.title.setStyleSheet("QLabel#sideTitle { font-size: 15px; font-weight: bold; padding: 2px; }")
        self.transcript = QTextBrowser(self)
        self.transcript.setPlaceholderText(self.tr("The reply appears here."))
        self.transcript.setTabChangesFocus(True)  # columns come after the window's tab_moves_focus pass
        self.status = QLabel(self)
        self.status.setObjectName("sideStatus")
        self.status.setStyleSheet("color: #555;")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addWidget(self.title)
        layout.addWidget(self.transcript, 1)
        layout.addWidget(self.status)
        self.state = ColumnState()

    def set_title(self, text: str) -> None:
        self.title.setText(text)
        self.transcript.setAccessibleName(self.tr("Conversation with {side}").format(side=text))

    def set_status(self, text: str) -> None:
        self.status.setText(text)

    def clear(self) -> None:
        self.state = ColumnState()
        self.redraw()

    def start_turn(self, prompt: str) -> None:
        self.state.turns.append(Turn(prompt))
        self.redraw()

    def add_text(self, text: str) -> None:
        self.state.pending += text

    def flush(self) -> bool:
        """Move buffered text into the reply; True when there was any (the page redraws then)."""
        if not self.state.pending or not self.state.turns:
            return False
        self.state.turns[-1].reply += self.state.pending
        self.state.pending = ""
        self.redraw()
        return True

    def finish_turn(self, text: str, tokens: tuple[GeneratedToken, ...], cut_off: bool) -> None:
        self.state.pending = ""
        if self.state.turns:
            turn = self.state.turns[-1]
            turn.reply, turn.tokens, turn.cut_off = text, tokens, cut_off
        self.redraw()

    def mark_parting(self, index: int | None) -> None:
        if self.state.turns:
            self.state.turns[-1].part_at = index
        self.redraw()

    @property
    def last_turn(self) -> Turn | None:
        return self.state.turns[-1] if self.state.turns else None

    def redraw(self) -> None:
        parts = []
        for turn in self.state.turns:
            parts.append(f'<p style="background:#eef2f7; padding:4px; color:#333;"><b>{self.tr("You")}:</b> '
                         f"{_html(turn.prompt)}</p>")
            parts.append(f"<p>{self._reply_html(turn)}</p>")
        self.transcript.setHtml("".join(parts))
        bar = self.transcript.verticalScrollBar()
        bar.setValue(bar.maximum())

    def _reply_html(self, turn: Turn) -> str:
        if turn.part_at is None or not turn.tokens:
            body = _html(turn.reply)
        else:
            before, token, after = split_at(turn.tokens, turn.part_at)
            shown = token if token else self.tr("(ends here)")
            body = (f"{_html(before)}<span style='background:{PART_COLOUR}; font-weight:bold;'>{_html(shown)}"
                    f"</span>{_html(after)}")
        if turn.cut_off:
            body += f' <i style="color:#999">({self.tr("cut off")})</i>'
        return body


def _html(text: str) -> str:
    return html.escape(text).replace("\n", "<br>")


def parting_html(titles: list[str], replies: list[tuple[GeneratedToken, ...]], index: int) -> str:
    """Where the replies part ways: each side's token there and its most likely tokens, as a small table."""
    from app.core.compare.divergence import token_text

    def tr(text: str) -> str:
        return QCoreApplication.translate("SideColumn", text)

    cells = []
    for title, tokens in zip(titles, replies, strict=True):
        if index >= len(tokens):
            cells.append(f"<td valign='top'><b>{_html(title)}</b><br><i>{tr('(the reply stopped before this)')}"
                         "</i></td>")
            continue
        chosen = tokens[index]
        rows = "".join(
            f"<tr><td>{_quoted(token_text(c))}</td><td align='right'>&nbsp;{100 * c.probability:.1f} %</td></tr>"
            for c in chosen.top)
        wrote = tr("{side} wrote {token} ({p} %)").format(
            side=f"<b>{_html(title)}</b>", token=f"<span style='background:{PART_COLOUR}'>"
            f"{_quoted(token_text(chosen))}</span>", p=f"{100 * chosen.probability:.1f}")
        cells.append(f"<td valign='top' style='padding-right:18px'>{wrote}<br>{tr('its most likely tokens there:')}"
                     f"<table cellspacing='0'>{rows}</table></td>")
    head = tr("<b>The replies part ways at token {n}.</b> Probabilities are each model's own; ␣ is a space.")
    return f"{head.format(n=index + 1)}<table><tr>{''.join(cells)}</tr></table>"


def _quoted(text: str) -> str:
    return "“" + _html(text.replace(" ", "␣")) + "”" if not text.startswith("(") else _html(text)
