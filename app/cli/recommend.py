"""`recommend MODEL`: which quant level fits this computer, where it runs, and why."""

from __future__ import annotations

import argparse

from app.cli.machines import add_rpc_option, hardware_with_machines
from app.cli.output import print_json, report_error
from app.core.advice.recommend import Recommendation, recommend
from app.core.advice.sources import read_model_facts
from app.core.errors import QuantDeskError
from app.core.evaluate.measured import measured_ladder
from app.core.units import format_bytes

PLACEMENT_WORDS = {"gpu": "GPU", "partial": "GPU+CPU", "cpu": "CPU", "none": "does not fit"}


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("recommend", help="recommend a quant level for a model on this computer")
    p.add_argument("model", help="a GGUF file, a Hugging Face folder, or a Hub repo id (owner/name)")
    p.add_argument("--ctx", type=int, default=None, help="context length in tokens (default: 4096 or less)")
    add_rpc_option(p)
    p.add_argument("--json", action="store_true", help="print the options as JSON")
    p.set_defaults(run=run)


def render(rec: Recommendation) -> str:
    lines = [
        f"{rec.model} at a {rec.n_ctx}-token context:",
        f"  {'type':8} {'file':>9} {'memory':>9}  {'runs on':14} {'tokens/s*':>9}  quality loss**",
    ]
    rows = list(rec.options) + ([rec.this_file] if rec.this_file else [])
    for o in rows:
        where = PLACEMENT_WORDS[o.placement]
        if o.placement == "partial":
            where = f"GPU {o.n_gpu_layers} layers"
        if len(o.memory.devices) > 1 and o.placement in ("gpu", "partial"):  # split: see the sentence for where
            where = f"{len(o.memory.devices)} devices" + ("" if o.placement == "gpu" else f" {o.n_gpu_layers} l.")
        speed = f"{o.tokens_per_second:.0f}" if o.tokens_per_second else "–"
        loss = f"{o.quality.delta_perplexity:+.3g} perplexity" if o.quality else "–"
        if o.quality is not None and o.quality.source.startswith("measured here"):
            loss += f", KL divergence {o.quality.mean_kld:.4f} (measured here)"
        mark = "→" if o.type == rec.recommended and o is not rec.this_file else " "
        label = "this file" if o is rec.this_file else o.type
        lines.append(
            f"{mark} {label:8} {format_bytes(o.file_bytes):>9} {format_bytes(o.memory.total):>9}  "
            f"{where:14} {speed:>9}  {loss}"
        )
    quality_note = ("** measured here on this model where it says so, else measured on Llama-3-8B by llama.cpp."
                    if rec.measured else "** measured on Llama-3-8B by llama.cpp.")
    lines += ["", rec.sentence, "* estimated from memory bandwidth. " + quality_note]
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    try:
        facts = read_model_facts(args.model)
        ladder = measured_ladder(facts)
        rec = recommend(facts, hardware_with_machines(args.rpc), args.ctx,
                        ladder.quality_by_type() if ladder else None)
    except QuantDeskError as error:
        return report_error(error, args.json)
    if args.json:
        print_json(rec.to_json())
    else:
        print(render(rec))
    return 0
