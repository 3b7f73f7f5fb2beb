"""The app's side of the engine: starts the engine process, sends requests, turns events into results.

Blocking methods (load_model, generate) are meant for a worker thread or the CLI; stop_generation() is
safe from any thread and takes effect within one token. If the process dies (an abort inside llama.cpp,
the OS killing it), the next call raises EngineCrashedError carrying the tail of the engine's log, and
restart() brings up a fresh process.
"""

from __future__ import annotations

import itertools
import multiprocessing
import os
import signal
import tempfile
import threading
from collections.abc import Iterator, Sequence
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from pathlib import Path

from app.core import errors
from app.core.engine.protocol import (
    GREEDY,
    ChatMessage,
    Event,
    Generate,
    GenerationDone,
    LoadModel,
    ModelLoaded,
    ModelUnloaded,
    RequestFailed,
    SamplingSettings,
    Shutdown,
    StopGeneration,
    TextDelta,
    UnloadModel,
)
from app.core.engine.server import serve
from app.core.errors import EngineCrashedError, QuantDeskError
from app.core.process_start import child_main_module

_POLL_SECONDS = 0.05


def _error_from_event(event: RequestFailed) -> QuantDeskError:
    cls = getattr(errors, event.kind, None)
    if not (isinstance(cls, type) and issubclass(cls, QuantDeskError)):
        cls = QuantDeskError
    return cls(event.message, event.detail)


class EngineClient:
    """One engine process. Not thread-safe except stop_generation() and the read-only properties."""

    def __init__(self, log_dir: Path | None = None) -> None:
        self._log_dir = log_dir or Path(tempfile.gettempdir())
        self._process: BaseProcess | None = None
        self._conn: Connection | None = None
        self._send_lock = threading.Lock()
        self._ids = itertools.count(1)
        self._generating: int | None = None
        self.loaded: ModelLoaded | None = None
        self.log_path: Path | None = None

    # ---- lifecycle ----------------------------------------------------------------------------------

    def start(self) -> None:
        if self.is_running:
            return
        ctx = multiprocessing.get_context("spawn")
        parent, child = ctx.Pipe(duplex=True)
        fd, name = tempfile.mkstemp(prefix="quantdesk-engine-", suffix=".log", dir=self._log_dir)
        os.close(fd)
        self.log_path = Path(name)
        process = ctx.Process(target=serve, args=(child, name), name="quantdesk-engine", daemon=True)
        with child_main_module():
            process.start()
        child.close()
        self._process, self._conn = process, parent
        self.loaded = None
        self._generating = None

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    @property
    def is_running(self) -> bool:
        return self._process is not None and self._process.is_alive()

    def close(self, timeout: float = 5.0) -> None:
        """Ask the engine to exit; terminate, then kill, if it does not within `timeout`."""
        process, conn = self._process, self._conn
        self._process, self._conn, self.loaded = None, None, None
        if process is None or conn is None:
            return
        try:
            with self._send_lock:
                conn.send(Shutdown())
        except (OSError, ValueError):
            pass
        process.join(timeout)
        if process.is_alive():
            process.terminate()
            process.join(2.0)
        if process.is_alive():
            process.kill()
            process.join(2.0)
        conn.close()
        if self.log_path is not None:
            self.log_path.unlink(missing_ok=True)

    def restart(self) -> None:
        self.close(timeout=1.0)
        self.start()

    def kill(self) -> None:
        """Kill the engine at once (what the OS does on out-of-memory); used by tests and as a last resort."""
        if self._process is not None and self._process.pid is not None and self._process.is_alive():
            os.kill(self._process.pid, signal.SIGKILL)
            self._process.join(5.0)

    # ---- plumbing -----------------------------------------------------------------------------------

    def _send(self, request: object) -> None:
        if self._conn is None or not self.is_running:
            raise self._crash_error()
        try:
            with self._send_lock:
                self._conn.send(request)
        except (OSError, ValueError) as error:
            raise self._crash_error() from error

    def _recv(self) -> Event:
        conn = self._conn
        if conn is None:
            raise self._crash_error()
        while True:
            try:
                if conn.poll(_POLL_SECONDS):
                    event: Event = conn.recv()
                    return event
            except (EOFError, OSError) as error:
                raise self._crash_error() from error
            if self._process is None or not self._process.is_alive():
                raise self._crash_error()

    def _crash_error(self) -> EngineCrashedError:
        code = self._process.exitcode if self._process is not None else None
        self._generating = None
        self.loaded = None
        how = "stopped"
        if code is not None and code < 0:
            try:
                how = f"was ended by signal {signal.Signals(-code).name}"
            except ValueError:
                how = f"was ended by signal {-code}"
        elif code is not None:
            how = f"exited with code {code}"
        tail = self.log_tail()
        return EngineCrashedError(
            "The model engine stopped unexpectedly. Your conversation is safe; restart the engine to go on.",
            f"The engine process {how}.\n" + ("Last lines of its log:\n" + tail if tail else "(no log)"),
        )

    def log_tail(self, max_lines: int = 30) -> str:
        if self.log_path is None or not self.log_path.exists():
            return ""
        lines = self.log_path.read_text(encoding="utf-8", errors="replace").splitlines()
        return "\n".join(lines[-max_lines:])

    # ---- requests -----------------------------------------------------------------------------------

    def load_model(self, request: LoadModel) -> ModelLoaded:
        self.start()
        self._send(request)
        event = self._recv()
        if isinstance(event, RequestFailed):
            self.loaded = None
            raise _error_from_event(event)
        assert isinstance(event, ModelLoaded), event
        self.loaded = event
        return event

    def unload_model(self) -> None:
        if not self.is_running:
            return
        self._send(UnloadModel())
        while not isinstance(self._recv(), ModelUnloaded):
            pass
        self.loaded = None

    def generate(
        self,
        messages: Sequence[ChatMessage],
        max_tokens: int = 512,
        sampling: SamplingSettings = GREEDY,
    ) -> Iterator[TextDelta | GenerationDone]:
        """Yield TextDelta events as the reply streams, then one GenerationDone."""
        rid = next(self._ids)
        self._generating = rid
        self._send(Generate(rid, tuple(messages), max_tokens, sampling))
        try:
            while True:
                event = self._recv()
                if isinstance(event, RequestFailed):
                    raise _error_from_event(event)
                if isinstance(event, TextDelta) and event.request_id == rid:
                    yield event
                elif isinstance(event, GenerationDone) and event.request_id == rid:
                    yield event
                    return
        finally:
            self._generating = None

    def complete(self, messages: Sequence[ChatMessage], max_tokens: int = 512,
                 sampling: SamplingSettings = GREEDY) -> GenerationDone:
        """generate() without the stream: the final event."""
        for event in self.generate(messages, max_tokens, sampling):
            if isinstance(event, GenerationDone):
                return event
        raise EngineCrashedError("The engine ended the reply without finishing it.", "no GenerationDone")

    def stop_generation(self) -> None:
        """Safe from any thread: the reply ends after the token being decoded now."""
        if self._generating is None or self._conn is None:
            return
        try:
            with self._send_lock:
                self._conn.send(StopGeneration())
        except (OSError, ValueError):
            pass
