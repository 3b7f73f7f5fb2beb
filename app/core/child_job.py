"""Run a heavy function in a child process: progress streams back, Cancel terminates, errors keep their type.

Conversion (numpy work that would fight the GUI for the GIL) and quantization (one blocking C call with
no cancel) both run this way. The function runs in a "spawn" process, so it must be importable at module
level and its arguments and result picklable. It receives `on_progress(done, total)` as a keyword.

Cancel is terminate-then-kill: the child gets no chance to tidy up, so the caller names the files the job
may leave (its temporary outputs) in `cleanup`, and they are removed after a cancel or a failure.
"""

from __future__ import annotations

import multiprocessing
import queue
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from app.core.errors import Cancelled, QuantDeskError
from app.core.jobs import CancelToken, ProgressCallback, no_progress
from app.core.process_start import child_main_module

_POLL_SECONDS = 0.1


@dataclass(frozen=True)
class _Progress:
    done: int
    total: int


@dataclass(frozen=True)
class _Result:
    value: Any


@dataclass(frozen=True)
class _Failure:
    error: QuantDeskError


def _child_main(target: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any],
                out: Any) -> None:
    def report(done: int, total: int) -> None:
        out.put(_Progress(int(done), int(total)))

    try:
        value = target(*args, on_progress=report, **kwargs)
        out.put(_Result(value))
    except QuantDeskError as error:
        out.put(_Failure(error))
    except MemoryError:
        out.put(_Failure(QuantDeskError("The computer ran out of memory for this job.", traceback.format_exc())))
    except OSError as error:
        out.put(_Failure(QuantDeskError(f"A file could not be read or written: {error.strerror or error}.",
                                        traceback.format_exc())))
    except Exception:
        out.put(_Failure(QuantDeskError("The job failed unexpectedly.", traceback.format_exc())))


def run_in_child(
    target: Callable[..., Any],
    args: tuple[Any, ...] = (),
    kwargs: dict[str, Any] | None = None,
    on_progress: ProgressCallback = no_progress,
    cancel: CancelToken | None = None,
    cleanup: Sequence[Path] = (),
    terminate_grace: float = 2.0,
) -> Any:
    """Run target(*args, on_progress=..., **kwargs) in a child process and return its result.

    Raises the child's QuantDeskError (same class, same detail), Cancelled when `cancel` was set, or a
    QuantDeskError when the child died without a word (an abort inside native code).
    """
    ctx = multiprocessing.get_context("spawn")
    out = ctx.Queue()
    process = ctx.Process(target=_child_main, args=(target, args, kwargs or {}, out), daemon=True)
    with child_main_module():
        process.start()
    outcome: _Result | _Failure | None = None
    try:
        while outcome is None:
            if cancel is not None and cancel.is_set():
                _stop(process, terminate_grace)
                raise Cancelled()
            try:
                message = out.get(timeout=_POLL_SECONDS)
            except queue.Empty:
                if not process.is_alive():
                    # the last messages may still be in flight after the child exits
                    try:
                        message = out.get(timeout=0.5)
                    except queue.Empty:
                        raise QuantDeskError(
                            "The job stopped unexpectedly.",
                            f"child process exited with code {process.exitcode} without a result",
                        ) from None
                else:
                    continue
            if isinstance(message, _Progress):
                on_progress(message.done, message.total)
            else:
                outcome = message
        process.join(5.0)
    except BaseException:
        _stop(process, terminate_grace)
        for path in cleanup:
            Path(path).unlink(missing_ok=True)
        raise
    finally:
        out.close()
    if isinstance(outcome, _Failure):
        for path in cleanup:
            Path(path).unlink(missing_ok=True)
        raise outcome.error
    return outcome.value


def _stop(process: multiprocessing.process.BaseProcess, grace: float) -> None:
    if process.is_alive():
        process.terminate()
        process.join(grace)
    if process.is_alive():
        process.kill()
        process.join(grace)
