"""The engine's speed against llama.cpp's own llama-bench: same files, same settings, prompt and generation.

    .venv/bin/python tests/bench/bench_engine_speed.py [MODEL.gguf ...] [--gpu-layers -1] [--rounds 3]
        [--bandwidth GBPS] [--json OUT.json] [--goal 0.95] [--no-interleave] [--processes N]

For each model (default: the starter), round by round (so a noisy machine hurts both alike; --no-interleave on a
quiet GPU, which clocks down while the other process starts and would cost whoever comes next; --processes N
repeats it all with N engine processes and as many llama-bench runs, in turn: on an H200 one process's 1B
prompts kept to one of two speeds, 36k or 40k tok/s, for llama-bench and the engine alike):
  llama-bench  pp and tg128 of the engine's own shapes, with the engine's context settings
               (app/core/context_settings.py: flash attention, n_batch/n_ubatch, threads, F16 cache) and the same
               GPU layers (tests/bench/llama_tools.py finds the binary built from the same llama.cpp as the bindings)
  engine pp    QuantDesk's engine process evaluating 512-token chat prompts back to back (the template's first
               tokens reused, the rest one batch: llama-bench runs that batch after as many tokens, `-p N -d R`,
               since a batch's size alone moves llama.cpp's speed by several per cent), its own prompt time to
               the GPU's end; also a prompt right after a reply, as in a chat (llama.cpp then rebuilds its graph
               for the batch, which llama-bench's repeated runs never do)
  engine tg    128 generated tokens, greedy and with the default sampler chain (top-k 40, top-p 0.95, min-p 0.05,
               temperature 0.7): sampling included, which llama-bench leaves out; the engine's own figure, which
               counts the per-token Python work and the messages to the app. A reply starts after its prompt,
               so llama-bench's tg128 runs at the same depth (`-d`, the prompt's tokens): on a small model each
               token is measurably slower 40 tokens into the cache (the starter on 2 cores: 11 % at 64)
Prints a Markdown table (engine ÷ llama-bench, and the share of the memory-bandwidth limit when --bandwidth is
given: tokens/s ≤ bandwidth ÷ bytes read per token) and exits 1 when the engine is below --goal of llama-bench
in prompt processing or generation.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

# llama.cpp's libraries before numpy's (gguf imports numpy): in the other order a CUDA build segfaults once a
# model is offloaded (app/core/process/bootstrap.py); --diagnose loads a model in this process.
import llama_cpp  # noqa: F401

from app.core.advice.speed import token_work, tokens_per_second
from app.core.context_settings import context_settings, physical_cores
from app.core.engine.client import EngineClient
from app.core.engine.protocol import GREEDY, ChatMessage, GenerationDone, LoadModel, SamplingSettings
from app.core.machine.bandwidth import cpu_bandwidth
from app.core.machine.hardware import read_memory_snapshot
from app.core.models.facts import read_gguf_facts
from app.core.models.library import starter_model_path
from tests.bench.llama_tools import llama_bench, llama_bench_command
from tests.bench.measure_memory import WORDS

N_CTX = 4096
PROMPT_TOKENS = 512
GEN_TOKENS = 128
PP_PER_ROUND = 3  # prompts per round when llama-bench and the engine take turns
PP_WARMUP = 3  # prompts not counted after llama-bench's process ran: an H200 clocks down in the gap
DEFAULT_CHAIN = SamplingSettings(seed=42)
STORY = "Write a very long story about a lighthouse keeper who finds a map, with many details."


@dataclass
class ModelResult:
    model: str
    file_type: str
    size_bytes: int
    n_gpu_layers: int
    bench_pp: list[float] = field(default_factory=list)
    bench_tg: list[float] = field(default_factory=list)
    engine_pp: list[float] = field(default_factory=list)  # prompts back to back, as llama-bench's pp runs
    engine_pp_after_reply: list[float] = field(default_factory=list)  # a prompt right after a reply: as in a chat
    engine_tg_greedy: list[float] = field(default_factory=list)
    engine_tg_chain: list[float] = field(default_factory=list)
    tg_depth: int = 0  # the reply's prompt tokens: llama-bench's tg128 runs at this depth
    pp_shape: tuple[int, int] = (PROMPT_TOKENS, 0)  # the engine's prompt batch and the tokens before it
    prompt_tokens_evaluated: list[int] = field(default_factory=list)
    generated: list[int] = field(default_factory=list)
    session_tg_greedy: list[float] = field(default_factory=list)  # --diagnose: in-process, no Pipe
    rss_bytes: int | None = None
    vram_bytes: int | None = None
    bytes_per_token: int = 0
    estimate_tg: float = 0.0  # advice/speed.py's estimate for this file and placement
    command: str = ""

    def ratio(self, engine: list[float], bench: list[float]) -> float:
        return statistics.median(engine) / statistics.median(bench)


def bytes_per_token(path: str, depth: int) -> int:
    """What generating one token reads: every weight once (of the token embedding one row, unless it is also
    the output layer) and the K and V cache up to `depth` tokens."""
    facts = read_gguf_facts(path)
    total = 0
    for t in facts.tensors:
        if t.name == "token_embd.weight" and facts.has_output_tensor:
            total += t.n_bytes // max(1, facts.vocab_size)
        else:
            total += t.n_bytes
    kv = facts.n_layers * facts.n_head_kv * (facts.head_dim_k + facts.head_dim_v) * 2 * depth
    return total + kv


def prompt_message(round_no: int, n_words: int) -> list[ChatMessage]:
    # a different first word each round: nothing but the template's own prefix is reused from the last round
    words = [WORDS[(round_no * 7 + i) % len(WORDS)] for i in range(n_words)]
    return [ChatMessage("user", f"{round_no} " + " ".join(words))]


def engine_prompt(client: EngineClient, round_no: int, n_words: int) -> tuple[float, int, int]:
    """Evaluate a prompt and generate nothing: (its tokens/s, tokens evaluated, tokens in the prompt)."""
    done = client.complete(prompt_message(round_no, n_words), 0, GREEDY)
    evaluated = done.stats.prompt_tokens - done.stats.prompt_tokens_reused
    return done.stats.prompt_tokens_per_second, evaluated, done.stats.prompt_tokens


def calibrate_words(client: EngineClient) -> tuple[int, int, int]:
    """How many words make a PROMPT_TOKENS-token prompt: the cache then spans 512 cells, as in pp512 (the
    template's first tokens are reused from the last prompt, the rest is evaluated in one batch). Returns the
    words, the tokens then evaluated and the tokens reused."""
    n = PROMPT_TOKENS - 40
    evaluated = total = 0
    for attempt in range(4):
        _, evaluated, total = engine_prompt(client, 1000 + attempt, n)
        if total == PROMPT_TOKENS:
            break
        n += PROMPT_TOKENS - total
    return n, evaluated, total - evaluated


def engine_generation(client: EngineClient, sampling: SamplingSettings) -> GenerationDone:
    return client.complete([ChatMessage("user", STORY)], GEN_TOKENS, sampling)


def estimate_speed(path: str, gpu_layers: int, gpu_bandwidth_gbps: float) -> float:
    """What Which quant? would say: advice/speed.py with the fitted floors (not this machine's measured ones)."""
    facts = read_gguf_facts(path)
    work = token_work(facts, facts.tensors, gpu_layers)
    gpu_bw = gpu_bandwidth_gbps * 1e9 if gpu_layers != 0 else 0.0
    return tokens_per_second(work, gpu_bw, cpu_bandwidth(physical_cores()))


def measure(path: str, gpu_layers: int, threads: int | None, rounds: int, interleave: bool = True,
            pp_rounds: int = 10, processes: int = 1) -> ModelResult:
    settings = context_settings(N_CTX, n_threads=threads)
    facts = read_gguf_facts(path)
    result = ModelResult(Path(path).name, facts.file_type or "?", Path(path).stat().st_size, gpu_layers)
    result.bytes_per_token = bytes_per_token(path, 64)
    request = LoadModel(path, n_ctx=N_CTX, n_gpu_layers=gpu_layers, n_threads=threads)
    client = EngineClient()
    try:
        loaded = client.load_model(request)
        # llama-bench with the settings the engine gave llama.cpp: with every layer on a GPU it generates with
        # one thread (context_settings.py), where a plain context_settings() would give one per core
        settings = loaded.info.context or settings
        # llama-bench's pp runs the engine's batch: as many tokens, after as many already in the cache (a
        # 485-token batch is 8 % slower than a 506-token one on an H200: the kernels' tiles)
        n_words, pp_tokens, pp_depth = calibrate_words(client)
        result.pp_shape = (pp_tokens, pp_depth)
        result.tg_depth = depth = engine_generation(client, GREEDY).stats.prompt_tokens  # also the warm-up
        result.command = (llama_bench_command(path, settings, gpu_layers, n_prompt=pp_tokens, n_gen=0,
                                              depth=pp_depth) + "\n  "
                          + llama_bench_command(path, settings, gpu_layers, n_prompt=0, depth=depth))

        def bench_pp(repetitions: int, warmup: int = 0) -> list[float]:
            """llama-bench's pp samples, the first `warmup` of them left out (as the engine's warm-up prompts
            are: on an H200 llama-bench's own warm-up run leaves its first two repetitions 10-40 % slow)."""
            bench = llama_bench(path, settings, gpu_layers, pp_tokens, 0, repetitions=repetitions + warmup,
                                depth=pp_depth)
            return list(bench[f"pp{pp_tokens}"].samples)[warmup:]

        def bench_tg(repetitions: int, warmup: int = 0) -> list[float]:
            bench = llama_bench(path, settings, gpu_layers, 0, GEN_TOKENS, repetitions=repetitions + warmup,
                                depth=depth)
            return list(bench[f"tg{GEN_TOKENS}"].samples)[warmup:]

        def engine_tg(round_no: int) -> None:
            done = engine_generation(client, GREEDY)
            result.engine_tg_greedy.append(done.stats.tokens_per_second)
            result.generated.append(done.stats.generated_tokens)
            result.engine_pp_after_reply.append(engine_prompt(client, 100 + round_no, n_words)[0])
            done = engine_generation(client, DEFAULT_CHAIN)
            result.engine_tg_chain.append(done.stats.tokens_per_second)

        for process in range(processes):
            if process:  # a fresh engine process: on an H200 a process's prompt speed kept to one of two levels
                client.close()
                client = EngineClient()
                client.load_model(request)
                engine_generation(client, GREEDY)
            engine_generation(client, DEFAULT_CHAIN)  # warm-up of the other chain (llama.cpp re-plans its graph)
            if interleave:  # a noisy machine: llama-bench and the engine round by round, each test next to its match
                for r in range(rounds):
                    # prompts of a few ms on a GPU: three back to back on both sides, as llama-bench repeats a test
                    result.bench_pp.extend(bench_pp(PP_PER_ROUND))
                    for k in range(PP_PER_ROUND):
                        rate, evaluated, _ = engine_prompt(client, r * PP_PER_ROUND + k, n_words)
                        result.engine_pp.append(rate)
                        result.prompt_tokens_evaluated.append(evaluated)
                    result.bench_tg.extend(bench_tg(1))
                    engine_tg(r)
            else:  # a quiet machine: llama-bench once for pp (more repetitions: 10 ms each) and once for tg
                result.bench_pp.extend(bench_pp(pp_rounds, PP_WARMUP))
                result.bench_tg.extend(bench_tg(rounds, 1))  # the engine's replies come after its warm-up reply
                for r in range(PP_WARMUP):  # llama-bench warms up before its runs too; the GPU idled meanwhile
                    engine_prompt(client, 900 + r, n_words)
                for r in range(pp_rounds):
                    rate, evaluated, _ = engine_prompt(client, r, n_words)
                    result.engine_pp.append(rate)
                    result.prompt_tokens_evaluated.append(evaluated)
                for r in range(rounds):
                    engine_tg(r)
        snap = read_memory_snapshot(client.pid, with_vram=True)
        result.rss_bytes, result.vram_bytes = snap.process_rss_bytes, snap.process_vram_bytes
    finally:
        client.close()
    return result


def session_rates(path: str, gpu_layers: int, threads: int | None, rounds: int) -> list[float]:
    """The engine's LlamaSession driven in this process (no engine process, no Pipe): what the loop itself
    reaches, to tell its cost from the process boundary's."""
    from app.core.engine.llama_session import LlamaSession
    from app.core.llama_log import LlamaLogCapture

    log = LlamaLogCapture(echo=False)
    log.install()
    session = LlamaSession(LoadModel(path, n_ctx=N_CTX, n_gpu_layers=gpu_layers, n_threads=threads), log)
    try:
        rates = []
        for i in range(rounds + 1):
            _, _, stats, _ = session.generate([ChatMessage("user", STORY)], GEN_TOKENS, GREEDY,
                                           lambda _t, _n: None, lambda: False)
            if i:  # the first is a warm-up
                rates.append(stats.tokens_per_second)
        return rates
    finally:
        session.close()


def fmt(values: list[float]) -> str:
    return f"{statistics.median(values):,.1f}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("models", nargs="*", help="GGUF files (default: the starter model)")
    parser.add_argument("--gpu-layers", type=int, default=0, help="-1: all layers on the GPU")
    parser.add_argument("--threads", type=int, default=None, help="default: one per physical core")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--pp-rounds", type=int, default=10, help="prompt repetitions with --no-interleave")
    parser.add_argument("--bandwidth", type=float, default=0.0, help="memory bandwidth in GB/s, for the share")
    parser.add_argument("--goal", type=float, default=0.95)
    parser.add_argument("--no-interleave", action="store_true",
                        help="run llama-bench once per model with all rounds (a quiet machine)")
    parser.add_argument("--processes", type=int, default=1,
                        help="repeat the measurement with this many engine (and llama-bench) processes, in turn")
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--diagnose", action="store_true", help="also time the session loop in this process")
    args = parser.parse_args()
    models = args.models or [str(starter_model_path())]
    started = time.perf_counter()
    results = []
    for model in models:
        result = measure(model, args.gpu_layers, args.threads, args.rounds, not args.no_interleave, args.pp_rounds,
                         args.processes)
        result.estimate_tg = estimate_speed(model, args.gpu_layers, args.bandwidth)
        if args.diagnose:
            result.session_tg_greedy = session_rates(model, args.gpu_layers, args.threads, args.rounds)
        results.append(result)
        print(f"measured {result.model}: {time.perf_counter() - started:.0f} s", file=sys.stderr, flush=True)
        if args.json:  # after each model: a run cut short still leaves what it measured
            args.json.write_text(json.dumps([asdict(r) for r in results], indent=1))
    missed = []
    print("| model | type | llama-bench pp | engine pp | ratio | engine pp after a reply | llama-bench tg128 "
          "| engine tg128 greedy | ratio | engine tg128 default chain | ratio | bandwidth share llama-bench / engine "
          "| estimate tg (error vs engine greedy) |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in results:
        pp, greedy, chain = (r.ratio(r.engine_pp, r.bench_pp), r.ratio(r.engine_tg_greedy, r.bench_tg),
                             r.ratio(r.engine_tg_chain, r.bench_tg))
        share = "–"
        if args.bandwidth:
            ceiling = args.bandwidth * 1e9 / r.bytes_per_token
            share = (f"{statistics.median(r.bench_tg) / ceiling:.0%} / "
                     f"{statistics.median(r.engine_tg_greedy) / ceiling:.0%} (≤ {ceiling:,.0f} tok/s)")
        print(f"| {r.model} | {r.file_type} | {fmt(r.bench_pp)} | {fmt(r.engine_pp)} | {pp:.3f} "
              f"| {fmt(r.engine_pp_after_reply)} ({r.ratio(r.engine_pp_after_reply, r.bench_pp):.2f}) "
              f"| {fmt(r.bench_tg)} "
              f"| {fmt(r.engine_tg_greedy)} | {greedy:.3f} | {fmt(r.engine_tg_chain)} | {chain:.3f} | {share} "
              f"| {r.estimate_tg:,.0f} ({r.estimate_tg / statistics.median(r.engine_tg_greedy) - 1:+.0%}) |")
        for name, value in (("prompt", pp), ("greedy generation", greedy), ("default-chain generation", chain)):
            if value < args.goal:
                missed.append(f"{r.model} {name}: {value:.3f} < {args.goal}")
    for r in results:
        print(f"\n{r.model}: prompt tokens evaluated {r.prompt_tokens_evaluated}, generated {r.generated} "
              f"after a {r.tg_depth}-token prompt, prompt batches of {r.pp_shape[0]} after {r.pp_shape[1]}, "
              f"engine RSS {(r.rss_bytes or 0) / 2**20:.0f} MiB, VRAM "
              f"{'–' if r.vram_bytes is None else f'{r.vram_bytes / 2**20:.0f} MiB'}\n  {r.command}")
        if r.session_tg_greedy:
            print(f"  in-process session tg128 greedy: {fmt(r.session_tg_greedy)} "
                  f"({r.ratio(r.session_tg_greedy, r.bench_tg):.3f} of llama-bench)")
    print(f"\ntotal {time.perf_counter() - started:.0f} s")
    for line in missed:
        print("MISSED", line)
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
