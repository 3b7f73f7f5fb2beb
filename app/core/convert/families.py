"""The converter's family table: the converter class of each family QuantDesk converts. Which architectures
those are, and the families' names for people, is plain data in supported.py (light enough for start-up)."""

from __future__ import annotations

from typing import Any

from app.core.convert.family import ArchFamily
from app.core.convert.gemma2 import Gemma2Family
from app.core.convert.gemma3 import Gemma3Family
from app.core.convert.llama import LlamaFamily
from app.core.convert.phi3 import Phi3Family
from app.core.convert.qwen2 import Qwen2Family
from app.core.convert.qwen3 import Qwen3Family
from app.core.convert.supported import convertible_family

FAMILIES: tuple[type[ArchFamily], ...] = (
    LlamaFamily,
    Qwen2Family,
    Qwen3Family,
    Gemma2Family,
    Gemma3Family,
    Phi3Family,
)


def family_for(config: dict[str, Any]) -> type[ArchFamily]:
    """The converter for this config.json's architecture, or UnsupportedArchitectureError naming it."""
    title = convertible_family(config)
    return next(family for family in FAMILIES if family.title == title)
