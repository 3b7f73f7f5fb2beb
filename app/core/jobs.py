"""What every long task shares: a progress callback, a cancel token, a check that raises Cancelled."""

from __future__ import annotations

import threading
from collections.abc import Callable

from app.core.errors import Cancelled

#: Called with (done, total) in the task's own units (bytes, tensors, tokens). total may be 0 when unknown.
ProgressCallback = Callable[[int, int], None]

#: A cancel token is a plain threading.Event: set() asks the task to stop at its next check.
CancelToken = threading.Event


#: Called with the name of the step a multi-step job has reached ("expand", "imatrix", "quantize"...).
StageCallback = Callable[[str], None]


def no_progress(done: int, total: int) -> None:
    """The progress callback for callers that don't watch."""


def no_stage(stage: str) -> None:
    """The stage callback for callers that don't watch."""


def check_cancelled(cancel: CancelToken | None) -> None:
    """Raise Cancelled if the token is set; long loops call this between steps."""
    if cancel is not None and cancel.is_set():
        raise Cancelled()
