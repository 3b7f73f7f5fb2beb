"""`convert HF_FOLDER OUT.gguf [--outtype f16|bf16|f32|q8_0]`: a Hugging Face model folder → one GGUF file."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from app.cli.output import print_json, report_error
from app.core.convert.supported import OUTTYPE_NAMES
from app.core.errors import QuantDeskError
from app.core.units import format_bytes

if TYPE_CHECKING:
    from app.core.convert.converter import ConversionResult


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("convert", help="convert a Hugging Face model folder (safetensors) to a GGUF file")
    p.add_argument("folder", help="the model folder: config.json, *.safetensors and the tokenizer files")
    p.add_argument("out", help="the GGUF file to write")
    p.add_argument(
        "--outtype",
        choices=list(OUTTYPE_NAMES),
        default="f16",
        help="number format of the weights (default f16; q8_0 is half the size, nearly lossless)",
    )
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.set_defaults(run=run)


class _ProgressLine:
    """A percentage on stderr: rewritten in place on a terminal, every 10 % otherwise."""

    def __init__(self) -> None:
        self._last = -1
        self._tty = sys.stderr.isatty()

    def __call__(self, done: int, total: int) -> None:
        percent = int(100 * done / total) if total else 0
        if self._tty:
            if percent != self._last:
                sys.stderr.write(
                    f"\rConverting… {percent:3d} % ({format_bytes(done)} of {format_bytes(total)})"
                )
                sys.stderr.flush()
        elif percent // 10 != self._last // 10:
            sys.stderr.write(f"Converting… {percent} %\n")
        self._last = percent

    def end(self) -> None:
        if self._tty and self._last >= 0:
            sys.stderr.write("\n")


def to_json(result: ConversionResult) -> dict[str, object]:
    return {
        "path": str(result.path),
        "architecture": result.architecture,
        "hf_architecture": result.hf_architecture,
        "outtype": result.outtype,
        "tensors": result.n_tensors,
        "size_bytes": result.size_bytes,
        "seconds": result.seconds,
    }


def run(args: argparse.Namespace) -> int:
    from app.core.convert.converter import convert_model  # gguf-py and numpy: only for this command

    progress = _ProgressLine()
    try:
        result = convert_model(args.folder, args.out, args.outtype, on_progress=progress)
    except QuantDeskError as error:
        progress.end()
        return report_error(error, args.json)
    except KeyboardInterrupt:  # Ctrl+C: the writer has already removed its temporary file
        progress.end()
        print("Cancelled; nothing was written.", file=sys.stderr)
        return 130
    progress.end()
    if args.json:
        print_json(to_json(result))
    else:
        print(
            f"Wrote {result.path} ({format_bytes(result.size_bytes)}, {result.architecture}, "
            f"{result.outtype.upper()}, {result.n_tensors} tensors) in {result.seconds:.1f} s"
        )
    return 0
