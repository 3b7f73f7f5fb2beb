"""How every subcommand reports: plain text for people, JSON for scripts, errors in plain words."""

from __future__ import annotations

import json
import sys
from typing import Any

from app.core.errors import QuantDeskError


def print_json(data: Any) -> None:
    json.dump(data, sys.stdout, indent=2, ensure_ascii=False)
    sys.stdout.write("\n")


def report_error(error: QuantDeskError, as_json: bool) -> int:
    """Print a QuantDeskError (message, then detail) and return the exit code 1."""
    if as_json:
        print_json({"error": {"type": type(error).__name__, "message": error.message, "detail": error.detail}})
    else:
        print(f"Error: {error.message}", file=sys.stderr)
        if error.detail:
            print(f"Details: {error.detail}", file=sys.stderr)
    return 1
