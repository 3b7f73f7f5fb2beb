"""Where a generated token's time goes in the engine's reply loop, against a bare loop and llama-bench, all in
one run and round by round (so a GPU's clock drift hurts every variant alike):

  decode only, n_ctx N       llama-bench's own loop (decode, synchronise; no sampler, the logits computed) on
                             the engine's context (4096) and on contexts of --contexts sizes (default 256, as
                             small as llama-bench's: its prompt, depth and tg fit): what separates these from
                             llama-bench is not sampling
  bare greedy / bare chain   sample, decode and nothing else, on the engine's context with its sampler chain
  loop greedy / loop chain   the engine's run_reply with no text work (only the loop's own Python)
  session greedy / chain     LlamaSession.generate: the loop plus the text work (pieces, UTF-8, stop texts)
  timed session chain        the same with the time inside llama_sampler_sample and llama_decode recorded
  llama-bench tg128          the reference, one repetition per round, at the depth where a reply starts

    python tests/bench/reply_loop_profile.py MODEL.gguf [--gpu-layers -1] [--rounds 5] [--contexts 256,...]

Prints tokens/s per variant (median of the rounds) and, for the timed variant, microseconds per token spent
waiting in sample, queueing in decode, and in Python between them.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import llama_cpp as L

from app.core.engine import reply_loop
from app.core.engine.llama_session import LlamaSession
from app.core.engine.protocol import GREEDY, ChatMessage, LoadModel, SamplingSettings
from app.core.llama_log import LlamaLogCapture
from tests.bench.llama_tools import llama_bench

N_CTX = 4096
N_GEN = 128
CHAIN = SamplingSettings(seed=42)
STORY = [ChatMessage("user", "Write a very long story about a lighthouse keeper who finds a map, with many details.")]


def bare(session: LlamaSession, settings: SamplingSettings) -> float:
    """Sample and decode N_GEN tokens after a short prompt, nothing else."""
    chain = session.sampler.prepare(settings)
    tokens = session.tokenize_prompt(session.format_chat(STORY))
    session._prepare_prompt(tokens)
    one, batch = session._one, session._batch_one
    sample, decode, ctx = L.llama_sampler_sample, L.llama_decode, session.ctx
    token = sample(chain, ctx, -1)
    t0 = time.perf_counter()
    for _ in range(N_GEN):
        one[0] = token
        decode(ctx, batch)
        token = sample(chain, ctx, -1)
    L.llama_synchronize(ctx)
    rate = N_GEN / (time.perf_counter() - t0)
    session.cached.extend([0] * (N_GEN + 1))  # the cache holds them: the next prompt must not reuse them
    return rate


def decode_only(session: LlamaSession, cpu_us: list[float] | None = None) -> float:
    """llama-bench's tg loop on the engine's context: decode one token, wait for the GPU, nothing sampled (the
    sampler chain is detached, so llama.cpp computes the last row's logits, as llama-bench's decode does).
    `cpu_us` gets the median time spent inside llama_decode per token (queueing the work)."""
    session.sampler.release()
    tokens = session.tokenize_prompt(session.format_chat(STORY))
    session._prepare_prompt(tokens)
    one, batch, ctx = session._one, session._batch_one, session.ctx
    decode, synchronize, clock = L.llama_decode, L.llama_synchronize, time.perf_counter
    token = tokens[-1]
    inside: list[float] = []
    t0 = clock()
    for _ in range(N_GEN):
        one[0] = token
        t = clock()
        decode(ctx, batch)
        inside.append(clock() - t)
        synchronize(ctx)
    rate = N_GEN / (clock() - t0)
    session.cached.extend([0] * N_GEN)
    if cpu_us is not None:
        cpu_us.append(1e6 * statistics.median(inside))
    return rate


def loop(session: LlamaSession, settings: SamplingSettings) -> float:
    """run_reply with callbacks that do nothing: the loop's own Python, without the text work."""
    chain = session.sampler.prepare(settings)
    tokens = session.tokenize_prompt(session.format_chat(STORY))
    session._prepare_prompt(tokens)
    t0 = time.perf_counter()
    _, n, _ = reply_loop.run_reply(session.ctx, chain, session._one, session._batch_one, session.cached, N_CTX,
                                   N_GEN, lambda _t: False, lambda _t, _n: False, lambda: False)
    return n / (time.perf_counter() - t0)


def generate(session: LlamaSession, settings: SamplingSettings) -> float:
    _, _, stats, _ = session.generate(STORY, N_GEN, settings, lambda _t, _n: None, lambda: False)
    return stats.tokens_per_second


class Timed:
    """llama_sampler_sample and llama_decode wrapped to record the time spent inside them."""

    def __init__(self) -> None:
        self.sample_s = 0.0
        self.decode_s = 0.0
        self.calls = 0
        self.total_s = 0.0  # the reply's generation time, as the engine reports it
        self._sample, self._decode = L.llama_sampler_sample, L.llama_decode

    def sample(self, chain: object, ctx: object, idx: int) -> int:
        t = time.perf_counter()
        token = self._sample(chain, ctx, idx)
        self.sample_s += time.perf_counter() - t
        self.calls += 1
        return int(token)

    def decode(self, ctx: object, batch: L.llama_batch) -> int:
        t = time.perf_counter()
        rc = self._decode(ctx, batch)
        if batch.n_tokens == 1:  # a generated token's, not the prompt's
            self.decode_s += time.perf_counter() - t
        return int(rc)


def timed_generate(session: LlamaSession, settings: SamplingSettings) -> tuple[float, Timed]:
    timed = Timed()
    L.llama_sampler_sample, L.llama_decode = timed.sample, timed.decode
    try:
        _, _, stats, _ = session.generate(STORY, N_GEN, settings, lambda _t, _n: None, lambda: False)
    finally:
        L.llama_sampler_sample, L.llama_decode = timed._sample, timed._decode
    timed.calls = max(timed.calls, 1)
    timed.total_s = stats.generation_seconds
    return stats.tokens_per_second, timed


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("model")
    parser.add_argument("--gpu-layers", type=int, default=-1)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--contexts", default="256",
                        help="more context sizes for the decode-only loop, comma-separated (llama-bench's is 256)")
    args = parser.parse_args()
    log = LlamaLogCapture(echo=False)
    log.install()
    session = LlamaSession(LoadModel(args.model, n_ctx=N_CTX, n_gpu_layers=args.gpu_layers), log)
    others = {n: LlamaSession(LoadModel(args.model, n_ctx=n, n_gpu_layers=args.gpu_layers), log)
              for n in sorted({int(c) for c in args.contexts.split(",")} - {N_CTX})}
    inside_decode: dict[str, list[float]] = {}

    def decode_variant(s: LlamaSession) -> Callable[[], float]:
        return lambda: decode_only(s, inside_decode.setdefault(f"decode only, n_ctx {s.settings.n_ctx}", []))

    variants: dict[str, Callable[[], float]] = {
        f"decode only, n_ctx {s.settings.n_ctx}": decode_variant(s) for s in [session, *others.values()]
    }
    variants |= {
        "bare greedy": lambda: bare(session, GREEDY),
        "bare chain": lambda: bare(session, CHAIN),
        "loop greedy": lambda: loop(session, GREEDY),
        "loop chain": lambda: loop(session, CHAIN),
        "session greedy": lambda: generate(session, GREEDY),
        "session chain": lambda: generate(session, CHAIN),
    }
    rates: dict[str, list[float]] = {name: [] for name in [*variants, "timed session chain", "llama-bench tg128"]}
    timings: list[Timed] = []
    for run in variants.values():  # warm-up: each chain attached once, graphs planned
        run()
    depth = len(session.tokenize_prompt(session.format_chat(STORY)))  # where a reply starts: tg at that depth
    for _ in range(args.rounds):
        for name, run in variants.items():
            rates[name].append(run())
        rate, timed = timed_generate(session, CHAIN)
        rates["timed session chain"].append(rate)
        timings.append(timed)
        bench = llama_bench(args.model, session.settings, args.gpu_layers, 0, N_GEN, repetitions=1,
                            depth=depth)
        rates["llama-bench tg128"].append(bench[f"tg{N_GEN}"].tokens_per_second)
    reference = statistics.median(rates["llama-bench tg128"])
    print(f"{Path(args.model).name}, {args.rounds} rounds, threads {session.settings.n_threads}, "
          f"llama-bench tg{N_GEN} at depth {depth}")
    print("| variant | tok/s (median) | ÷ llama-bench | rounds |")
    print("|---|---|---|---|")
    for name, values in rates.items():
        median = statistics.median(values)
        print(f"| {name} | {median:,.1f} | {median / reference:.3f} | {', '.join(f'{v:.0f}' for v in values)} |")
    per = [(t.sample_s / t.calls, t.decode_s / t.calls, t.total_s / t.calls) for t in timings]
    sample_us, decode_us, total_us = (1e6 * statistics.median(p[i] for p in per) for i in range(3))
    print(f"\ntimed session chain, µs per token: total {total_us:.1f}, waiting in sample {sample_us:.1f}, "
          f"in decode {decode_us:.1f}, the rest (Python) {total_us - sample_us - decode_us:.1f}")
    for name, values in inside_decode.items():
        print(f"{name}: {statistics.median(values):.1f} µs per token inside llama_decode")
    for other in others.values():
        other.close()
    session.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
