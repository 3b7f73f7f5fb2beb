"""The one engine as the server's requests use it: each request waits its turn (engine/turns.py), runs on a
thread of its own that reads the engine's events, and hands them to the event loop as they come.

A request the client gives up on (it closes the connection) is cancelled: out of the line if it was waiting,
or its reply stopped within a token if it was running, so the engine is free for the next one. What was
served, and for whom, is kept as plain data (`Activity`) for the window.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections import deque
from collections.abc import AsyncGenerator, Callable
from dataclasses import dataclass, replace
from pathlib import Path

from app.core.engine.client import EngineClient
from app.core.engine.protocol import GenerationDone, ModelLoaded, PromptReady, TextDelta
from app.core.engine.turns import EngineTurns, Turn
from app.core.errors import ContextFullError, EngineCrashedError, QuantDeskError
from app.core.serve.api_error import ApiError, no_model, server_error
from app.core.serve.openai_requests import GenerationRequest

_END = object()
_RECENT = 20


@dataclass(frozen=True)
class ServedRequest:
    number: int
    client: str  # "curl/8.5.0 from 127.0.0.1"
    endpoint: str  # "/v1/chat/completions"
    received_at: float  # time.time()
    started_at: float = 0.0  # when its turn came (0: not yet, or never)
    ended_at: float = 0.0
    outcome: str = "waiting"  # waiting, running, answered, stopped, client left, failed: <why>
    generated_tokens: int = 0
    stop_reason: str = ""  # the engine's (GenerationDone.stop_reason): "stopped" when it was cut short


@dataclass(frozen=True)
class Activity:
    requests: int  # requests received since the server started
    running: ServedRequest | None
    waiting: int
    last_client: str
    recent: tuple[ServedRequest, ...]  # newest last


def model_id(loaded: ModelLoaded | None) -> str | None:
    """The name clients see in /v1/models and in replies: the file's name without .gguf."""
    return None if loaded is None else Path(loaded.info.path).stem


def model_created(loaded: ModelLoaded | None) -> int:
    """/v1/models' "created": when the model file was written."""
    if loaded is None:
        return 0
    try:
        return int(Path(loaded.info.path).stat().st_mtime)
    except OSError:
        return 0


class SharedEngine:
    def __init__(self, client: EngineClient, turns: EngineTurns) -> None:
        self.client = client
        self.turns = turns
        self._lock = threading.Lock()
        self._count = 0
        self._records: deque[ServedRequest] = deque(maxlen=_RECENT)
        self._open: dict[int, ServedRequest] = {}
        self._turns: dict[int, Turn] = {}
        self._listeners: list[Callable[[Activity], None]] = []
        self.last_client = ""
        # the window's chat shows a crash whoever met it: told here when an API request meets one
        self.on_engine_crashed: Callable[[EngineCrashedError], None] | None = None

    # ---- what the window shows ----------------------------------------------------------------------

    def add_listener(self, callback: Callable[[Activity], None]) -> None:
        """callback(activity) after every change, on the thread that made it."""
        self._listeners.append(callback)

    def remove_listener(self, callback: Callable[[Activity], None]) -> None:
        if callback in self._listeners:
            self._listeners.remove(callback)

    def activity(self) -> Activity:
        with self._lock:
            running = next((r for r in self._open.values() if r.outcome == "running"), None)
            waiting = sum(1 for r in self._open.values() if r.outcome == "waiting")
            return Activity(self._count, running, waiting, self.last_client, tuple(self._records))

    def _update(self, number: int, **changes: object) -> None:
        with self._lock:
            record = replace(self._open[number], **changes)  # type: ignore[arg-type]
            if record.ended_at:
                self._open.pop(number, None)
                self._turns.pop(number, None)
                self._records.append(record)
            else:
                self._open[number] = record
        activity = self.activity()
        for listener in list(self._listeners):
            listener(activity)

    def stop_running(self) -> bool:
        """The window's Stop: the API request being answered ends now (the engine stops within a token)."""
        with self._lock:
            running = [self._turns[n] for n, r in self._open.items() if r.outcome == "running" and n in self._turns]
        for turn in running:
            self.turns.cancel(turn)
        return bool(running)

    def cancel_all(self) -> None:
        """The server is stopping: every request waiting or running ends now."""
        with self._lock:
            turns = list(self._turns.values())
        for turn in turns:
            self.turns.cancel(turn)

    # ---- one request --------------------------------------------------------------------------------

    async def generate(self, request: GenerationRequest, client: str, endpoint: str
                       ) -> AsyncGenerator[PromptReady | TextDelta | GenerationDone, None]:
        """The engine's events for `request`, after its turn comes. Closing the iterator early (the client
        left) cancels the request and stops the engine. Raises ApiError when it cannot be answered."""
        import asyncio  # here, not at the top: the window reads this module at start-up, the loop comes later
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[object] = asyncio.Queue()
        with self._lock:
            self._count += 1
            number = self._count
            self.last_client = client
            self._open[number] = ServedRequest(number, client, endpoint, time.time())
        turn = self.turns.enter(f"API #{number}: {client}")
        with self._lock:
            self._turns[number] = turn
        self._update(number)

        def put(item: object) -> None:
            with contextlib.suppress(RuntimeError):  # the loop is gone: the server stopped
                loop.call_soon_threadsafe(queue.put_nowait, item)

        worker = threading.Thread(target=self._work, args=(request, turn, number, put),
                                  name=f"api-request-{number}", daemon=True)
        worker.start()
        finished = False
        try:
            while True:
                item = await queue.get()
                if item is _END:
                    finished = True
                    return
                if isinstance(item, ApiError):
                    finished = True
                    raise item
                finished = isinstance(item, GenerationDone)  # the reply is whole: nothing left to cancel
                yield item  # type: ignore[misc]
        finally:
            if not finished:  # the client left, or the server is stopping: free the engine now
                with contextlib.suppress(KeyError):
                    self._update(number, outcome="client left")
                self.turns.cancel(turn)

    def _work(self, request: GenerationRequest, turn: Turn, number: int, put: Callable[[object], None]) -> None:
        """On the request's own thread: wait for the turn, then pass the engine's events on."""
        generated, outcome, reason = 0, "answered", ""
        try:
            if not self.turns.wait(turn):
                outcome = "client left"
                return
            self._update(number, started_at=time.time(), outcome="running")
            try:
                loaded = self.client.loaded
                if loaded is None:
                    outcome = "failed: no model loaded"
                    put(no_model())
                    return
                max_tokens = request.max_tokens or loaded.info.n_ctx
                stopping = False
                for event in self.client.generate(request.messages, max_tokens, request.sampling,
                                                  request.prompt_format, stop=request.stop):
                    put(event)
                    if isinstance(event, GenerationDone):
                        generated, reason = event.stats.generated_tokens, event.stop_reason
                        if event.stop_reason == "stopped":
                            outcome = "stopped"
                    elif turn.cancelled.is_set() and not stopping:  # cancelled before the engine had it
                        stopping = True
                        self.client.stop_generation()
            finally:
                self.turns.leave(turn)
        except EngineCrashedError as error:
            outcome = "failed: the engine stopped"
            put(server_error(f"{error.message} {error.detail}".strip(), "engine_crashed"))
            if self.on_engine_crashed is not None:
                self.on_engine_crashed(error)
        except ContextFullError as error:
            outcome = "failed: too long"
            put(ApiError(400, error.message, "invalid_request_error", "messages", "context_length_exceeded"))
        except QuantDeskError as error:
            outcome = f"failed: {error.message}"
            put(server_error(error.message))
        finally:
            with contextlib.suppress(KeyError):
                if turn.cancelled.is_set() and outcome in ("answered", "stopped"):
                    outcome = "client left" if self._open[number].outcome == "client left" else "stopped"
                self._update(number, ended_at=time.time(), outcome=outcome, generated_tokens=generated,
                             stop_reason=reason)
            put(_END)
