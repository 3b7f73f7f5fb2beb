"""`quantize IN.gguf TYPE [-o OUT] [--imatrix FILE | --calibration TEXT]`: llama.cpp quantization, scripted.

TYPE may be a comma-separated ladder ("Q8_0,Q6_K,Q4_K_M,Q2_K"): one output per level, largest first.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from app.cli.output import print_json, report_error
from app.core.errors import AlreadyQuantizedError, Cancelled, QuantDeskError
from app.core.jobs.kind import JobContext, to_json
from app.core.jobs.quantize import QUANTIZE, QuantizeJobParams
from app.core.jobs.queue import run_now
from app.core.models.library import resolve_model
from app.core.quants import QUANT_TYPES, quant_type
from app.core.units import format_bytes


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("quantize",
                       help="make a smaller copy of a GGUF model at a llama.cpp quantization level",
                       description="Types: " + ", ".join(t.name for t in QUANT_TYPES))
    p.add_argument("input", help="a GGUF file, or 'starter' for the bundled SmolLM2-135M-Instruct")
    p.add_argument("type", help="a type such as Q4_K_M, or a comma-separated ladder: Q8_0,Q6_K,Q4_K_M,Q2_K")
    p.add_argument("-o", "--output", help="the output file (one type only; default: "
                   "<model>-<TYPE>.gguf in QuantDesk's models folder)")
    source = p.add_mutually_exclusive_group()
    source.add_argument("--imatrix", help="an importance matrix file (GGUF or llama.cpp .dat)")
    source.add_argument("--calibration", help="a UTF-8 text to compute an importance matrix from")
    p.add_argument("--allow-requantize", action="store_true",
                   help="go on when the input is already quantized (it is expanded to F16 first; quality "
                        "is lost twice)")
    p.add_argument("--threads", type=int, help="threads for llama.cpp (default: all)")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.set_defaults(run=run)


def _progress_printer(enabled: bool) -> tuple[Any, Any]:
    state = {"stage": "quantize"}

    def on_stage(stage: str) -> None:
        state["stage"] = stage

    def on_progress(done: int, total: int) -> None:
        if enabled and total:
            sys.stderr.write(f"\r  {state['stage']}: {done}/{total}   ")
            if done >= total:
                sys.stderr.write("\n")
            sys.stderr.flush()

    return on_progress, on_stage


def run(args: argparse.Namespace) -> int:
    try:
        src = resolve_model(args.input)
        names = [quant_type(n).name for n in args.type.split(",") if n.strip()]
        if args.output and len(names) != 1:
            raise QuantDeskError("-o/--output names one file, so it works with one type only.",
                                 f"types: {names}")
        on_progress, on_stage = _progress_printer(not args.json and sys.stderr.isatty())
        outputs = []
        for name in names:
            params = QuantizeJobParams(src=str(src), type_name=name, dst=args.output, imatrix=args.imatrix,
                                       calibration=args.calibration, allow_requantize=args.allow_requantize,
                                       threads=args.threads)
            if not args.json:
                print(f"{src.name} → {name} …", file=sys.stderr)
            result = run_now(QUANTIZE, params, JobContext(on_progress=on_progress, on_stage=on_stage))
            outputs.append(to_json(result))
            if not args.json:
                print(f"{result.path}  ({format_bytes(result.size_bytes)}, {result.seconds} s"
                      + (", with importance matrix" if result.imatrix else "") + ")")
    except AlreadyQuantizedError as error:
        error.detail = (error.detail + "\n" if error.detail else "") + \
            "Run again with --allow-requantize to continue anyway."
        return report_error(error, args.json)
    except (Cancelled, KeyboardInterrupt):
        print("Cancelled; nothing was left behind.", file=sys.stderr)
        return 130
    except QuantDeskError as error:
        return report_error(error, args.json)
    if args.json:
        print_json({"input": str(src), "outputs": outputs})
    return 0
