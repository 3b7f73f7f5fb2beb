"""The app's side of the engine: starts the engine process, sends requests, turns events into results.

Blocking methods (load_model, generate) are meant for a worker thread or the CLI; stop_generation() is
safe from any thread and takes effect within one token. If the process dies (an abort inside llama.cpp,
the OS killing it), the next call raises EngineCrashedError carrying the tail of the engine's log, and
restart() brings up a fresh process.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

from app.core.engine.protocol import (
    GREEDY,
    BuildDescribed,
    ChatMessage,
    DescribeBuild,
    Event,
    Generate,
    GenerationDone,
    LoadModel,
    LoadProgress,
    ModelLoaded,
    ModelUnloaded,
    PromptReady,
    RequestFailed,
    SamplingSettings,
    Shutdown,
    StopGeneration,
    TextDelta,
    UnloadModel,
)
from app.core.engine.server import serve
from app.core.errors import EngineCrashedError, QuantDeskError
from app.core.machine.llama_build import BackendInfo
from app.core.process.runner import ChildProcess

_POLL_SECONDS = 0.05
# With a model on other machines: after this long without a word from the engine, check that each machine still
# accepts connections. One that vanished without closing its connections (a cable pulled, a machine asleep) would
# leave llama.cpp waiting on TCP for many minutes; a refused one has already made ggml abort the engine.
RPC_QUIET_SECONDS = 15.0


class EngineClient:
    """One engine process. Not thread-safe except stop_generation() and the read-only properties."""

    def __init__(self, log_dir: Path | None = None) -> None:
        self._log_dir = log_dir or Path(tempfile.gettempdir())
        self._child: ChildProcess | None = None
        self._ids = itertools.count(1)
        self._generating: int | None = None
        self.loaded: ModelLoaded | None = None
        self.log_path: Path | None = None
        self.rpc_servers: tuple[str, ...] = ()  # the machines the loaded model uses
        self._lost: str | None = None  # a machine found gone: the crash message names it

    # ---- lifecycle ----------------------------------------------------------------------------------

    def start(self) -> None:
        if self.is_running:
            return
        fd, name = tempfile.mkstemp(prefix="quantdesk-engine-", suffix=".log", dir=self._log_dir)
        os.close(fd)
        self.log_path = Path(name)
        child = ChildProcess(serve, name="quantdesk-engine", log_path=self.log_path)
        child.start()
        self._child = child
        self.loaded = None
        self._generating = None

    @property
    def pid(self) -> int | None:
        return self._child.pid if self._child is not None else None

    @property
    def is_running(self) -> bool:
        return self._child is not None and self._child.is_alive

    def close(self, timeout: float = 5.0) -> None:
        """Ask the engine to exit; terminate, then kill, if it does not within `timeout`."""
        child = self._child
        self._child, self.loaded, self.rpc_servers = None, None, ()
        if child is None:
            return
        with contextlib.suppress(OSError, ValueError):
            child.send(Shutdown())
        child.join(timeout)
        child.stop()
        child.close()
        if self.log_path is not None:
            self.log_path.unlink(missing_ok=True)

    def restart(self) -> None:
        self.close(timeout=1.0)
        self.start()

    def kill(self) -> None:
        """Kill the engine at once (what the OS does on out-of-memory); used by tests and as a last resort."""
        if self._child is not None:
            self._child.kill()

    # ---- plumbing -----------------------------------------------------------------------------------

    def _send(self, request: object) -> None:
        if self._child is None or not self.is_running:
            raise self._crash_error()
        try:
            self._child.send(request)
        except (OSError, ValueError) as error:
            raise self._crash_error() from error

    def _recv(self) -> Event:
        conn = self._child.conn if self._child is not None else None
        if conn is None:
            raise self._crash_error()
        quiet_since = time.monotonic()
        while True:
            try:
                if conn.poll(_POLL_SECONDS):
                    event: Event = conn.recv()
                    return event
            except (EOFError, OSError) as error:
                raise self._crash_error() from error
            if not self.is_running:
                raise self._crash_error()
            if self.rpc_servers and time.monotonic() - quiet_since > RPC_QUIET_SECONDS:
                self._check_machines()
                quiet_since = time.monotonic()

    def _check_machines(self) -> None:
        """End the engine if a machine the model runs on stopped accepting connections."""
        from app.core.machine.rpc_backend import parse_endpoint, probe

        for server in self.rpc_servers:
            try:
                probe(parse_endpoint(server), timeout=3.0)
            except QuantDeskError:
                self._lost = server
                self.kill()
                raise self._crash_error() from None

    def _crash_error(self) -> EngineCrashedError:
        self._generating = None
        self.loaded = None
        how = self._child.exit_description() if self._child is not None else "is not running"
        tail = self.log_tail()
        message = "The model engine stopped unexpectedly. Your conversation is safe; restart the engine to go on."
        if self._lost or (self.rpc_servers and ("RPC server" in tail or "Failed to connect" in tail)):
            where = self._lost or ", ".join(self._unreachable()) or ", ".join(self.rpc_servers)
            message = (f"The connection to the machine at {where}, which runs part of the model, was lost. "
                       "Your conversation is safe; restart the engine to go on (without that machine if it is gone).")
        self._lost = None
        return EngineCrashedError(
            message,
            f"The engine process {how}.\n" + ("Last lines of its log:\n" + tail if tail else "(no log)"),
        )

    def _unreachable(self) -> list[str]:
        """The machines of the loaded model that no longer accept connections (ggml's log does not say which)."""
        from app.core.machine.rpc_backend import parse_endpoint, probe

        gone = []
        for server in self.rpc_servers:
            try:
                probe(parse_endpoint(server), timeout=1.0)
            except QuantDeskError:
                gone.append(server)
        return gone

    def log_tail(self, max_lines: int = 30) -> str:
        if self.log_path is None or not self.log_path.exists():
            return ""
        lines = self.log_path.read_text(encoding="utf-8", errors="replace").splitlines()
        return "\n".join(lines[-max_lines:])

    # ---- requests -----------------------------------------------------------------------------------

    def load_model(self, request: LoadModel, on_progress: Callable[[float], None] | None = None) -> ModelLoaded:
        """Load a model (replacing the one loaded); on_progress(fraction) follows llama.cpp's reading."""
        self.start()
        self.rpc_servers = request.rpc_servers
        self._send(request)
        event = self._recv()
        while isinstance(event, LoadProgress):
            if on_progress is not None:
                on_progress(event.fraction)
            event = self._recv()
        if isinstance(event, RequestFailed):
            self.loaded = None
            raise event.error.to_error()
        assert isinstance(event, ModelLoaded), event
        self.loaded = event
        return event

    def describe_build(self) -> BackendInfo | None:
        """The llama.cpp build the engine process runs (starting the process if needed)."""
        self.start()
        self._send(DescribeBuild())
        while True:
            event = self._recv()
            if isinstance(event, BuildDescribed):
                return event.backend
            if isinstance(event, RequestFailed):
                raise event.error.to_error()

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
        prompt_format: str = "auto",
        top_logprobs: int = 0,
        stop: Sequence[str] = (),
    ) -> Iterator[PromptReady | TextDelta | GenerationDone]:
        """Yield one PromptReady, TextDelta events as the reply streams, then one GenerationDone (with every
        token and its `top_logprobs` most likely alternatives when that is above 0). `stop`: texts that end
        the reply (not shown), besides the chat format's own turn markers."""
        rid = next(self._ids)
        self._generating = rid
        self._send(Generate(rid, tuple(messages), max_tokens, sampling, prompt_format, top_logprobs=top_logprobs,
                            stop=tuple(stop)))
        try:
            while True:
                event = self._recv()
                if isinstance(event, RequestFailed):
                    raise event.error.to_error()
                if isinstance(event, (TextDelta, PromptReady)) and event.request_id == rid:
                    yield event
                elif isinstance(event, GenerationDone) and event.request_id == rid:
                    yield event
                    return
        finally:
            self._generating = None

    def complete(self, messages: Sequence[ChatMessage], max_tokens: int = 512,
                 sampling: SamplingSettings = GREEDY, prompt_format: str = "auto") -> GenerationDone:
        """generate() without the stream: the final event."""
        for event in self.generate(messages, max_tokens, sampling, prompt_format):
            if isinstance(event, GenerationDone):
                return event
        raise EngineCrashedError("The engine ended the reply without finishing it.", "no GenerationDone")

    def stop_generation(self) -> None:
        """Safe from any thread: the reply ends after the token being decoded now."""
        if self._generating is None or self._child is None:
            return
        with contextlib.suppress(OSError, ValueError):
            self._child.send(StopGeneration())
