"""Evaluation throughput: QuantDesk's measuring passes vs a bare llama-cpp-python evaluation of the same tokens.

    .venv/bin/python tests/bench/bench_evaluate.py [--reference F16.gguf --candidate Q4_K_M.gguf]
                                                   [--ctx 512] [--threads 2] [--rounds 3]

Without files, the starter is expanded to F16 and quantized to Q4_K_M in a temporary folder.
Over QuantDesk's evaluation text (14 chunks of 512 tokens), interleaved round by round:
  bare       llama_decode of each chunk from a cleared cache, outputs for its second half, nothing else:
             the same tokens, threads, context and flash attention as the passes below; the ceiling
  reference  QuantDesk's reference pass (app/core/evaluate/measure.py): the same decode, then log-softmax
             and the 16-bit log-probabilities written to disk
  candidate  QuantDesk's candidate pass: the same decode, then KL divergence, NLL and top token per position
Rates are evaluated tokens per second of evaluation (loading excluded). Goal: each pass / bare ≥ 0.9.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from app.core.evaluate.measure import ChunkEvaluator, measure_candidate, measure_reference
from app.core.evaluate.text import default_text, read_text

GOAL = 0.9


def bare_rate(model: Path, text: Path, n_ctx: int, threads: int) -> float:
    """The same decode calls with nothing after them (the evaluator's context and batch, no statistics)."""
    with ChunkEvaluator(model, n_ctx, threads) as ev:
        tokens = ev.tokenize(read_text(text))
        n_chunks = len(tokens) // n_ctx
        started = time.perf_counter()
        for i in range(n_chunks):
            ev.scored_logits(tokens[i * n_ctx:(i + 1) * n_ctx])
        return n_chunks * n_ctx / (time.perf_counter() - started)


def make_ladder(folder: Path) -> tuple[Path, Path]:
    from app.core.models.library import starter_model_path
    from app.core.quantize.expand import expand_to_f16
    from app.core.quantize.quantizer import quantize_file

    f16 = expand_to_f16(starter_model_path(), folder / "starter-F16.gguf")
    q4 = folder / "starter-Q4_K_M.gguf"
    quantize_file(f16, q4, "Q4_K_M")
    return f16, q4


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reference", type=Path)
    parser.add_argument("--candidate", type=Path)
    parser.add_argument("--text", type=Path, default=default_text())
    parser.add_argument("--ctx", type=int, default=512)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="quantdesk-bench-eval-") as tmp:
        folder = Path(tmp)
        if args.reference and args.candidate:
            reference, candidate = args.reference, args.candidate
        else:
            reference, candidate = make_ladder(folder)
        logprobs = folder / "reference.logprobs"
        rates: dict[str, list[float]] = {"bare (reference model)": [], "reference pass": [],
                                         "bare (candidate model)": [], "candidate pass": []}
        for round_no in range(args.rounds):
            rates["bare (reference model)"].append(bare_rate(reference, args.text, args.ctx, args.threads))
            run = measure_reference(reference, args.text, args.ctx, logprobs, args.threads)
            rates["reference pass"].append(run.tokens_per_second)
            rates["bare (candidate model)"].append(bare_rate(candidate, args.text, args.ctx, args.threads))
            cand = measure_candidate(candidate, logprobs, args.threads)
            rates["candidate pass"].append(cand.tokens_per_second)
            print(f"round {round_no + 1}: " + ", ".join(f"{k} {v[-1]:.1f}" for k, v in rates.items()), flush=True)
        medians = {k: statistics.median(v) for k, v in rates.items()}
        n_tokens = run.n_chunks * args.ctx
    print(f"\n{reference.name} → {candidate.name}, {n_tokens} tokens ({run.n_chunks} chunks of {args.ctx}), "
          f"{args.threads} threads, medians of {args.rounds} rounds (tokens/s); load average (1 min) "
          f"{load_before:.2f} before, {os.getloadavg()[0]:.2f} after:")
    for name, value in medians.items():
        print(f"  {name:24} {value:8.1f}   (runs: {', '.join(f'{r:.1f}' for r in rates[name])})")
    ratios = {"reference pass / bare": medians["reference pass"] / medians["bare (reference model)"],
              "candidate pass / bare": medians["candidate pass"] / medians["bare (candidate model)"]}
    ok = True
    for name, ratio in ratios.items():
        met = ratio >= GOAL
        ok = ok and met
        print(f"  {name:24} {ratio:8.3f}   goal ≥ {GOAL}: {'met' if met else 'MISSED'}")
    print(f"  KLD of the candidate: {cand.numbers.kld_mean:.6f}, PPL {cand.numbers.ppl:.4f}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
