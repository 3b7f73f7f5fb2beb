"""Where two replies part ways, and the blind votes' tally per level pair (real SQLite)."""

from __future__ import annotations

from pathlib import Path

from app.core.compare.divergence import END_OF_REPLY, first_difference, split_at, token_text
from app.core.compare.sides import blind_order, side_letter
from app.core.compare.votes import Vote, VoteStore
from app.core.engine.protocol import GeneratedToken, TokenChoice


def tok(text: str, p: float = 0.5, end: bool = False, alternatives: tuple[str, ...] = ()) -> GeneratedToken:
    piece = text.encode()
    top = (TokenChoice(1, piece, p, end), *(TokenChoice(2, a.encode(), 0.1) for a in alternatives))
    return GeneratedToken(1, b"" if end else piece, p, top, end)


def test_first_difference_is_the_first_token_that_differs() -> None:
    a = [tok("The"), tok(" capital"), tok(" is"), tok(" Paris"), tok(".")]
    b = [tok("The"), tok(" capital"), tok(" is"), tok(" Lyon", 0.3, alternatives=(" Paris",)), tok(".")]
    point = first_difference(a, b)
    assert point is not None and point.index == 3
    assert point.a is not None and point.b is not None
    assert token_text(point.a) == " Paris" and token_text(point.b) == " Lyon"
    assert [token_text(c) for c in point.b.top] == [" Lyon", " Paris"]
    assert split_at(b, 3) == ("The capital is", " Lyon", ".")


def test_identical_replies_have_no_parting_point() -> None:
    reply = [tok("Yes"), tok("", end=True)]
    assert first_difference(reply, list(reply)) is None
    assert first_difference([], reply) is None


def test_a_reply_that_ends_earlier_parts_at_its_end() -> None:
    a = [tok("Yes"), tok(".", 0.9), tok("", 0.6, end=True)]
    b = [tok("Yes"), tok("."), tok(" And"), tok(" more")]
    point = first_difference(a, b)
    assert point is not None and point.index == 2
    assert point.a is not None and token_text(point.a) == END_OF_REPLY
    cut = first_difference(a[:2], b)  # a cut at the token limit: nothing to show on its side
    assert cut is not None and cut.index == 2 and cut.a is None


def test_blind_order_is_a_shuffle_and_letters_name_positions() -> None:
    import random

    orders = {blind_order(2, random.Random(seed)) for seed in range(20)}
    assert orders == {(0, 1), (1, 0)}
    assert sorted(blind_order(4)) == [0, 1, 2, 3]
    assert [side_letter(i) for i in range(3)] == ["A", "B", "C"]


def test_tally_folds_votes_of_a_pair_whichever_side_each_level_sat(tmp_path: Path) -> None:
    store = VoteStore(tmp_path / "votes.sqlite3")
    try:
        store.add(Vote("SmolLM2", "Q8_0", "Q2_K", "/m/q8.gguf", "/m/q2.gguf", "a", "hi", 7))
        store.add(Vote("SmolLM2", "Q2_K", "Q8_0", "/m/q2.gguf", "/m/q8.gguf", "b", "hi", 8))  # Q8_0 on the right
        store.add(Vote("SmolLM2", "Q2_K", "Q8_0", "/m/q2.gguf", "/m/q8.gguf", "a"))  # Q2_K won once
        store.add(Vote("SmolLM2", "Q8_0", "Q2_K", "/m/q8.gguf", "/m/q2.gguf", "tie"))
        store.add(Vote("SmolLM2", "Q6_K", "Q4_K_M", "/m/q6.gguf", "/m/q4.gguf", "b"))
        store.add(Vote("Other", "Q8_0", "Q2_K", "/o/q8.gguf", "/o/q2.gguf", "b"))
    finally:
        store.close()
    store = VoteStore(tmp_path / "votes.sqlite3")  # kept on disk
    try:
        tally = store.tally("SmolLM2")
        assert store.count() == 6
    finally:
        store.close()
    assert len(tally) == 2
    pair = tally[0]
    assert (pair.first, pair.second) == ("Q2_K", "Q8_0") and pair.total == 4
    assert pair.wins("Q8_0") == 2 and pair.wins("Q2_K") == 1 and pair.ties == 1
    assert tally[1].wins("Q4_K_M") == 1 and tally[1].wins("Q6_K") == 0
