"""Run a core function on a worker thread and hear about it through Qt signals.

Core work is a plain function taking `on_progress(done, total)` and `cancel` (a threading.Event); this
wraps it so the GUI thread never waits. Signals cross threads as queued connections, so slots run on the
GUI thread. A plain Python thread is used (not a QThread subclass): the work knows nothing of Qt.
"""

from __future__ import annotations

import logging
import threading
import traceback
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, Signal

from app.core.errors import Cancelled, QuantDeskError

log = logging.getLogger(__name__)


class BackgroundTask(QObject):
    """One run of `work(*args, on_progress=..., cancel=..., **kwargs)` on a worker thread."""

    progress_changed = Signal(object, object)  # done, total (Python ints: byte counts pass 2 GiB)
    finished = Signal(object)  # the function's return value
    failed = Signal(object)  # a QuantDeskError
    cancelled = Signal()

    def __init__(self, work: Callable[..., Any], *args: Any, parent: QObject | None = None,
                 pass_progress: bool = True, **kwargs: Any) -> None:
        super().__init__(parent)
        self._work = work
        self._args = args
        self._kwargs = kwargs
        self._pass_progress = pass_progress
        self.cancel_token = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name=f"task-{getattr(self._work, '__name__', 'work')}",
                                        daemon=True)
        self._thread.start()

    def cancel(self) -> None:
        self.cancel_token.set()

    def is_running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def wait(self, timeout: float | None = None) -> bool:
        """For tests and shutdown only: never call this from a slot."""
        if self._thread is not None:
            self._thread.join(timeout)
        return not self.is_running()

    def _run(self) -> None:
        kwargs = dict(self._kwargs)
        if self._pass_progress:
            kwargs["on_progress"] = self.progress_changed.emit
            kwargs["cancel"] = self.cancel_token
        try:
            try:
                result = self._work(*self._args, **kwargs)
            except Cancelled:
                self.cancelled.emit()
            except QuantDeskError as error:
                self.failed.emit(error)
            except Exception as error:  # a bug, not a user error: still never a traceback dialog
                log.exception("background task failed")
                self.failed.emit(QuantDeskError("Something went wrong inside QuantDesk.",
                                                "".join(traceback.format_exception(error))))
            else:
                self.finished.emit(result)
        except RuntimeError:  # the page that asked is gone (the window closed): nobody to tell
            log.debug("background task finished after its page was deleted")
