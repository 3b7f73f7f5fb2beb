"""Taking turns at the one engine: first come first served, a waiting turn cancelled leaves the line, the
turn being served is stopped through the engine."""

from __future__ import annotations

import threading
import time

from app.core.engine.turns import EngineTurns, TurnCancelledError, TurnsState


def test_turns_are_served_first_come_first_served() -> None:
    turns = EngineTurns()
    order: list[str] = []
    first = turns.enter("Chat")
    assert turns.wait(first, timeout=1)

    def later(who: str) -> None:
        with turns.turn(who):
            order.append(who)

    threads = []
    for who in ("API #1", "API #2"):
        threads.append(threading.Thread(target=later, args=(who,)))
        threads[-1].start()
        deadline = time.monotonic() + 5
        while who not in turns.state().waiting:  # in line, in this order
            assert time.monotonic() < deadline
            time.sleep(0.01)
    assert turns.state() == TurnsState("Chat", ("API #1", "API #2"))
    turns.leave(first)
    for t in threads:
        t.join(5)
    assert order == ["API #1", "API #2"]
    assert turns.state() == TurnsState(None, ())


def test_cancelling_a_waiting_turn_takes_it_out_of_line() -> None:
    stops: list[int] = []
    turns = EngineTurns(lambda: stops.append(1))
    holder = turns.enter("Chat")
    waiter = turns.enter("API #1")
    result: list[bool] = []
    thread = threading.Thread(target=lambda: result.append(turns.wait(waiter, timeout=5)))
    thread.start()
    turns.cancel(waiter)
    thread.join(5)
    assert result == [False] and stops == []  # nothing was running for it: the engine is not disturbed
    assert turns.state() == TurnsState("Chat", ())
    turns.leave(holder)


def test_a_turn_cancelled_while_waiting_raises() -> None:
    turns = EngineTurns()
    holder = turns.enter("Chat")
    errors: list[Exception] = []

    def wait_in_line() -> None:
        try:
            with turns.turn("API #1"):
                pass
        except TurnCancelledError as error:
            errors.append(error)

    thread = threading.Thread(target=wait_in_line)
    thread.start()
    while not turns.state().waiting:
        time.sleep(0.01)
    turns.cancel(turns._line[1])  # what SharedEngine does when its client hangs up
    thread.join(5)
    assert len(errors) == 1 and turns.state() == TurnsState("Chat", ())
    turns.leave(holder)


def test_cancelling_the_served_turn_stops_the_engine() -> None:
    stops: list[int] = []
    seen: list[TurnsState] = []
    turns = EngineTurns(lambda: stops.append(1))
    turns.add_listener(seen.append)
    with turns.turn("API #1") as turn:
        assert turns.cancel_serving() == "API #1"
        assert stops == [1] and turn.cancelled.is_set()
    assert turns.cancel_serving() is None  # nothing to stop
    assert seen[0] == TurnsState("API #1", ()) and seen[-1] == TurnsState(None, ())
