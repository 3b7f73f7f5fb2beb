"""The converter's family table: which Hugging Face architectures QuantDesk converts, and the converter for
each. Everything that asks "can QuantDesk convert (or size) this model?" asks here."""

from __future__ import annotations

from typing import Any

from app.core.convert.family import ArchFamily
from app.core.convert.gemma2 import Gemma2Family
from app.core.convert.gemma3 import Gemma3Family
from app.core.convert.llama import LlamaFamily
from app.core.convert.phi3 import Phi3Family
from app.core.convert.qwen2 import Qwen2Family
from app.core.convert.qwen3 import Qwen3Family
from app.core.errors import InvalidModelFolderError, UnsupportedArchitectureError

FAMILIES: tuple[type[ArchFamily], ...] = (
    LlamaFamily,
    Qwen2Family,
    Qwen3Family,
    Gemma2Family,
    Gemma3Family,
    Phi3Family,
)

#: For people: what can be converted, in the words of the error message.
SUPPORTED_TITLES = "Llama (Llama 2/3, Mistral, SmolLM), Qwen2/2.5, Qwen3, Gemma 2, Gemma 3, Phi-3/Phi-4-mini"

#: config.json "architectures" value → the family's name for people ("Gemma3ForConditionalGeneration" → "Gemma 3").
CONVERTIBLE_ARCHITECTURES: dict[str, str] = {arch: f.title for f in FAMILIES for arch in f.hf_architectures}


def architecture(config: dict[str, Any]) -> str:
    """config.json's architecture ("LlamaForCausalLM"), else its model_type; InvalidModelFolderError in plain
    words when they are not names."""
    archs, model_type = config.get("architectures"), config.get("model_type", "unknown")
    if archs and isinstance(archs, list) and isinstance(archs[0], str):
        return archs[0]
    if not archs and isinstance(model_type, str):
        return model_type
    raise InvalidModelFolderError(
        "The model's config.json is damaged: it does not name the model's architecture.",
        f"config.json architectures={str(archs)[:100]} model_type={str(model_type)[:100]}",
    )


def family_for(config: dict[str, Any]) -> type[ArchFamily]:
    """The converter for this config.json's architecture, or UnsupportedArchitectureError naming it."""
    arch = architecture(config)
    for family in FAMILIES:
        if arch in family.hf_architectures:
            return family
    readable = (arch.removesuffix("ForCausalLM").removesuffix("ForConditionalGeneration") or arch)[:60]
    raise UnsupportedArchitectureError(
        f"This model's architecture, {readable}, can't be converted yet. Supported: {SUPPORTED_TITLES}.",
        f"config.json architectures={str(config.get('architectures'))[:100]} "
        f"model_type={str(config.get('model_type'))[:100]}; "
        "supported: " + ", ".join(a for f in FAMILIES for a in f.hf_architectures),
    )
