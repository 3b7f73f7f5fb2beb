"""Generation speed through QuantDesk's engine process vs bare llama-cpp-python loops, same GGUF and threads.

    .venv/bin/python tests/bench/bench_engine_speed.py [MODEL.gguf] [--tokens 200] [--rounds 3]

Three ways to generate the same greedy tokens from the same prompt, interleaved round by round so a noisy
machine hurts all of them alike:
  engine   QuantDesk's engine process (a Pipe message per token, llama.cpp's sampler chain)
  lowlevel an in-process loop over llama.cpp's C API (llama_decode + greedy sampler): the Python ceiling
  llama    llama_cpp.Llama.generate, the bindings' own high-level loop
Goal: engine / lowlevel ≥ 0.95.
"""

from __future__ import annotations

import argparse
import ctypes
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import llama_cpp as L

from app.core.engine.client import EngineClient
from app.core.engine.protocol import GREEDY, ChatMessage, GenerationDone, LoadModel, TextDelta
from app.core.models.library import starter_model_path

PROMPT = "Write a long story about a lighthouse keeper who finds a map."


def engine_rate(client: EngineClient, n_tokens: int) -> tuple[float, int]:
    start = None
    count = 0
    for event in client.generate([ChatMessage("user", PROMPT)], n_tokens, GREEDY):
        if isinstance(event, TextDelta):
            if start is None:  # first token: the prompt is done, time decoding only
                start, count = time.perf_counter(), event.n_generated
            last = event.n_generated
        elif isinstance(event, GenerationDone):
            end = time.perf_counter()
            return (last - count) / (end - start), event.stats.generated_tokens
    raise RuntimeError("no reply")


def lowlevel_rate(llm: L.Llama, prompt_tokens: list[int], n_tokens: int) -> float:
    ctx, vocab = llm._ctx.ctx, llm._model.vocab
    L.llama_memory_clear(L.llama_get_memory(ctx), True)
    arr = (L.llama_token * len(prompt_tokens))(*prompt_tokens)
    L.llama_decode(ctx, L.llama_batch_get_one(arr, len(prompt_tokens)))
    sampler = L.llama_sampler_chain_init(L.llama_sampler_chain_default_params())
    L.llama_sampler_chain_add(sampler, L.llama_sampler_init_greedy())
    one = (L.llama_token * 1)()
    buf = ctypes.create_string_buffer(64)
    start, produced = None, 0
    for _ in range(n_tokens):
        tok = L.llama_sampler_sample(sampler, ctx, -1)
        if L.llama_vocab_is_eog(vocab, tok):
            break
        L.llama_token_to_piece(vocab, tok, buf, 64, 0, False)
        one[0] = tok
        L.llama_decode(ctx, L.llama_batch_get_one(one, 1))
        produced += 1
        if start is None:
            start, produced = time.perf_counter(), 0
    L.llama_sampler_free(sampler)
    return produced / (time.perf_counter() - start)


def highlevel_rate(llm: L.Llama, prompt_tokens: list[int], n_tokens: int) -> float:
    llm.reset()
    start, produced = None, 0
    for tok in llm.generate(prompt_tokens, top_k=1, temp=0.0, reset=True):
        if L.llama_vocab_is_eog(llm._model.vocab, tok):
            break
        llm.detokenize([tok])
        produced += 1
        if start is None:
            start, produced = time.perf_counter(), 0
        if produced >= n_tokens - 1:
            break
    return produced / (time.perf_counter() - start)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("model", nargs="?", help="a GGUF file (default: the starter model)")
    parser.add_argument("--tokens", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--gpu-layers", type=int, default=0)
    args = parser.parse_args()
    if args.model is None:
        args.model = str(starter_model_path())

    client = EngineClient()
    client.load_model(LoadModel(args.model, n_ctx=2048, n_threads=args.threads, n_gpu_layers=args.gpu_layers))
    llm = L.Llama(args.model, n_ctx=2048, n_threads=args.threads, n_threads_batch=args.threads,
                  n_gpu_layers=args.gpu_layers, verbose=False)
    # the starter's ChatML formatting (what the engine applies), so all three evaluate the same tokens
    prompt = llm.tokenize(
        b"<|im_start|>user\n" + PROMPT.encode() + b"<|im_end|>\n<|im_start|>assistant\n", add_bos=False,
        special=True)
    rates: dict[str, list[float]] = {"engine": [], "lowlevel": [], "llama": []}
    engine_rate(client, 16)  # warm-up
    for _ in range(args.rounds):
        rate, n = engine_rate(client, args.tokens)
        rates["engine"].append(rate)
        rates["lowlevel"].append(lowlevel_rate(llm, prompt, n))
        rates["llama"].append(highlevel_rate(llm, prompt, n))
    client.close()
    med = {k: statistics.median(v) for k, v in rates.items()}
    print(f"model: {Path(args.model).name}, threads {args.threads}, gpu layers {args.gpu_layers}, "
          f"~{args.tokens} tokens x {args.rounds} rounds")
    for name, values in rates.items():
        print(f"  {name:9s} median {med[name]:7.1f} tok/s   runs: {', '.join(f'{v:.1f}' for v in values)}")
    print(f"engine / lowlevel = {med['engine'] / med['lowlevel']:.3f}   (goal >= 0.95)")
    print(f"engine / Llama.generate = {med['engine'] / med['llama']:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
