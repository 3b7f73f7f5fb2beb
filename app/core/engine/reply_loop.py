"""The per-token loop of a reply: sample, queue the next decode, then do the Python work while it runs.

llama_decode only queues the work on a GPU, and llama_sampler_sample is where the engine waits for it. So
the loop hands the chosen token to llama.cpp first and only then turns it into text, sends it and checks
for Stop: that Python work overlaps the GPU computing the next token instead of adding to every token's
time, which is what separates a Python loop from llama-bench on a fast GPU (at 900 tokens/s a token takes
1.1 ms; a few dozen microseconds of Python per token would be 3 %). On the processor llama_decode computes
in the calling thread, so there the work is simply small. Runs inside the engine process only.
"""

from __future__ import annotations

import ctypes
from collections.abc import Callable

import llama_cpp as L

from app.core.engine.protocol import StopReason
from app.core.errors import QuantDeskError


def run_reply(
    ctx: L.llama_context_p,
    sampler: L.llama_sampler_p,
    one: ctypes.Array[ctypes.c_int32],
    batch_one: L.llama_batch,
    cached: list[int],
    n_ctx: int,
    max_tokens: int,
    ends_turn: Callable[[int], bool],
    on_token: Callable[[int, int], bool],
    should_stop: Callable[[], bool],
    on_sampled: Callable[[int, bool], None] | None = None,
) -> tuple[StopReason, int, int]:
    """Generate from the logits of the last evaluated token until a turn ends, `on_token(token, n)` returns
    True, the context is full, `max_tokens` are out, or `should_stop()`. Every token generated is also
    evaluated (appended to `cached`, the tokens in the KV cache), so the next turn can reuse the whole reply;
    `one` is the one-token array `batch_one` points at. Returns why it ended, how many tokens it made and the
    last token sampled (the end-of-turn token when a turn ended; -1 when none was sampled). `on_sampled(token,
    ends_turn)` sees every sampled token before the next decode, while its logits are still readable."""
    sample, decode = L.llama_sampler_sample, L.llama_decode
    generated = 0
    reason: StopReason = "max_tokens"
    if max_tokens <= 0:
        return reason, 0, -1
    token = sample(sampler, ctx, -1)
    while True:
        ends = ends_turn(token)
        if on_sampled is not None:
            on_sampled(token, ends)
        if ends:
            reason = "end_of_text"
            break
        generated += 1
        room = len(cached) < n_ctx
        if room:
            one[0] = token
            rc = decode(ctx, batch_one)  # queued: the GPU computes while the text work below runs
            if rc != 0:
                raise QuantDeskError("llama.cpp stopped evaluating.", f"llama_decode returned {rc}")
            cached.append(token)
        if on_token(token, generated):
            reason = "end_of_text"
            break
        if not room:
            reason = "context_full"
            break
        if generated >= max_tokens:
            break
        if should_stop():
            reason = "stopped"
            break
        token = sample(sampler, ctx, -1)
    L.llama_synchronize(ctx)  # the last decode belongs to this reply's time
    return reason, generated, token
