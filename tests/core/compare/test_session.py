"""Side by side for real: the starter's levels in their own engine processes, the same seed and sampling,
each side's own history, where replies part ways, and one after the other when the estimate says so."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.core.compare.divergence import first_difference, reply_text
from app.core.compare.session import ComparisonSession, SideDone, SideEvent, SideText, SideWaiting
from app.core.compare.sides import describe_sides, plan_run
from app.core.engine.client import EngineClient
from app.core.engine.protocol import GREEDY, ChatMessage, LoadModel, SamplingSettings
from app.core.machine.hardware import read_hardware
from app.core.models.library import starter_model_path
from tests.core.advice.test_recommend import machine

pytestmark = pytest.mark.slow
FRANCE = "What is the capital of France? Answer in one word."


def test_the_engine_reports_each_token_with_the_models_top_choices() -> None:
    client = EngineClient()
    try:
        client.load_model(LoadModel(str(starter_model_path()), n_ctx=1024))
        plain = client.complete([ChatMessage("user", FRANCE)], 32, GREEDY)
        assert plain.tokens == ()  # nothing extra unless asked
        done = None
        for event in client.generate([ChatMessage("user", FRANCE)], 32, GREEDY, top_logprobs=4):
            done = event
    finally:
        client.close()
    assert done is not None and done.text == "The capital of France is Paris." == plain.text
    tokens = done.tokens
    assert reply_text(tokens) == done.text
    assert tokens[-1].end and done.stop_reason == "end_of_text"
    for token in tokens:
        probabilities = [c.probability for c in token.top]
        assert len(token.top) == 4 and probabilities == sorted(probabilities, reverse=True)
        assert 0 < sum(probabilities) <= 1.0 + 1e-6
        assert token.top[0].token == token.token and token.probability == probabilities[0]  # greedy: the top one
    paris = next(t for t in tokens if t.piece == b" Paris")
    assert paris.probability > 0.5


def test_two_levels_answer_side_by_side_each_with_its_own_history(starter_ladder: dict[str, Path]) -> None:
    paths = [starter_ladder["Q8_0"], starter_ladder["Q2_K"]]
    specs = describe_sides(paths)
    assert [s.label for s in specs] == ["Q8_0", "Q2_K"]
    plan = plan_run(paths, read_hardware(), 1024)
    assert plan.parallel and "side by side" in plan.reason
    events: list[SideEvent] = []
    session = ComparisonSession(specs, plan)
    try:
        session.load(events.append)
        assert len({c.pid for c in session.clients}) == 2  # one engine process each
        first = session.ask(FRANCE, SamplingSettings(temperature=0.0), 48, on_event=events.append)
        second = session.ask("And of Germany?", SamplingSettings(temperature=0.0), 48, on_event=events.append)
    finally:
        session.close()
    assert {e.side for e in events if isinstance(e, SideText)} == {0, 1}
    assert sum(isinstance(e, SideDone) for e in events) == 4
    for side, conversation in enumerate(session.conversations):
        own_first = first.replies[side]
        assert own_first is not None and second.replies[side] is not None
        # the follow-up went to this side with its own first reply, not the other side's
        assert [m.role for m in conversation.messages] == ["user", "assistant", "user", "assistant"]
        assert conversation.messages[1].content == own_first.text
    assert first.replies[0] is not None and first.replies[0].text == "The capital of France is Paris."


def test_the_same_seed_and_sampling_give_the_same_reply_and_other_levels_part_ways(
        starter_ladder: dict[str, Path]) -> None:
    same = [starter_ladder["Q8_0"], starter_ladder["Q8_0"]]
    session = ComparisonSession(describe_sides(same), plan_run(same, read_hardware(), 1024))
    sampling = SamplingSettings(temperature=0.9, seed=1234)  # really sampled, not greedy
    try:
        twin = session.ask("Write a short poem about rain.", sampling, 40)
    finally:
        session.close()
    a, b = twin.replies
    assert a is not None and b is not None and a.text == b.text and twin.seed == 1234
    assert first_difference(a.tokens, b.tokens) is None

    levels = [starter_ladder["Q8_0"], starter_ladder["Q2_K"]]
    session = ComparisonSession(describe_sides(levels), plan_run(levels, read_hardware(), 1024))
    try:
        story = session.ask("Write a short story about a lighthouse keeper.", SamplingSettings(temperature=0.0), 96)
    finally:
        session.close()
    q8, q2 = story.replies
    assert q8 is not None and q2 is not None
    point = first_difference(q8.tokens, q2.tokens)
    assert point is not None and point.a is not None and point.b is not None
    assert reply_text(q8.tokens[:point.index]) == reply_text(q2.tokens[:point.index])  # the same up to there
    assert point.a.piece != point.b.piece
    assert point.a.top[0].piece == point.a.piece  # greedy: each wrote its own most likely token


def test_one_after_the_other_when_they_do_not_fit_together(starter_ladder: dict[str, Path]) -> None:
    paths = [starter_ladder["Q8_0"], starter_ladder["Q4_K_M"]]
    small = machine(ram_free=1.2, cores=2)  # about 100 MB to give after the headroom: one at a time
    plan = plan_run(paths, small, 1024)
    assert not plan.parallel and "one after the other" in plan.reason
    assert plan_run(paths, machine(ram_free=16, cores=2), 1024).threads_per_side == 1  # 2 cores, 2 sides
    on_gpu = plan_run(paths, machine(ram_free=16, gpu_free=8, cores=2), 1024)
    assert on_gpu.parallel and on_gpu.n_gpu_layers == -1 and on_gpu.threads_per_side is None
    events: list[SideEvent] = []
    session = ComparisonSession(describe_sides(paths), plan)
    try:
        assert len(session.clients) == 1
        result = session.ask(FRANCE, SamplingSettings(temperature=0.0), 32, on_event=events.append)
        loaded = session.clients[0].loaded
    finally:
        session.close()
    assert any(isinstance(e, SideWaiting) and e.side == 1 for e in events)
    done_order = [e.side for e in events if isinstance(e, SideDone)]
    assert done_order == [0, 1]  # in turn
    assert all(r is not None for r in result.replies)
    assert loaded is not None and loaded.info.path == str(paths[1])
