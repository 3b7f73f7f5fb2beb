"""Two engines streaming side by side (the Compare page's way) against each engine alone.

    .venv/bin/python tests/bench/bench_compare_engines.py [MODEL_A.gguf MODEL_B.gguf] [--tokens 200] [--rounds 3]

Without files, both sides are the starter model. Interleaved round by round, greedy, the same prompt:
  solo A / solo B   one engine process, as the chat runs it (one thread per physical core), the Compare
                    page's per-token top choices on
  side by side      both engines at once through ComparisonSession with the plan the page makes
                    (sides.plan_run: on the CPU the cores are shared out, one thread each on 2 cores)
Rates are generated tokens per second from each engine's own GenerationDone (the prompt excluded).
Goal: each side by side ≥ 0.45 × its solo rate.

The figures only mean something on a quiet machine: a solo engine's two llama.cpp threads wait for each
other at every step, so when other work holds a core they crawl (2 tokens/s instead of 110 at a load of 13
on 2 cores) while two one-thread engines do not, and side by side looks many times faster than alone. With
the load average above the number of cores before it starts (or twice that at the end, its own threads
counted), the script prints its figures but exits 2 (not judged) instead of claiming the goal.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from app.core.compare.session import TOP_CHOICES, ComparisonSession
from app.core.compare.sides import describe_sides, plan_run
from app.core.engine.client import EngineClient
from app.core.engine.protocol import ChatMessage, GenerationDone, LoadModel, SamplingSettings
from app.core.machine.hardware import read_hardware
from app.core.models.library import starter_model_path

PROMPT = "Write a long story about a lighthouse keeper who finds a map."
GOAL = 0.45
GREEDY = SamplingSettings(temperature=0.0)


def solo_rate(path: Path, n_tokens: int) -> float:
    client = EngineClient()
    try:
        client.load_model(LoadModel(str(path), n_ctx=2048))
        done = None
        for event in client.generate([ChatMessage("user", PROMPT)], n_tokens, GREEDY, top_logprobs=TOP_CHOICES):
            if isinstance(event, GenerationDone):
                done = event
        assert done is not None
        return done.stats.tokens_per_second
    finally:
        client.close()


def pair_rates(paths: list[Path], n_tokens: int) -> tuple[list[float], str]:
    plan = plan_run(paths, read_hardware(), 2048)
    session = ComparisonSession(describe_sides(paths), plan)
    try:
        session.load()
        result = session.ask(PROMPT, GREEDY, n_tokens)
    finally:
        session.close()
    return [r.stats.tokens_per_second if r else 0.0 for r in result.replies], plan.reason


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("models", type=Path, nargs="*")
    parser.add_argument("--tokens", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    load_before = os.getloadavg()[0]
    paths = list(args.models) or [starter_model_path(), starter_model_path()]
    if len(paths) != 2:
        parser.error("give two model files (or none)")
    solo: list[list[float]] = [[], []]
    pair: list[list[float]] = [[], []]
    reason = ""
    for round_no in range(args.rounds):
        for side in (0, 1):
            solo[side].append(solo_rate(paths[side], args.tokens))
        rates, reason = pair_rates(paths, args.tokens)
        for side in (0, 1):
            pair[side].append(rates[side])
        print(f"round {round_no + 1}: solo {solo[0][-1]:.1f} / {solo[1][-1]:.1f}, side by side "
              f"{pair[0][-1]:.1f} / {pair[1][-1]:.1f} tokens/s", flush=True)
    print(f"\nplan: {reason}")
    print(f"load average (1 min) {load_before:.2f} before, {os.getloadavg()[0]:.2f} after, on "
          f"{os.cpu_count()} logical cores")
    ok = True
    cores = os.cpu_count() or 1
    busy = load_before > cores or os.getloadavg()[0] > 2 * cores  # after: the benchmark's own 2 threads too
    for side in (0, 1):
        s, p = statistics.median(solo[side]), statistics.median(pair[side])
        met = p >= GOAL * s
        ok = ok and met
        print(f"  side {'AB'[side]} ({paths[side].name}): solo {s:.1f}, side by side {p:.1f} tokens/s "
              f"= {p / s:.2f}× solo; goal ≥ {GOAL}: {'met' if met else 'MISSED'}")
    if busy:
        print(f"NOT JUDGED: the load average exceeded the {cores} cores; run it again on a quiet machine")
        return 2
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
