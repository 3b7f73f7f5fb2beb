"""What every long task shares: a progress callback, a cancel token, a check that raises Cancelled, and the
meter that turns (done, total) into speed and time left.

The meter uses a sliding window (a few seconds) rather than the average since the start: after a resume or a
stall the figures follow what the connection does now. Shared by the CLI's progress line, the download panel
and the Jobs page.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

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


WINDOW_SECONDS = 5.0


@dataclass(frozen=True)
class TransferReading:
    done: int
    total: int
    bytes_per_second: float | None  # None until there is enough to measure
    seconds_left: float | None

    @property
    def fraction(self) -> float:
        return self.done / self.total if self.total else 0.0


class TransferMeter:
    def __init__(self, window: float = WINDOW_SECONDS) -> None:
        self._window = window
        self._samples: deque[tuple[float, int]] = deque()

    def update(self, done: int, total: int, now: float | None = None) -> TransferReading:
        now = time.monotonic() if now is None else now
        if self._samples and done < self._samples[-1][1]:
            self._samples.clear()  # a file restarted: old samples describe another transfer
        self._samples.append((now, done))
        while len(self._samples) > 2 and now - self._samples[0][0] > self._window:
            self._samples.popleft()
        first_t, first_done = self._samples[0]
        rate = (done - first_done) / (now - first_t) if now - first_t >= 0.2 else None
        left = (total - done) / rate if rate and total >= done else None
        return TransferReading(done, total, rate, left)


def format_duration(seconds: float | None) -> str:
    """75 → '1 min 15 s'; None → '–'."""
    if seconds is None:
        return "–"
    s = round(seconds)
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min {s % 60} s"
    return f"{s // 3600} h {s % 3600 // 60} min"
