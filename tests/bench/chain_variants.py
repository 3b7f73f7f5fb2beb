"""What each sampler of the default chain costs per token when it runs in llama.cpp's graph (backend sampling):
a bare loop (sample, decode) of 128 tokens per chain, in this process, on one context with the engine's
settings; the median of `reps` runs after a warm-up.

    python tests/bench/chain_variants.py MODEL.gguf [--gpu-layers -1] [--reps 3]
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

from app.core.context_settings import context_settings
from app.core.engine.context_setup import context_params
from app.core.llama_log import LlamaLogCapture


def chain_of(*parts: Callable[[], L.llama_sampler_p]) -> L.llama_sampler_p:
    chain = L.llama_sampler_chain_init(L.llama_sampler_chain_default_params())
    for make in parts:
        L.llama_sampler_chain_add(chain, make())
    return chain


CHAINS: dict[str, Callable[[], L.llama_sampler_p]] = {
    "greedy": lambda: chain_of(L.llama_sampler_init_greedy),
    "dist": lambda: chain_of(lambda: L.llama_sampler_init_dist(42)),
    "temp, dist": lambda: chain_of(lambda: L.llama_sampler_init_temp(0.7), lambda: L.llama_sampler_init_dist(42)),
    "top-k 40, dist": lambda: chain_of(lambda: L.llama_sampler_init_top_k(40), lambda: L.llama_sampler_init_dist(42)),
    "min-p, temp, dist": lambda: chain_of(lambda: L.llama_sampler_init_min_p(0.05, 1),
                                          lambda: L.llama_sampler_init_temp(0.7),
                                          lambda: L.llama_sampler_init_dist(42)),
    "top-k, top-p, min-p, temp, dist (the default)": lambda: chain_of(
        lambda: L.llama_sampler_init_top_k(40), lambda: L.llama_sampler_init_top_p(0.95, 1),
        lambda: L.llama_sampler_init_min_p(0.05, 1), lambda: L.llama_sampler_init_temp(0.7),
        lambda: L.llama_sampler_init_dist(42)),
    "top-k, min-p, temp, dist": lambda: chain_of(
        lambda: L.llama_sampler_init_top_k(40), lambda: L.llama_sampler_init_min_p(0.05, 1),
        lambda: L.llama_sampler_init_temp(0.7), lambda: L.llama_sampler_init_dist(42)),
}


def run(ctx: L.llama_context_p, chain: L.llama_sampler_p, n: int = 128) -> float:
    memory = L.llama_get_memory(ctx)
    L.llama_memory_seq_rm(memory, 0, -1, -1)
    prompt = (L.llama_token * 32)(*range(1000, 1032))
    L.llama_decode(ctx, L.llama_batch_get_one(prompt, 32))
    one = (L.llama_token * 1)()
    batch = L.llama_batch_get_one(one, 1)
    token = L.llama_sampler_sample(chain, ctx, -1)
    t0 = time.perf_counter()
    for _ in range(n):
        one[0] = token
        L.llama_decode(ctx, batch)
        token = L.llama_sampler_sample(chain, ctx, -1)
    L.llama_synchronize(ctx)
    return n / (time.perf_counter() - t0)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("model")
    parser.add_argument("--gpu-layers", type=int, default=-1)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--tokens", type=int, default=128)
    args = parser.parse_args()
    log = LlamaLogCapture(echo=False)
    log.install()
    L.llama_backend_init()
    mp = L.llama_model_default_params()
    mp.n_gpu_layers = args.gpu_layers
    model = L.llama_model_load_from_file(args.model.encode(), mp)
    settings = context_settings(4096, output_on_gpu=args.gpu_layers != 0, all_on_gpu=args.gpu_layers < 0)
    ctx = L.llama_init_from_model(model, context_params(settings))
    for backend in (True, False):
        for name, make in CHAINS.items():
            chain = make()
            if backend:
                L.llama_set_sampler(ctx, 0, chain)
            run(ctx, chain, args.tokens)  # warm-up: the graph re-planned for this chain
            rate = statistics.median(run(ctx, chain, args.tokens) for _ in range(args.reps))
            print(f"| {'in the graph' if backend else 'on the processor'} | {name} | {rate:,.1f} |", flush=True)
            if backend:
                L.llama_set_sampler(ctx, 0, None)
            L.llama_sampler_free(chain)
    L.llama_free(ctx)
    L.llama_model_free(model)
    return 0


if __name__ == "__main__":
    sys.exit(main())
