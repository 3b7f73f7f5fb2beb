"""QuantDesk's figures against llama.cpp's own llama-perplexity --kl-divergence, same files, text and context.

    .venv/bin/python tests/bench/bench_evaluate_match.py REFERENCE.gguf CANDIDATE.gguf [...]
        [--text FILE] [--ctx 512] [--threads 2] [--llama-perplexity PATH]

llama-perplexity is built from the llama.cpp sources in the llama-cpp-python sdist (the same llama.cpp as the
bindings); its folder goes on LD_LIBRARY_PATH. For each candidate: llama-perplexity's PPL(Q), PPL(base), mean
KLD, 99th-percentile KLD and "Same top p" beside QuantDesk's `compare` (the evaluation job, run here in a
throwaway data folder). Goal: every figure within 1 % (same top within 0.5 percentage points).
Also checked: the reference log-probabilities file QuantDesk writes and llama-perplexity's differ in at most
a few bytes (the same format; llama-perplexity can read QuantDesk's), and llama-perplexity run on QuantDesk's
file gives the same KLD.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

DEFAULT_TOOL = Path("/work/ref/build/bin/llama-perplexity")
GOAL = 0.01
PATTERNS = {
    "ppl": r"Mean PPL\(Q\)\s*:\s*([\d.]+)",
    "ppl_reference": r"Mean PPL\(base\)\s*:\s*([\d.]+)",
    "kld_mean": r"Mean\s+KLD:\s*([\d.]+)",
    "kld_p99": r"99\.0%\s+KLD:\s*([\d.]+)",
    "same_top_pct": r"Same top p:\s*([\d.]+)",
}


def run_tool(tool: Path, args: list[str]) -> str:
    env = dict(os.environ, LD_LIBRARY_PATH=str(tool.parent))
    done = subprocess.run([str(tool), *args], capture_output=True, text=True, env=env, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{tool.name} failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return done.stdout + done.stderr


def parse(output: str) -> dict[str, float]:
    found = {}
    for key, pattern in PATTERNS.items():
        match = re.search(pattern, output)
        if match is None:
            raise SystemExit(f"no {key} in llama-perplexity's output:\n{output[-2000:]}")
        found[key] = float(match.group(1))
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("reference", type=Path)
    parser.add_argument("candidates", type=Path, nargs="+")
    parser.add_argument("--text", type=Path)
    parser.add_argument("--ctx", type=int, default=512)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--llama-perplexity", type=Path, default=Path(os.environ.get("LLAMA_PERPLEXITY",
                                                                                     DEFAULT_TOOL)))
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="quantdesk-bench-match-"))
    os.environ["QUANTDESK_DATA_DIR"] = str(tmp / "data")
    from app.core.evaluate.cache import EvaluationCache
    from app.core.evaluate.text import default_text, text_digest
    from app.core.jobs.evaluate import EVALUATE, EvaluateJobParams
    from app.core.jobs.kind import JobContext
    from app.core.jobs.queue import run_now

    text = args.text or default_text()
    base = tmp / "llama-perplexity.kld"
    common = ["-c", str(args.ctx), "-t", str(args.threads)]
    out = run_tool(args.llama_perplexity, ["-m", str(args.reference), "-f", str(text), *common,
                                           "--kl-divergence-base", str(base)])
    tool_ppl = float(re.search(r"Final estimate: PPL = ([\d.]+)", out).group(1))  # type: ignore[union-attr]
    ok = True
    ours_file: Path | None = None
    print(f"{args.reference.name} over {text.name}, context {args.ctx}, {args.threads} threads")
    print(f"  {'candidate':24} {'figure':14} {'llama-perplexity':>17} {'QuantDesk':>12} {'difference':>11}")
    for candidate in args.candidates:
        tool = parse(run_tool(args.llama_perplexity, ["-m", str(candidate), *common, "--kl-divergence-base",
                                                      str(base), "--kl-divergence"]))
        r = run_now(EVALUATE, EvaluateJobParams(str(args.reference), str(candidate), str(text), args.ctx,
                                                args.threads), JobContext())
        ours = {"ppl": r.ppl, "ppl_reference": r.ppl_reference, "kld_mean": r.kld_mean, "kld_p99": r.kld_p99,
                "same_top_pct": r.same_top_pct}
        for key, theirs in tool.items():
            mine = ours[key]
            if key == "same_top_pct":
                diff, met = f"{mine - theirs:+.3f} pp", abs(mine - theirs) <= 0.5
            else:
                rel = (mine - theirs) / theirs if theirs else 0.0
                diff, met = f"{100 * rel:+.3f} %", abs(rel) <= GOAL
            ok = ok and met
            print(f"  {candidate.name[:24]:24} {key:14} {theirs:17.6f} {mine:12.6f} {diff:>11}"
                  + ("" if met else "  MISSED"))
        if ours_file is None:
            cache = EvaluationCache()
            entry = cache.reference(args.reference, text_digest(text), args.ctx)
            cache.close()
            ours_file = Path(entry.logprobs_path) if entry else None
    print(f"  reference perplexity: llama-perplexity {tool_ppl:.4f}, QuantDesk {r.reference_ppl_exact:.4f}")
    if ours_file is not None:
        import numpy as np

        a, b = np.fromfile(base, dtype=np.uint8), np.fromfile(ours_file, dtype=np.uint8)
        n = min(len(a), len(b))
        differing = int((a[:n] != b[:n]).sum()) + abs(len(a) - len(b))
        print(f"  reference files: {len(a)} and {len(b)} bytes, {differing} bytes differ")
        ok = ok and len(a) == len(b) and differing <= len(a) * 1e-6
        crossed = parse(run_tool(args.llama_perplexity, ["-m", str(args.candidates[-1]), *common,
                                                         "--kl-divergence-base", str(ours_file), "--kl-divergence"]))
        print(f"  llama-perplexity reading QuantDesk's reference file: KLD {crossed['kld_mean']:.6f} "
              f"(with its own: {tool['kld_mean']:.6f})")
        ok = ok and abs(crossed["kld_mean"] - tool["kld_mean"]) <= GOAL * tool["kld_mean"]
    print("all within the goal" if ok else "MISSED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
