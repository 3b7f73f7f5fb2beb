"""Entry point: no arguments opens the window; a subcommand runs the command-line face instead.

Offline mode is applied first, before any library that could make a request is imported (app/core/offline.py).
"""

from __future__ import annotations

import argparse
import multiprocessing
import sys

from app import __version__
from app.core.offline import apply_offline_mode


def build_parser() -> argparse.ArgumentParser:
    from app.cli import chat, compare, convert, doctor, download, hardware, quantize, recommend, rpc_server, serve

    parser = argparse.ArgumentParser(
        prog="quantdesk",
        description="QuantDesk: pick, download, quantize and chat with language models on your own computer. "
        "With no command, the app's window opens.",
    )
    parser.add_argument("--version", action="version", version=f"QuantDesk {__version__}")
    sub = parser.add_subparsers(title="commands", metavar="COMMAND")
    for command in (doctor, hardware, recommend, chat, serve, download, convert, quantize, compare, rpc_server):
        command.add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    multiprocessing.freeze_support()  # the engine process, in a frozen (PyInstaller) build
    apply_offline_mode()  # before anything that could reach the network is even imported
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
    except KeyboardInterrupt:  # Ctrl+C in a command that does not say more itself: no traceback, the usual code
        print("\nStopped.", file=sys.stderr)  # the command's own clean-up (its `finally`) has already run
        return 130
    return result


if __name__ == "__main__":
    sys.exit(main())
