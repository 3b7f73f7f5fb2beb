"""The engine sends a reply's text in pieces: the first at once, then at most every DELTA_SECONDS."""

from __future__ import annotations

import time
from typing import Any

from app.core.engine.protocol import TextDelta
from app.core.engine.server import DeltaSender


class Pipe:
    def __init__(self) -> None:
        self.sent: list[Any] = []

    def send(self, message: Any) -> None:
        self.sent.append(message)


def test_first_piece_at_once_then_gathered() -> None:
    pipe = Pipe()
    sender = DeltaSender(pipe, 7, interval=10.0)  # type: ignore[arg-type]
    sender.add("Hel", 1)
    assert pipe.sent == [TextDelta(7, "Hel", 1)]  # the first token is what a person waits for
    for i, piece in enumerate(["lo", ",", " world"], start=2):
        sender.add(piece, i)
    assert len(pipe.sent) == 1  # gathered, not one message per token
    sender.flush()
    assert pipe.sent[-1] == TextDelta(7, "lo, world", 4)
    sender.flush()
    assert len(pipe.sent) == 2  # nothing left: nothing sent


def test_slow_tokens_go_out_one_by_one() -> None:
    pipe = Pipe()
    sender = DeltaSender(pipe, 1, interval=0.001)  # type: ignore[arg-type]
    for i in range(3):
        sender.add(str(i), i + 1)
        time.sleep(0.002)
    assert [m.text for m in pipe.sent] == ["0", "1", "2"]
