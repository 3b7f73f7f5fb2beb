"""Side by side: two or more model files answer the same prompt with the same seed and sampling; each keeps
its own conversation; where the replies first part ways is highlighted with what each model thought there.
Blind mode hides the names and shuffles the sides; the person votes A, B or tie, and the tally per level
pair is kept (core's VoteStore) and shown below.
"""

from __future__ import annotations

import random
import time
from pathlib import Path

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QDoubleSpinBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from app.core.compare.divergence import first_difference
from app.core.compare.session import (
    Round,
    SideDone,
    SideFailed,
    SideLoaded,
    SideLoading,
    SideText,
    SideWaiting,
)
from app.core.compare.sides import RunPlan, SideSpec, blind_order, side_letter
from app.core.compare.votes import Choice, Vote, VoteStore
from app.core.engine.protocol import SamplingSettings
from app.core.errors import QuantDeskError
from app.ui.compare_bridge import CompareBridge
from app.ui.compare_model_picker import ModelPicker
from app.ui.compare_side_column import SideColumn, parting_html
from app.ui.compare_tally import TallyTable
from app.ui.error_dialog import show_error

FLUSH_INTERVAL_MS = 50
DEFAULT_MAX_TOKENS = 256


class CompareSidesPanel(QWidget):
    ladder_requested = Signal(object)  # Path: make a ladder of this model through the quantize jobs

    def __init__(self, bridge: CompareBridge | None = None, votes: VoteStore | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.bridge = bridge or CompareBridge(self)
        self.votes = votes or VoteStore()
        self.specs: tuple[SideSpec, ...] = ()
        self.plan: RunPlan | None = None
        self.order: tuple[int, ...] = ()  # position on screen → side
        self.blind = False
        self.revealed = False
        self.last_round: Round | None = None
        self._started: dict[int, float] = {}
        self.round_seed = 0
        self.columns: list[SideColumn] = []

        self.picker = ModelPicker(self)
        self.picker.ladder_requested.connect(self.ladder_requested)
        self.blind_box = QCheckBox(self.tr("Blind test (names hidden, sides shuffled; two files)"), self)
        self.start_button = QPushButton(self.tr("Start"), self)
        self.start_button.setObjectName("startCompare")
        self.plan_label = QLabel(self.tr("Tick two or more files, then Start: each gets its own engine."), self)
        self.plan_label.setWordWrap(True)
        self.plan_label.setObjectName("planLabel")
        self.temperature = QDoubleSpinBox(self)
        self.temperature.setRange(0.0, 2.0)
        self.temperature.setSingleStep(0.1)
        self.temperature.setValue(0.7)
        self.temperature.setAccessibleName(self.tr("Temperature"))
        self.seed = QSpinBox(self)
        self.seed.setRange(-1, 2**31 - 1)
        self.seed.setSpecialValueText(self.tr("random"))
        self.seed.setValue(-1)
        self.seed.setAccessibleName(self.tr("Seed"))
        self.max_tokens = QSpinBox(self)
        self.max_tokens.setRange(16, 4096)
        self.max_tokens.setValue(DEFAULT_MAX_TOKENS)
        self.max_tokens.setAccessibleName(self.tr("Max tokens"))

        self.columns_area = QSplitter(Qt.Orientation.Horizontal, self)
        self.parting = QLabel(self)
        self.parting.setObjectName("partingPanel")
        self.parting.setWordWrap(True)
        self.parting.setTextFormat(Qt.TextFormat.RichText)
        self.parting.setStyleSheet("QLabel#partingPanel { background: #fffbea; border: 1px solid #eedc9a; "
                                   "border-radius: 4px; padding: 6px; }")
        self.parting.hide()
        self.vote_buttons = {choice: QPushButton(text, self) for choice, text in
                             (("a", self.tr("A is better")), ("tie", self.tr("Tie")), ("b", self.tr("B is better")))}
        self.reveal_button = QPushButton(self.tr("Reveal"), self)
        self.vote_label = QLabel(self)
        self.vote_label.setWordWrap(True)
        self.tally = TallyTable(self)
        self.prompt = QLineEdit(self)
        self.prompt.setPlaceholderText(self.tr("Ask every side the same thing — Enter sends"))
        self.prompt.setAccessibleName(self.tr("Your message to every side"))
        self.send_button = QPushButton(self.tr("Send"), self)
        self.stop_button = QPushButton(self.tr("Stop"), self)
        self.new_button = QPushButton(self.tr("New conversation"), self)
        self.close_button = QPushButton(self.tr("Close engines"), self)
        self.close_button.setToolTip(self.tr("End the comparison's engine processes and free their memory"))
        self._layout()
        self._connect()
        self._timer = QTimer(self)
        self._timer.setInterval(FLUSH_INTERVAL_MS)
        self._timer.timeout.connect(self._on_timer_timeout)
        self._timer.start()
        self.tally.show_tally(self.votes.tally())
        self._update_buttons()

    def _layout(self) -> None:
        start_row = QHBoxLayout()
        start_row.addWidget(self.blind_box)
        start_row.addStretch(1)
        start_row.addWidget(self.start_button)
        start_row.addWidget(self.close_button)
        options = QHBoxLayout()
        for text, widget in ((self.tr("Temperature"), self.temperature), (self.tr("Seed"), self.seed),
                             (self.tr("Max tokens"), self.max_tokens)):
            options.addWidget(QLabel(text, self))
            options.addWidget(widget)
        options.addSpacing(12)
        same = QLabel(self.tr("Same seed and sampling on every side."), self)
        same.setWordWrap(True)  # it wraps rather than widen the window (at 200 % it must fit 960 pixels)
        options.addWidget(same, 1)  # the rest of the row: one line wherever there is room for it
        entry = QHBoxLayout()
        entry.addWidget(self.prompt, 1)
        for button in (self.send_button, self.stop_button, self.new_button):
            entry.addWidget(button)
        blind_row = QHBoxLayout()
        self.vote_question = QLabel(self.tr("<b>Which reply is better?</b>"), self)
        blind_row.addWidget(self.vote_question)
        for button in (*self.vote_buttons.values(), self.reveal_button):
            blind_row.addWidget(button)
        blind_row.addWidget(self.vote_label, 1)
        layout = QVBoxLayout(self)
        layout.addWidget(self.picker)
        layout.addLayout(start_row)
        layout.addWidget(self.plan_label)
        layout.addLayout(options)
        layout.addWidget(self.columns_area, 1)
        layout.addWidget(self.parting)
        layout.addLayout(entry)
        layout.addLayout(blind_row)
        layout.addWidget(self.tally)

    def _connect(self) -> None:
        self.start_button.clicked.connect(self._on_start_button_clicked)
        self.send_button.clicked.connect(self._on_send_button_clicked)
        self.prompt.returnPressed.connect(self._on_send_button_clicked)
        self.stop_button.clicked.connect(self.bridge.stop)
        self.new_button.clicked.connect(self._on_new_button_clicked)
        self.close_button.clicked.connect(self.close_engines)
        self.reveal_button.clicked.connect(self.reveal)
        for choice, button in self.vote_buttons.items():
            button.clicked.connect(lambda _checked=False, c=choice: self.vote(c))
        self.bridge.sides_ready.connect(self._on_bridge_sides_ready)
        self.bridge.side_event.connect(self._on_bridge_side_event)
        self.bridge.round_finished.connect(self._on_bridge_round_finished)
        self.bridge.failed.connect(self._on_bridge_failed)
        self.bridge.busy_changed.connect(lambda _busy: self._update_buttons())

    # ---- starting --------------------------------------------------------------------------------------

    def start(self, paths: list[Path] | None = None) -> bool:
        paths = paths if paths is not None else self.picker.checked_paths()
        if len(paths) < 2:
            self.plan_label.setText(self.tr("Tick at least two files to compare."))
            return False
        if self.blind_box.isChecked() and len(paths) != 2:
            self.plan_label.setText(self.tr("A blind test compares two files: tick exactly two."))
            return False
        self.plan_label.setText(self.tr("Reading the files and starting one engine each…"))
        paths = sorted(paths, key=lambda p: p.stat().st_size, reverse=True)  # the largest (best) level first
        return self.bridge.start(paths)

    def _on_start_button_clicked(self) -> None:
        self.start()

    def _on_bridge_sides_ready(self, specs: tuple[SideSpec, ...], plan: RunPlan) -> None:
        self.specs, self.plan = specs, plan
        self.plan_label.setText(plan.reason)
        self._new_conversation()

    def _new_conversation(self) -> None:
        self.blind = self.blind_box.isChecked() and len(self.specs) == 2
        self.order = blind_order(len(self.specs)) if self.blind else tuple(range(len(self.specs)))
        self.revealed = not self.blind
        self.last_round = None
        for column in self.columns:
            column.deleteLater()
        self.columns = []
        for _position in range(len(self.specs)):
            column = SideColumn(self.columns_area)
            self.columns_area.addWidget(column)
            self.columns.append(column)
        self._retitle()
        self.parting.hide()
        self.vote_label.setText("")
        self._update_buttons()

    def _on_new_button_clicked(self) -> None:
        self.new_conversation()

    def new_conversation(self) -> bool:
        """Forget every side's history and, in blind mode, shuffle again; the engines stay loaded, so a large
        model is not read from disk again. With the engines closed, Start loads them anew."""
        session = self.bridge.session
        if session is None or self.bridge.busy:
            return False
        session.new_conversation()
        self._new_conversation()
        self.plan_label.setText(self.plan.reason if self.plan is not None else "")
        return True

    def close_engines(self) -> None:
        """End every side's engine (their memory is freed); the replies stay on screen until Start."""
        if not self.bridge.close_engines():
            return
        for column in self.columns:
            column.set_status(self.tr("Engine closed."))
        self.plan_label.setText(self.tr("Engines closed. Start again to go on comparing."))
        self._update_buttons()

    def title(self, position: int) -> str:
        spec = self.specs[self.order[position]]
        if not self.blind:
            return spec.label
        letter = side_letter(position)
        return f"{letter} — {spec.label}" if self.revealed else letter

    def _retitle(self) -> None:
        for position, column in enumerate(self.columns):
            column.set_title(self.title(position))

    def _column(self, side: int) -> SideColumn | None:
        return self.columns[self.order.index(side)] if side in self.order and self.columns else None

    # ---- asking ----------------------------------------------------------------------------------------

    def sampling(self) -> SamplingSettings:
        """The round's sampling: a concrete seed even when "random" is chosen, so it can be shown and reused."""
        seed = self.seed.value()
        self.round_seed = random.SystemRandom().randrange(0, 2**31) if seed < 0 else seed
        return SamplingSettings(temperature=self.temperature.value(), seed=self.round_seed)

    def send(self, text: str | None = None) -> bool:
        prompt = (text if text is not None else self.prompt.text()).strip()
        if not prompt or self.bridge.session is None or self.bridge.busy:
            return False
        if self.bridge.ask(prompt, self.sampling(), self.max_tokens.value()):
            self.prompt.clear()
            self.parting.hide()
            for column in self.columns:
                column.mark_parting(None)
                column.start_turn(prompt)
            self.vote_label.setText("")
            return True
        return False

    def _on_send_button_clicked(self) -> None:
        self.send()

    def _on_bridge_side_event(self, event: object) -> None:
        if not hasattr(event, "side"):
            return
        column = self._column(event.side)
        if column is None:
            return
        if isinstance(event, SideLoading):
            column.set_status(self.tr("Loading the model…"))
        elif isinstance(event, SideLoaded):
            column.set_status(self.tr("Ready: {desc}, loaded in {s:.1f} s").format(
                desc=event.loaded.info.description, s=event.loaded.load_seconds))
        elif isinstance(event, SideWaiting):
            column.set_status(self.tr("Waits for its turn (one after the other)…"))
        elif isinstance(event, SideText):
            self._started.setdefault(event.side, time.perf_counter())
            column.add_text(event.text)
            column.set_status(self.tr("Writing… {n} tokens").format(n=event.n_generated))
        elif isinstance(event, SideDone):
            self._started.pop(event.side, None)
            done = event.done
            column.finish_turn(done.text, done.tokens, done.stop_reason in ("stopped", "max_tokens", "context_full"))
            column.set_status(self.tr("{n} tokens · {rate:.1f} tokens/s · seed {seed}").format(
                n=done.stats.generated_tokens, rate=done.stats.tokens_per_second,
                seed=self.last_seed_text()))
        elif isinstance(event, SideFailed):
            column.flush()
            column.set_status(self.tr("Failed: {message}").format(message=event.error.message))

    def last_seed_text(self) -> str:
        return str(self.round_seed)

    def _on_timer_timeout(self) -> None:
        for column in self.columns:
            column.flush()

    def _on_bridge_round_finished(self, result: Round) -> None:
        self.last_round = result
        for column in self.columns:
            column.flush()
        self._show_parting(result)
        if self.blind and not self.revealed:
            self.vote_label.setText(self.tr("Seed {seed}. Vote, or Reveal to see which is which.").format(
                seed=result.seed))
        self._update_buttons()

    def _show_parting(self, result: Round) -> None:
        replies = [result.replies[side] for side in self.order]
        if any(r is None or not r.tokens for r in replies):
            return
        tokens = [r.tokens for r in replies if r is not None]
        points = [first_difference(tokens[0], other) for other in tokens[1:]]
        indexes = [p.index for p in points if p is not None]
        if not indexes:
            self.parting.setText(self.tr("<b>The replies are the same, token for token.</b>"))
            self.parting.show()
            return
        index = min(indexes)
        base = tokens[0][index] if index < len(tokens[0]) else None
        for position, column in enumerate(self.columns):
            mine = tokens[position][index] if index < len(tokens[position]) else None
            differs = mine is None or base is None or mine.piece != base.piece or mine.end != base.end
            column.mark_parting(index if differs or position == 0 else None)
        self.parting.setText(parting_html([self.title(p) for p in range(len(self.columns))], tokens, index))
        self.parting.show()

    def _on_bridge_failed(self, error: QuantDeskError) -> None:
        self.plan_label.setText(error.message)
        show_error(self, error)

    # ---- blind votes -------------------------------------------------------------------------------------

    def can_vote(self) -> bool:
        return self.blind and not self.revealed and self.last_round is not None and not self.bridge.busy \
            and all(r is not None for r in self.last_round.replies)

    def vote(self, choice: Choice) -> bool:
        if not self.can_vote() or self.last_round is None:
            return False
        a, b = (self.specs[side] for side in self.order)
        model = a.model_name if a.model_name == b.model_name else f"{a.model_name} / {b.model_name}"
        self.votes.add(Vote(model, a.label, b.label, a.path, b.path, choice, self.last_round.prompt,
                            self.last_round.seed))
        self.tally.show_tally(self.votes.tally())
        picked = {"a": self.tr("You chose A."), "b": self.tr("You chose B."), "tie": self.tr("You called it a tie.")}
        self.reveal(prefix=picked[choice])
        return True

    def reveal(self, prefix: str = "") -> None:
        if not self.blind or self.revealed:
            return
        self.revealed = True
        self._retitle()
        if self.last_round is not None:
            self._show_parting(self.last_round)
        names = ", ".join(self.tr("{letter} was {level}").format(letter=side_letter(p), level=self.specs[s].label)
                          for p, s in enumerate(self.order))
        self.vote_label.setText(" ".join(t for t in (prefix, names + ".", self.tr(
            "New conversation shuffles them again.")) if t))
        self._update_buttons()

    def _update_buttons(self) -> None:
        busy = self.bridge.busy
        started = self.bridge.session is not None
        self.start_button.setEnabled(not busy)
        self.send_button.setEnabled(started and not busy)
        self.stop_button.setEnabled(busy)
        self.new_button.setEnabled(started and not busy)
        self.close_button.setEnabled(started and not busy)
        for button in self.vote_buttons.values():
            button.setEnabled(self.can_vote())
            button.setVisible(self.blind)
        self.reveal_button.setVisible(self.blind)
        self.vote_question.setVisible(self.blind)
        self.reveal_button.setEnabled(self.blind and not self.revealed)

    def shutdown(self) -> None:
        self._timer.stop()
        self.picker.shutdown()
        self.bridge.shutdown()
        self.votes.close()
