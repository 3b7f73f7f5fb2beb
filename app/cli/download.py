"""`download`: fetch a model from the Hugging Face Hub into the shared cache (or a folder), resumably.

Honours HF_ENDPOINT, HF_HOME / HF_HUB_CACHE and HF_TOKEN (or the token saved by `hf auth login`). Run it again
after an interruption and it continues from the bytes already on disk.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from app.cli.output import print_json, report_error
from app.core.errors import Cancelled, QuantDeskError
from app.core.progress import TransferMeter, format_duration
from app.core.units import format_bytes

if TYPE_CHECKING:
    from app.core.hub.download import DownloadResult, FileProgress


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("download", help="download a model from the Hugging Face Hub (resumable, verified)")
    p.add_argument("repo", help="the model's name on the Hub, e.g. bartowski/SmolLM2-135M-Instruct-GGUF")
    p.add_argument("--include", action="append", default=[], metavar="PATTERN",
                   help="only files matching this glob (e.g. '*Q4_K_M.gguf'); may be given more than once")
    p.add_argument("--revision", default="main", help="branch, tag or commit (default: main)")
    p.add_argument("--local-dir", type=Path, default=None,
                   help="save into this folder instead of the Hugging Face cache")
    p.add_argument("--json", action="store_true", help="print the result as JSON (progress is not shown)")
    p.set_defaults(run=run)


class _ProgressLine:
    """One self-rewriting line on stderr: file, bytes, percent, speed, time left."""

    def __init__(self) -> None:
        self.meter = TransferMeter()
        self.current = ""
        self.shown = False

    def end_line(self) -> None:
        if self.shown:
            sys.stderr.write("\n")
            self.shown = False

    def on_file(self, p: FileProgress) -> None:
        self.current = f"[{p.index + 1}/{p.count}] {p.path}"

    def on_progress(self, done: int, total: int) -> None:
        r = self.meter.update(done, total)
        speed = f"{format_bytes(r.bytes_per_second)}/s" if r.bytes_per_second else "–"
        line = (f"{self.current}  {format_bytes(done)} / {format_bytes(total)} ({r.fraction:.0%})  "
                f"{speed}  {format_duration(r.seconds_left)} left")
        width = max(shutil.get_terminal_size().columns - 1, 40)
        sys.stderr.write("\r" + line[:width].ljust(width))
        sys.stderr.flush()
        self.shown = True


def render(result: DownloadResult) -> str:
    resumed = sum(1 for f in result.files if 0 < f.resumed_from < f.size)
    lines = [f"Downloaded {len(result.files)} file(s) of {result.repo_id} "
             f"({format_bytes(result.transferred)} transferred"
             + (f", {resumed} resumed" if resumed else "") + ")",
             f"Folder: {result.folder}"]
    lines += [f"  {f.path}  {format_bytes(f.size)}" for f in result.files]
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    progress = None if args.json else _ProgressLine()
    try:
        from app.core.hub.download import download, plan_download  # network code: only when downloading

        plan = plan_download(args.repo, args.include, args.revision, args.local_dir)
        result = download(plan, on_progress=progress.on_progress if progress else lambda d, t: None,
                          on_file=progress.on_file if progress else None)
    except (Cancelled, KeyboardInterrupt):
        if progress:
            progress.end_line()
        print("Stopped. Run the same command again to continue from where it stopped.", file=sys.stderr)
        return 130
    except QuantDeskError as error:
        if progress:
            progress.end_line()
        return report_error(error, args.json)
    if progress:
        progress.end_line()
    if args.json:
        print_json(result.to_json())
    else:
        print(render(result))
    return 0
