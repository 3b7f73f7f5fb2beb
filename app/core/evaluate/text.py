"""The text quality is measured over: the one QuantDesk ships, or the person's own.

The shipped text (resources/evaluation/general-en.txt, written for the project, CC0) is about 6,000 words of
varied plain English, about 7,000 tokens: 14 chunks at a context of 512. It is not the calibration text, so
a quant made with an importance matrix is not measured on the text its matrix came from.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from app.core.errors import EvaluationError
from app.core.paths import resources_dir

SHIPPED_NAME = "QuantDesk's evaluation text"


def default_text() -> Path:
    return resources_dir() / "evaluation" / "general-en.txt"


def read_text(path: Path) -> str:
    try:
        return Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise EvaluationError(f"The text {Path(path).name} could not be read as UTF-8 text.",
                              f"{path}: {type(error).__name__}: {error}") from error


def text_digest(path: Path) -> str:
    """What identifies a text in the cache: the SHA-256 of its bytes (a renamed copy is the same text)."""
    try:
        return hashlib.sha256(Path(path).read_bytes()).hexdigest()
    except OSError as error:
        raise EvaluationError(f"The text {Path(path).name} could not be read.", f"{path}: {error}") from error


def text_title(path: Path) -> str:
    """How a text is named for people."""
    return SHIPPED_NAME if Path(path).resolve() == default_text().resolve() else Path(path).name
