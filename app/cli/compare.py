"""`compare REFERENCE.gguf CANDIDATE.gguf [...] [--text FILE] [--ctx N]`: what each candidate loses against
the reference over a text — perplexity, KL divergence, same top token — with llama-perplexity's definitions.

Each candidate is the same evaluation job the app queues (app/core/jobs/evaluate.py), run here at once;
results are cached per (file, reference, text, context), so asking again is immediate.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from app.cli.output import print_json, report_error
from app.core.errors import Cancelled, EvaluationError, QuantDeskError
from app.core.jobs.evaluate import DEFAULT_EVAL_CTX, EVALUATE, EvaluateJobParams, EvaluateJobResult
from app.core.jobs.kind import JobContext
from app.core.jobs.queue import run_now
from app.core.models.library import resolve_model
from app.core.units import format_bytes


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "compare", help="measure quant levels against a reference: perplexity, KL divergence, same top token",
        description="Measures each CANDIDATE against REFERENCE (usually the F16 file, or Q8_0) over a text, "
                    "as llama.cpp's llama-perplexity --kl-divergence does.")
    p.add_argument("reference", help="the reference GGUF (F16, or Q8_0 when F16 does not fit), or 'starter'")
    p.add_argument("candidates", nargs="+", help="the GGUF files to measure against it")
    p.add_argument("--text", help="a UTF-8 text to measure over (default: QuantDesk's evaluation text, "
                                  "about 7,000 tokens)")
    p.add_argument("--ctx", type=int, default=DEFAULT_EVAL_CTX,
                   help=f"tokens per chunk; the second half of each is scored (default {DEFAULT_EVAL_CTX})")
    p.add_argument("--threads", type=int, help="threads for llama.cpp (default: one per physical core)")
    p.add_argument("--json", action="store_true", help="print the results as JSON")
    p.set_defaults(run=run)


def _progress_printer(enabled: bool, name: str) -> tuple[Any, Any]:
    state = {"stage": "measure"}

    def on_stage(stage: str) -> None:
        state["stage"] = stage

    def on_progress(done: int, total: int) -> None:
        if enabled and total:
            what = "reference" if state["stage"] == "reference" else name
            sys.stderr.write(f"\r  {what}: chunk {done}/{total}   ")
            if done >= total:
                sys.stderr.write("\n")
            sys.stderr.flush()

    return on_progress, on_stage


def candidate_json(r: EvaluateJobResult) -> dict[str, Any]:
    return {
        "path": r.candidate, "type": r.type, "file_bytes": r.file_bytes,
        "ppl": round(r.ppl, 6), "ppl_reference": round(r.ppl_reference, 6), "delta_ppl": round(r.delta_ppl, 6),
        "kld_mean": round(r.kld_mean, 6), "kld_median": round(r.kld_median, 6), "kld_p90": round(r.kld_p90, 6),
        "kld_p99": round(r.kld_p99, 6), "kld_max": round(r.kld_max, 6),
        "same_top_pct": round(r.same_top_pct, 3), "rms_delta_p_pct": round(r.rms_delta_p_pct, 3),
        "n_positions": r.n_positions, "seconds": round(r.seconds, 2), "cached": r.cached,
    }


def render(results: list[EvaluateJobResult]) -> str:
    first = results[0]
    lines = [f"Against {first.reference} over {first.text}, context {first.n_ctx} "
             f"({first.n_positions} scored positions):",
             f"  {'candidate':28} {'size':>9} {'PPL':>9} {'ΔPPL':>8} {'KLD mean':>9} {'KLD p99':>8} {'same top':>8}"]
    for r in results:
        name = r.type or r.candidate.rsplit("/", 1)[-1]
        lines.append(f"  {name[:28]:28} {format_bytes(r.file_bytes):>9} {r.ppl:9.4f} {r.delta_ppl:+8.4f} "
                     f"{r.kld_mean:9.5f} {r.kld_p99:8.4f} {r.same_top_pct:7.2f}%" + ("  (cached)" if r.cached else ""))
    if first.reference_ppl_exact is not None:
        lines.append(f"Reference perplexity: {first.reference_ppl_exact:.4f}")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    results: list[EvaluateJobResult] = []
    try:
        reference = resolve_model(args.reference)
        candidates = [resolve_model(c) for c in args.candidates]
        text = resolve_text(args.text) if args.text else None
        for candidate in candidates:
            params = EvaluateJobParams(str(reference), str(candidate), str(text) if text else None, args.ctx,
                                       args.threads)
            on_progress, on_stage = _progress_printer(not args.json and sys.stderr.isatty(), candidate.name)
            results.append(run_now(EVALUATE, params, JobContext(on_progress=on_progress, on_stage=on_stage)))
    except (Cancelled, KeyboardInterrupt):
        print("Cancelled.", file=sys.stderr)
        return 130
    except QuantDeskError as error:
        return report_error(error, args.json)
    if args.json:
        first = results[0]
        print_json({
            "reference": {"path": str(reference), "ppl": first.reference_ppl_exact},
            "text": first.text, "n_ctx": first.n_ctx, "n_positions": first.n_positions,
            "candidates": [candidate_json(r) for r in results],
        })
    else:
        print(render(results))
    return 0


def resolve_text(name: str) -> Path:
    path = Path(name).expanduser()
    if not path.is_file():
        raise EvaluationError(f"There is no text file at {path}.", f"not a file: {path}")
    return path
