"""One model a person can pick: the record every list of models on disk is made of."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class ModelEntry:
    """A title for people, the GGUF file behind it, and where it was found (`source`, for people too:
    "QuantDesk", "Hugging Face cache", "LM Studio", "GPT4All", "Ollama", "Added by you")."""

    title: str
    path: Path
    size_bytes: int
    is_starter: bool = False
    source: str = ""
