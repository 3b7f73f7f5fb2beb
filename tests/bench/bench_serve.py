"""Speed through the local API server vs the engine's own, same model, prompt and greedy settings.

    .venv/bin/python tests/bench/bench_serve.py [MODEL.gguf] [--tokens 200] [--rounds 5] [--threads 1]

One engine process (QuantDesk's), two ways to ask it, interleaved round by round so a noisy machine hurts
both alike:
  engine  EngineClient.generate in this process: what the chat gets
  server  POST /v1/chat/completions with "stream": true to the API server (Starlette + uvicorn, in this
          process, sharing that engine), read as server-sent events by a plain httpx2 client
Each is timed where its caller sees it: time to first token from the call to the first piece of text, and
tokens/s from the first piece of text to the last. The prompt is the same each round, so both reuse the
engine's KV cache alike and the difference in time to first token is what the server adds.
Goals: server tokens/s / engine tokens/s >= 0.95; time to first token added by the server <= 20 ms (medians).
Exits 1 on a missed goal.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import httpx2

from app.core.engine.client import EngineClient
from app.core.engine.protocol import GREEDY, ChatMessage, GenerationDone, LoadModel, TextDelta
from app.core.engine.turns import EngineTurns
from app.core.models.library import starter_model_path
from app.core.serve.server import ApiServer
from app.core.serve.shared_engine import SharedEngine

PROMPT = "Write a long story about a lighthouse keeper who finds a map."
KEY = "qd-bench"
RATIO_GOAL = 0.95
TTFT_GOAL_SECONDS = 0.020


def engine_run(client: EngineClient, n_tokens: int) -> tuple[float, float, int]:
    """(seconds to the first text, tokens/s after it, tokens) through the engine client itself."""
    t0 = time.perf_counter()
    first = last = 0.0
    for event in client.generate([ChatMessage("user", PROMPT)], n_tokens, GREEDY):
        if isinstance(event, TextDelta):
            last = time.perf_counter()
            first = first or last
        elif isinstance(event, GenerationDone):
            n = event.stats.generated_tokens
            return first - t0, (n - 1) / (last - first), n
    raise RuntimeError("no reply")


def server_run(http: httpx2.Client, url: str, n_tokens: int) -> tuple[float, float, int]:
    """The same through the API server, streamed."""
    body = {"model": "m", "messages": [{"role": "user", "content": PROMPT}], "temperature": 0,
            "max_tokens": n_tokens, "stream": True, "stream_options": {"include_usage": True}}
    t0 = time.perf_counter()
    first = last = 0.0
    n = 0
    with http.stream("POST", url + "/chat/completions", json=body, headers={"Authorization": f"Bearer {KEY}"}) as r:
        r.raise_for_status()
        for line in r.iter_lines():
            if not line.startswith("data: ") or line == "data: [DONE]":
                continue
            chunk = json.loads(line[6:])
            if chunk.get("usage"):
                n = chunk["usage"]["completion_tokens"]
            if chunk["choices"] and chunk["choices"][0]["delta"].get("content"):
                last = time.perf_counter()
                first = first or last
    return first - t0, (n - 1) / (last - first), n


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("model", nargs="?", help="a GGUF file (default: the starter model)")
    parser.add_argument("--tokens", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1,
                        help="llama.cpp threads (default 1: steady on a shared machine)")
    parser.add_argument("--gpu-layers", type=int, default=0)
    args = parser.parse_args()
    model = args.model or str(starter_model_path())

    client = EngineClient()
    client.load_model(LoadModel(model, n_ctx=2048, n_threads=args.threads, n_gpu_layers=args.gpu_layers))
    server = ApiServer(SharedEngine(client, EngineTurns(client.stop_generation)), lambda: KEY, port=0)
    url = server.start().base_url
    runs: dict[str, list[tuple[float, float, int]]] = {"engine": [], "server": []}
    try:
        with httpx2.Client(timeout=300) as http:
            engine_run(client, 16)  # warm-up: the prompt into the KV cache, the connection open
            server_run(http, url, 16)
            for _ in range(args.rounds):
                runs["engine"].append(engine_run(client, args.tokens))
                runs["server"].append(server_run(http, url, args.tokens))
    finally:
        server.stop()
        client.close()

    print(f"model: {Path(model).name}, threads {args.threads}, gpu layers {args.gpu_layers}, "
          f"{args.tokens} tokens x {args.rounds} rounds (interleaved), greedy, streamed")
    med = {}
    for name, values in runs.items():
        ttft = statistics.median(v[0] for v in values)
        rate = statistics.median(v[1] for v in values)
        med[name] = (ttft, rate)
        print(f"  {name:7s} first token {ttft * 1000:7.1f} ms   {rate:6.1f} tok/s   runs: "
              + ", ".join(f"{v[1]:.1f} tok/s / {v[0] * 1000:.0f} ms / {v[2]} tok" for v in values))
    if {v[2] for v in runs["engine"]} != {v[2] for v in runs["server"]}:
        print("  (token counts differ between the two ways: compare with care)")
    ratio = med["server"][1] / med["engine"][1]
    added = statistics.median(s[0] - e[0] for s, e in zip(runs["server"], runs["engine"], strict=True))
    print(f"server / engine tokens/s = {ratio:.3f}   (goal >= {RATIO_GOAL})")
    print(f"time to first token added by the server = {added * 1000:.1f} ms   "
          f"(goal <= {TTFT_GOAL_SECONDS * 1000:.0f} ms, median of the per-round differences)")
    missed = [what for what, ok in (("speed", ratio >= RATIO_GOAL), ("first token", added <= TTFT_GOAL_SECONDS))
              if not ok]
    if missed:
        print("MISSED: " + ", ".join(missed))
        return 1
    print("goals met")
    return 0


if __name__ == "__main__":
    sys.exit(main())
