"""What a sampler chain costs per generated token, and where it is best split between llama.cpp's graph and the
processor: a bare loop (sample, decode) of 128 tokens per variant on one context with the engine's settings, all
variants and llama-bench's tg128 round by round (a GPU's clock drift hurts each alike), after a warm-up.

    python tests/bench/chain_variants.py MODEL.gguf [--gpu-layers -1] [--rounds 5]

Variants: llama-bench's own loop on this context (decode, synchronise: no sampling, the logits computed),
greedy and the default chain not attached (llama_sampler_sample over the logits copied back), and each chain
attached to the context (`in the graph`), with `//` where the graph's part ends (sampling.graph_end:
what follows runs on the processor, over the candidates the graph handed over). Prints tokens/s (median of the
rounds) and the ratio to llama-bench's tg128 at the same depth.
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
from app.core.engine.sampling import graph_end
from app.core.llama_log import LlamaLogCapture
from tests.bench.llama_tools import llama_bench

N_GEN = 128
PROMPT = 48  # tokens before the reply: llama-bench's tg runs at this depth

Make = Callable[[], "L.llama_sampler_p"]


def chain_of(*parts: Make) -> L.llama_sampler_p:
    chain = L.llama_sampler_chain_init(L.llama_sampler_chain_default_params())
    for make in parts:
        L.llama_sampler_chain_add(chain, make())
    return chain


def top_k(k: int) -> Make:
    return lambda: L.llama_sampler_init_top_k(k)


REST: tuple[Make, ...] = (lambda: L.llama_sampler_init_top_p(0.95, 1), lambda: L.llama_sampler_init_min_p(0.05, 1),
                          lambda: L.llama_sampler_init_temp(0.7), lambda: L.llama_sampler_init_dist(42))


ON_PROCESSOR = "not attached: "  # the chain runs on the processor over the logits llama.cpp copies back


def variants(n_vocab: int) -> dict[str, Make | None]:
    def penalty() -> L.llama_sampler_p:  # the chat's Balanced preset
        return L.llama_sampler_init_penalties(n_vocab, 64, 1.1, 0.0, 0.0)

    return {
        "decode only (llama-bench's loop)": None,
        "greedy": lambda: chain_of(L.llama_sampler_init_greedy),
        "top-k 1 // greedy": lambda: chain_of(top_k(1), graph_end, L.llama_sampler_init_greedy),
        "top-k 40, top-p, min-p, temp, dist (all in the graph)": lambda: chain_of(top_k(40), *REST),
        "top-k 40 // top-p, min-p, temp, dist": lambda: chain_of(top_k(40), graph_end, *REST),
        "top-k 104 // penalty, top-k 40, top-p, min-p, temp, dist": lambda: chain_of(
            top_k(104), graph_end, penalty, top_k(40), *REST),
        "penalty, top-k 40, top-p, min-p, temp, dist (all in the graph)": lambda: chain_of(
            penalty, top_k(40), *REST),
        f"{ON_PROCESSOR}greedy": lambda: chain_of(L.llama_sampler_init_greedy),
        f"{ON_PROCESSOR}top-k 40, top-p, min-p, temp, dist": lambda: chain_of(top_k(40), *REST),
    }


def run(ctx: L.llama_context_p, chain: L.llama_sampler_p | None, n: int = N_GEN) -> float:
    memory = L.llama_get_memory(ctx)
    L.llama_memory_seq_rm(memory, 0, -1, -1)
    prompt = (L.llama_token * PROMPT)(*range(1000, 1000 + PROMPT))
    L.llama_decode(ctx, L.llama_batch_get_one(prompt, PROMPT))
    one = (L.llama_token * 1)(1000)
    batch = L.llama_batch_get_one(one, 1)
    if chain is None:  # llama-bench's loop: decode, wait, nothing sampled
        L.llama_synchronize(ctx)
        t0 = time.perf_counter()
        for _ in range(n):
            L.llama_decode(ctx, batch)
            L.llama_synchronize(ctx)
        return n / (time.perf_counter() - t0)
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
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    log = LlamaLogCapture(echo=False)
    log.install()
    L.llama_backend_init()
    mp = L.llama_model_default_params()
    mp.n_gpu_layers = args.gpu_layers
    model = L.llama_model_load_from_file(args.model.encode(), mp)
    on_gpu = args.gpu_layers != 0 and L.llama_supports_gpu_offload()
    settings = context_settings(4096, output_on_gpu=on_gpu, all_on_gpu=on_gpu and args.gpu_layers < 0)
    ctx = L.llama_init_from_model(model, context_params(settings))
    n_vocab = L.llama_vocab_n_tokens(L.llama_model_get_vocab(model))
    chains = variants(n_vocab)
    rates: dict[str, list[float]] = {name: [] for name in [*chains, "llama-bench tg128"]}

    def timed(make: Make | None, attach: bool) -> float:
        chain = make() if make else None  # a chain is attached once in its life (llama.cpp asserts it)
        if chain is not None and attach:
            L.llama_set_sampler(ctx, 0, chain)
        run(ctx, chain, 16)  # the graph re-planned for this chain
        rate = run(ctx, chain)
        if chain is not None:
            if attach:
                L.llama_set_sampler(ctx, 0, None)
            L.llama_sampler_free(chain)
        return rate

    for name, make in chains.items():  # warm-up
        timed(make, not name.startswith(ON_PROCESSOR))
    for _ in range(args.rounds):
        for name, make in chains.items():
            rates[name].append(timed(make, not name.startswith(ON_PROCESSOR)))
        bench = llama_bench(args.model, settings, args.gpu_layers, 0, N_GEN, repetitions=1, depth=PROMPT)
        rates["llama-bench tg128"].append(bench[f"tg{N_GEN}"].tokens_per_second)
    reference = statistics.median(rates["llama-bench tg128"])
    print(f"{Path(args.model).name}, {args.rounds} rounds, threads {settings.n_threads}, tg{N_GEN} at depth {PROMPT}")
    print("| chain (`//`: the graph's part ends) | tok/s (median) | ÷ llama-bench | rounds |")
    print("|---|---|---|---|")
    for name, values in rates.items():
        median = statistics.median(values)
        print(f"| {name} | {median:,.1f} | {median / reference:.3f} | {', '.join(f'{v:.0f}' for v in values)} |",
              flush=True)
    L.llama_free(ctx)
    L.llama_model_free(model)
    return 0


if __name__ == "__main__":
    sys.exit(main())
