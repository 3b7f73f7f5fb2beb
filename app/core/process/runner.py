"""The one way QuantDesk starts a child process: the engine, and every heavy step of a job.

- Children are started with multiprocessing's "spawn" and app.core.process.bootstrap as their main module
  (llama.cpp's libraries load before numpy's; bootstrap.py says why).
- One duplex Pipe joins parent and child. A job step's child sends Progress, then one Result or Failure; the
  engine sends its own events over the same kind of pipe.
- Errors cross one way, as an ErrorReport (the QuantDeskError's class name, message, detail): the same type
  comes out on the other side, and a bug or an out-of-memory in the child is a plain-words error too.
- Stopping is terminate, then kill; the exit is described in words ("was ended by signal SIGKILL").
- A child never outlives its parent: a thread in the child waits on multiprocessing's parent sentinel (a pipe
  the parent holds open; the OS closes it however the parent dies, SIGKILL included) and ends the child at
  once, before it can rename a half-finished job's file into place.
"""

from __future__ import annotations

import errno
import importlib.util
import logging
import multiprocessing
import multiprocessing.connection
import os
import signal
import sys
import threading
import traceback
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import Any

from app.core import errors
from app.core.disk import disk_full_error, remove_stale_partials
from app.core.errors import Cancelled, QuantDeskError
from app.core.progress import CancelToken, ProgressCallback, no_progress

log = logging.getLogger(__name__)

_POLL_SECONDS = 0.1
#: The exit code of a child that ended because its parent was gone (os._exit: no cleanup runs).
PARENT_GONE_EXIT = 75

_spawn_lock = threading.Lock()


# ---- errors across the boundary -----------------------------------------------------------------------


@dataclass(frozen=True)
class ErrorReport:
    """A failure as it crosses a process boundary: plain data, turned back into the same error type."""

    kind: str  # the QuantDeskError subclass name
    message: str
    detail: str
    extra: dict[str, str] = field(default_factory=dict)  # a subclass's own fields (AlreadyQuantizedError's type)

    @classmethod
    def from_exception(cls, error: BaseException, unexpected: str = "The job failed unexpectedly.") -> ErrorReport:
        """`unexpected` is what a person is told about an error that is a bug, not their input's fault."""
        if isinstance(error, QuantDeskError):
            extra = {k: str(v) for k, v in vars(error).items() if k not in ("message", "detail")
                     and isinstance(v, (str, int, float))}
            return cls(type(error).__name__, error.message, error.detail, extra)
        detail = "".join(traceback.format_exception(error))
        if isinstance(error, MemoryError):
            return cls("QuantDeskError", "The computer ran out of memory for this job.", detail)
        if isinstance(error, OSError) and error.errno == errno.ENOSPC:
            where = Path(error.filename).parent if error.filename else Path.cwd()
            full = disk_full_error(where, detail)
            return cls("NotEnoughDiskError", full.message, full.detail)
        if isinstance(error, OSError):
            return cls("QuantDeskError", f"A file could not be read or written: {error.strerror or error}.",
                       detail)
        return cls("QuantDeskError", unexpected, detail)

    def to_error(self) -> QuantDeskError:
        cls = getattr(errors, self.kind, None)
        if not (isinstance(cls, type) and issubclass(cls, QuantDeskError)):
            cls = QuantDeskError
        error = cls(self.message, self.detail)
        for key, value in self.extra.items():
            setattr(error, key, value)
        return error


# ---- the child's side ---------------------------------------------------------------------------------


def _die_with_parent() -> None:
    """End this process the moment its parent is gone (the parent's end of the sentinel pipe closes)."""
    parent = multiprocessing.parent_process()
    if parent is None or parent.sentinel is None:
        return
    sentinel = parent.sentinel

    def watch() -> None:
        multiprocessing.connection.wait([sentinel])
        os._exit(PARENT_GONE_EXIT)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def _redirect_stderr(log_path: str) -> None:
    """Point fd 2 at a log file, so native code's last words (GGML_ASSERT, CUDA errors) survive a crash."""
    fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    if sys.stderr is not None:  # None in a windowed frozen app on Windows (no console)
        sys.stderr.flush()
    os.dup2(fd, 2)
    os.close(fd)
    sys.stderr = open(2, "w", encoding="utf-8", errors="replace", closefd=False, buffering=1)  # noqa: SIM115


def _child_entry(conn: Connection, target: Callable[..., None], args: tuple[Any, ...], log_path: str | None) -> None:
    if log_path:
        _redirect_stderr(log_path)
    _die_with_parent()
    target(conn, *args)


# ---- the parent's side --------------------------------------------------------------------------------


@contextmanager
def _bootstrap_as_main() -> Iterator[None]:
    """While active, a "spawn" child imports app.core.process.bootstrap instead of the parent's __main__.

    multiprocessing reads `__main__.__spec__.name` when it starts a child and runs that module first there;
    the parent's own __main__ is untouched apart from that attribute, restored on exit.
    """
    with _spawn_lock:
        main = sys.modules.get("__main__")
        if main is None:
            yield
            return
        saved = getattr(main, "__spec__", None)
        main.__spec__ = importlib.util.find_spec("app.core.process.bootstrap")
        try:
            yield
        finally:
            main.__spec__ = saved


def describe_exit(exitcode: int | None) -> str:
    """How a child ended, in words: "exited with code 1", "was ended by signal SIGKILL"."""
    if exitcode is None:
        return "is still running"
    if exitcode == PARENT_GONE_EXIT:
        return "ended because QuantDesk was gone"
    if exitcode < 0:
        try:
            return f"was ended by signal {signal.Signals(-exitcode).name}"
        except ValueError:
            return f"was ended by signal {-exitcode}"
    return f"exited with code {exitcode}"


class ChildProcess:
    """One child process running `target(conn, *args)`, joined to this one by a duplex Pipe.

    `log_path`: the child's stderr (and so llama.cpp's own log) goes there. The child ends when this
    process ends, however it ends.
    """

    def __init__(self, target: Callable[..., None], args: tuple[Any, ...] = (), *, name: str = "quantdesk-child",
                 log_path: Path | None = None) -> None:
        self._target = target
        self._args = args
        self.name = name
        self.log_path = log_path
        self._process: BaseProcess | None = None
        self.conn: Connection | None = None
        self._send_lock = threading.Lock()

    def start(self) -> None:
        # CUDA numbers GPUs fastest first, NVML by PCI bus: children number them as NVML does, so "GPU 1" in a
        # plan (hardware.py) is CUDA1 in llama.cpp. A person's own setting stays.
        os.environ.setdefault("CUDA_DEVICE_ORDER", "PCI_BUS_ID")
        ctx = multiprocessing.get_context("spawn")
        parent, child = ctx.Pipe(duplex=True)
        process = ctx.Process(target=_child_entry, name=self.name, daemon=True,
                              args=(child, self._target, self._args, str(self.log_path) if self.log_path else None))
        with _bootstrap_as_main():
            process.start()
        child.close()
        self._process, self.conn = process, parent

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    @property
    def is_alive(self) -> bool:
        return self._process is not None and self._process.is_alive()

    @property
    def exitcode(self) -> int | None:
        return self._process.exitcode if self._process is not None else None

    def exit_description(self) -> str:
        return describe_exit(self.exitcode)

    def send(self, message: object) -> None:
        """Send to the child; safe from any thread. OSError/ValueError when the pipe is gone."""
        if self.conn is None:
            raise BrokenPipeError("the child process was not started")
        with self._send_lock:
            self.conn.send(message)

    def join(self, timeout: float | None = None) -> None:
        if self._process is not None:
            self._process.join(timeout)

    def stop(self, grace: float = 2.0) -> None:
        """Terminate, then kill: the child gets no chance to tidy up (callers remove its temporary files)."""
        process = self._process
        if process is None:
            return
        if process.is_alive():
            process.terminate()
            process.join(grace)
        if process.is_alive():
            process.kill()
            process.join(grace)

    def kill(self) -> None:
        """SIGKILL at once (what the OS does on out-of-memory): used by tests and as a last resort."""
        if self._process is not None and self._process.pid is not None and self._process.is_alive():
            os.kill(self._process.pid, signal.SIGKILL)
            self._process.join(5.0)

    def close(self) -> None:
        """Release the pipe (after stop or a natural exit)."""
        if self.conn is not None:
            self.conn.close()
            self.conn = None


# ---- a function in a child: progress back, then its result or its error ----------------------------------


@dataclass(frozen=True)
class _Progress:
    done: int
    total: int


@dataclass(frozen=True)
class _Result:
    value: Any


def _run_function(conn: Connection, target: Callable[..., Any], args: tuple[Any, ...],
                  kwargs: dict[str, Any]) -> None:
    def report(done: int, total: int) -> None:
        conn.send(_Progress(int(done), int(total)))

    try:
        value = target(*args, on_progress=report, **kwargs)
        conn.send(_Result(value))
    except Exception as error:
        conn.send(ErrorReport.from_exception(error))


def run_in_child(
    target: Callable[..., Any],
    args: tuple[Any, ...] = (),
    kwargs: dict[str, Any] | None = None,
    on_progress: ProgressCallback = no_progress,
    cancel: CancelToken | None = None,
    outputs: Sequence[Path] = (),
    terminate_grace: float = 2.0,
) -> Any:
    """Run target(*args, on_progress=..., **kwargs) in a child process and return its result.

    The target must be importable at module level, its arguments and result picklable. Raises the child's
    QuantDeskError (same class, same detail), Cancelled when `cancel` was set, or a QuantDeskError when the
    child died without a word (an abort inside native code). `outputs` names the files the step makes: their
    partial files (app/core/disk.py) are removed after a cancel or a failure.
    """
    child = ChildProcess(_run_function, (target, args, kwargs or {}), name=f"quantdesk-{target.__name__}")
    child.start()
    conn = child.conn
    assert conn is not None
    outcome: _Result | ErrorReport | None = None
    try:
        while outcome is None:
            if cancel is not None and cancel.is_set():
                raise Cancelled()
            message = _receive(conn, child)
            if message is None:
                continue
            if isinstance(message, _Progress):
                on_progress(message.done, message.total)
            elif isinstance(message, (_Result, ErrorReport)):
                outcome = message
        child.join(5.0)
    except BaseException:
        child.stop(terminate_grace)
        _remove_partials(outputs)
        raise
    finally:
        child.close()
    if isinstance(outcome, ErrorReport):
        _remove_partials(outputs)
        raise outcome.to_error()
    return outcome.value


def _receive(conn: Connection, child: ChildProcess) -> object | None:
    """The next message, None after a quiet poll; QuantDeskError when the child is gone without a word."""
    try:
        if conn.poll(_POLL_SECONDS):
            return conn.recv()
    except (EOFError, OSError):
        pass
    else:
        if child.is_alive:
            return None
        # the last messages may still be in flight after the child exits
        try:
            if conn.poll(0.5):
                return conn.recv()
        except (EOFError, OSError):
            pass
    child.join(2.0)
    raise QuantDeskError("The job stopped unexpectedly.",
                         f"the child process {child.exit_description()} without a result")


def _remove_partials(outputs: Sequence[Path]) -> None:
    for path in outputs:
        remove_stale_partials(Path(path).parent, Path(path).name)
