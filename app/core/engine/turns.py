"""Taking turns at the one engine: the chat panel and the API server's clients share one model, one at a time.

The engine process answers one request at a time and its client is not thread-safe, so everyone who wants
it (the chat, each HTTP request, a load or unload) asks for a turn first and waits in line, first come, first
served. Whoever holds the turn uses the EngineClient alone. Who holds it and who waits are plain data
(`TurnsState`) for the window to show.

Ending someone's use: `cancel(turn)` takes a waiting turn out of the line, or, for the turn being served,
sets its `cancelled` flag and asks the engine to stop the reply in progress (within one token). The holder
checks `cancelled` as events arrive, so a cancel that lands between two steps of its work still counts.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field


@dataclass(eq=False)
class Turn:
    who: str  # for a person: "Chat", "API: curl/8.5.0 from 127.0.0.1"
    number: int
    cancelled: threading.Event = field(default_factory=threading.Event)


@dataclass(frozen=True)
class TurnsState:
    serving: str | None  # who uses the engine now
    waiting: tuple[str, ...]  # who waits, in order


class TurnCancelledError(Exception):
    """Raised by `turn()` when the turn was cancelled before it came."""


class EngineTurns:
    def __init__(self, stop_engine: Callable[[], None] | None = None) -> None:
        """stop_engine: ends the reply in progress (EngineClient.stop_generation)."""
        self._stop_engine = stop_engine
        self._listeners: list[Callable[[TurnsState], None]] = []
        self._cond = threading.Condition()
        self._line: list[Turn] = []  # the first one is being served
        self._numbers = itertools.count(1)

    def add_listener(self, callback: Callable[[TurnsState], None]) -> None:
        """callback(state) after every change, on the thread that made it, outside the lock."""
        self._listeners.append(callback)

    def remove_listener(self, callback: Callable[[TurnsState], None]) -> None:
        if callback in self._listeners:
            self._listeners.remove(callback)

    # ---- the line -----------------------------------------------------------------------------------

    def enter(self, who: str) -> Turn:
        """Join the line (at once); then wait() for the turn to come."""
        with self._cond:
            turn = Turn(who, next(self._numbers))
            self._line.append(turn)
        self._changed()
        return turn

    def wait(self, turn: Turn, timeout: float | None = None) -> bool:
        """Block until `turn` is served (True), or it was cancelled or the timeout passed (False; it then
        leaves the line)."""
        with self._cond:
            served = self._cond.wait_for(
                lambda: turn.cancelled.is_set() or (bool(self._line) and self._line[0] is turn), timeout)
            if served and not turn.cancelled.is_set():
                return True
        self.leave(turn)
        return False

    def leave(self, turn: Turn) -> None:
        """Done (or given up): the next in line is served."""
        with self._cond:
            if turn not in self._line:
                return
            self._line.remove(turn)
            self._cond.notify_all()
        self._changed()

    @contextmanager
    def turn(self, who: str) -> Iterator[Turn]:
        """`with turns.turn("Chat") as turn:` the engine is yours inside; raises TurnCancelledError if the
        turn was cancelled while waiting."""
        turn = self.enter(who)
        if not self.wait(turn):
            raise TurnCancelledError(who)
        try:
            yield turn
        finally:
            self.leave(turn)

    # ---- ending someone's use -----------------------------------------------------------------------

    def cancel(self, turn: Turn) -> None:
        """Out of the line if waiting; if served now, its reply is stopped."""
        with self._cond:
            turn.cancelled.set()
            serving = bool(self._line) and self._line[0] is turn
            if serving and self._stop_engine is not None:
                self._stop_engine()  # under the lock: the next turn cannot have started yet
            self._cond.notify_all()
        if not serving:
            self.leave(turn)

    def cancel_serving(self) -> str | None:
        """Stop whatever uses the engine now (the window's Stop); returns who that was."""
        with self._cond:
            current = self._line[0] if self._line else None
        if current is None:
            return None
        self.cancel(current)
        return current.who

    # ---- what the window shows ----------------------------------------------------------------------

    def state(self) -> TurnsState:
        with self._cond:
            return TurnsState(self._line[0].who if self._line else None, tuple(t.who for t in self._line[1:]))

    def serving(self, turn: Turn) -> bool:
        with self._cond:
            return bool(self._line) and self._line[0] is turn

    def _changed(self) -> None:
        state = self.state()
        for listener in list(self._listeners):
            listener(state)
