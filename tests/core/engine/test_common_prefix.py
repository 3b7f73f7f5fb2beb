"""The cached-prefix comparison that decides how much of a conversation is evaluated again."""

from __future__ import annotations

import random

from app.core.engine.llama_session import common_prefix


def slow(a: list[int], b: list[int]) -> int:
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n


def test_matches_a_plain_loop_on_random_cases() -> None:
    rng = random.Random(5)
    for _ in range(500):
        a = [rng.randrange(4) for _ in range(rng.randrange(0, 1500))]
        b = a[: rng.randrange(0, len(a) + 1)] + [rng.randrange(4) for _ in range(rng.randrange(0, 600))]
        assert common_prefix(a, b) == slow(a, b)


def test_edges() -> None:
    assert common_prefix([], [1]) == 0
    assert common_prefix([1, 2, 3], [1, 2, 3]) == 3
    assert common_prefix(list(range(1000)), [*range(1000), 5]) == 1000
