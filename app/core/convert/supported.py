"""What QuantDesk converts, as plain data: the Hugging Face architectures of each family and the family's name
for people. The converter classes (families.py) take their names from here, so this table is the one list.

It imports neither gguf-py nor numpy: the Convert and Find models pages ask it at the window's start-up.
"""

from __future__ import annotations

from typing import Any

from app.core.errors import InvalidModelFolderError, UnsupportedArchitectureError

#: config.json "architectures" value → the family's name for people ("Gemma3ForConditionalGeneration" → "Gemma 3").
CONVERTIBLE_ARCHITECTURES: dict[str, str] = {
    "LlamaForCausalLM": "Llama",
    "LLaMAForCausalLM": "Llama",
    "MistralForCausalLM": "Llama",
    "Qwen2ForCausalLM": "Qwen2",
    "Qwen3ForCausalLM": "Qwen3",
    "Gemma2ForCausalLM": "Gemma 2",
    "Gemma3ForCausalLM": "Gemma 3",
    "Gemma3ForConditionalGeneration": "Gemma 3",
    "Phi3ForCausalLM": "Phi-3",
}

#: The number formats a conversion writes (writer.OUTTYPES maps each to gguf-py's types), for the CLI's choices.
OUTTYPE_NAMES: tuple[str, ...] = ("f32", "f16", "bf16", "q8_0")

#: For people: what can be converted, in the words of the error message.
SUPPORTED_TITLES = "Llama (Llama 2/3, Mistral, SmolLM), Qwen2/2.5, Qwen3, Gemma 2, Gemma 3, Phi-3/Phi-4-mini"


def architectures_of(title: str) -> tuple[str, ...]:
    """The config.json architectures of the family called `title` ("Llama" → LlamaForCausalLM, ...)."""
    return tuple(arch for arch, family in CONVERTIBLE_ARCHITECTURES.items() if family == title)


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


def convertible_family(config: dict[str, Any]) -> str:
    """The name of the family that converts this config.json's model ("Llama"), or UnsupportedArchitectureError
    naming the architecture in plain words."""
    arch = architecture(config)
    if arch in CONVERTIBLE_ARCHITECTURES:
        return CONVERTIBLE_ARCHITECTURES[arch]
    readable = (arch.removesuffix("ForCausalLM").removesuffix("ForConditionalGeneration") or arch)[:60]
    raise UnsupportedArchitectureError(
        f"This model's architecture, {readable}, can't be converted yet. Supported: {SUPPORTED_TITLES}.",
        f"config.json architectures={str(config.get('architectures'))[:100]} "
        f"model_type={str(config.get('model_type'))[:100]}; "
        "supported: " + ", ".join(CONVERTIBLE_ARCHITECTURES),
    )
