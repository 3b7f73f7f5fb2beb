"""Where prompt processing time goes: a 512-token prompt timed in this process with the engine's context
settings and with one setting changed at a time, to tell which of them separates the engine's pp512 from
llama-bench's.

    python tests/bench/pp_variants.py MODEL.gguf [--gpu-layers -1] [--reps 10]

Each variant: its own context on the same loaded model, two warm-up prompts, then `reps` prompts of 512 random
tokens into an emptied cache (as llama-bench's pp512 does), each timed to the device's end; the median tok/s.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import llama_cpp as L

from app.core.context_settings import context_settings
from app.core.engine.context_setup import context_params
from app.core.engine.protocol import GREEDY
from app.core.engine.sampling import build_chain
from app.core.llama_log import LlamaLogCapture


def time_prompts(ctx: L.llama_context_p, n_vocab: int, reps: int, keep: int = 0) -> float:
    rng = random.Random(1)
    rates = []
    for i in range(reps + 2):
        tokens = [rng.randrange(n_vocab) for _ in range(512)]
        memory = L.llama_get_memory(ctx)
        if keep and i == 0:
            ids = (L.llama_token * keep)(*tokens[:keep])
            L.llama_decode(ctx, L.llama_batch_get_one(ids, keep))
        L.llama_memory_seq_rm(memory, 0, keep, -1)
        todo = tokens[keep:]
        ids = (L.llama_token * len(todo))(*todo)
        L.llama_synchronize(ctx)
        t0 = time.perf_counter()
        rc = L.llama_decode(ctx, L.llama_batch_get_one(ids, len(todo)))
        L.llama_synchronize(ctx)
        if rc != 0:
            raise RuntimeError(f"llama_decode returned {rc}")
        if i >= 2:
            rates.append(len(todo) / (time.perf_counter() - t0))
    return statistics.median(rates)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("model")
    parser.add_argument("--gpu-layers", type=int, default=-1)
    parser.add_argument("--reps", type=int, default=10)
    args = parser.parse_args()
    log = LlamaLogCapture(echo=False)  # as in the engine: llama.cpp's log through a Python callback
    log.install()
    L.llama_backend_init()
    mp = L.llama_model_default_params()
    mp.n_gpu_layers = args.gpu_layers
    model = L.llama_model_load_from_file(args.model.encode(), mp)
    n_vocab = L.llama_vocab_n_tokens(L.llama_model_get_vocab(model))
    on_gpu = args.gpu_layers != 0
    engine = context_settings(4096, output_on_gpu=on_gpu, all_on_gpu=args.gpu_layers < 0)
    variants = {
        "engine settings": (engine, False, 0),
        "engine settings, greedy chain in the graph": (engine, True, 0),
        "engine settings, 6 tokens kept (as a chat turn)": (engine, False, 6),
        "n_ctx 640 (llama-bench's pp512+tg128)": (replace(engine, n_ctx=640), False, 0),
        "n_outputs_max default": (replace(engine, n_outputs_max=-1), False, 0),
        "threads 16/16": (replace(engine, n_threads=16, n_threads_batch=16), False, 0),
    }
    for name, (settings, chain, keep) in variants.items():
        params = context_params(settings)
        if settings.n_outputs_max < 0:
            params.n_outputs_max = L.llama_context_default_params().n_outputs_max
        ctx = L.llama_init_from_model(model, params)
        sampler = None
        if chain:
            sampler = build_chain(GREEDY, L.llama_model_get_vocab(model))
            L.llama_set_sampler(ctx, 0, sampler)
        rate = time_prompts(ctx, n_vocab, args.reps, keep)
        print(f"| {name} | {rate:,.0f} |", flush=True)
        if sampler is not None:
            L.llama_set_sampler(ctx, 0, None)
            L.llama_sampler_free(sampler)
        L.llama_free(ctx)
    L.llama_model_free(model)
    return 0


if __name__ == "__main__":
    sys.exit(main())
