"""Entry point: no arguments opens the window; a subcommand runs the command-line face instead."""

from __future__ import annotations

import argparse
import multiprocessing
import sys

from app import __version__
from app.cli import chat, convert, doctor, download, hardware, quantize, recommend

COMMANDS = [doctor, hardware, recommend, chat, download, convert, quantize]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="quantdesk",
        description="QuantDesk: pick, download, quantize and chat with language models on your own computer. "
        "With no command, the app's window opens.",
    )
    parser.add_argument("--version", action="version", version=f"QuantDesk {__version__}")
    sub = parser.add_subparsers(title="commands", metavar="COMMAND")
    for command in COMMANDS:
        command.add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    multiprocessing.freeze_support()  # the engine process, in a frozen (PyInstaller) build
    argv = sys.argv[1:] if argv is None else argv
    if not argv:
        from app.ui.application import run_app  # Qt is imported only for the window

        return run_app()
    args = build_parser().parse_args(argv)
    if not hasattr(args, "run"):
        build_parser().print_help()
        return 2
    try:
        result: int = args.run(args)
    except BrokenPipeError:  # `quantdesk chat ... | head`: the reader left; not an error of ours
        sys.stderr.close()
        return 0
    return result


if __name__ == "__main__":
    sys.exit(main())
