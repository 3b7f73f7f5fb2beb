"""Facts about a model without loading it: shape, context, vocabulary and every tensor's type and size.

A GGUF file's header (gguf_header.py) gives ModelFacts here; a Hugging Face folder or a Hub repo before download
gives the same ModelFacts of the file a conversion would write (convert/predict.py). The memory estimate needs
nothing else. The values come from files from outside, so every number is checked for plausibility before
anything is sized from it: a damaged header is a plain-words error, never a traceback or a huge allocation.
"""

from __future__ import annotations

import logging
import math
import re
from dataclasses import dataclass
from functools import cache, cached_property
from pathlib import Path
from typing import Any

from app.core.errors import ModelInfoError
from app.core.models.gguf_header import ArrayLength, RawTensor, read_gguf_header
from app.core.quants import ggml_type_name, quant_type_for_ftype, tensor_bytes

log = logging.getLogger(__name__)


@cache
def known_architectures() -> frozenset[str]:
    """The architecture names llama.cpp knows, from gguf-py (imported here, not at the top: the window's
    start-up reaches this module and would pay about 0.2 s for gguf-py and numpy it does not need yet)."""
    from gguf import MODEL_ARCH_NAMES

    return frozenset(MODEL_ARCH_NAMES.values())


# Architectures llama.cpp runs with a sliding-window cache on some layers, and how they alternate when the
# file does not say: every n-th layer (the last of each group) attends to the whole context. From llama.cpp's
# src/llama-model.cpp (set_swa_pattern calls).
SWA_PATTERN_DEFAULTS = {"gemma2": 2, "gemma3": 6, "gemma3n": 5, "cohere2": 4, "gpt-oss": 2, "exaone4": 4}

_LAYER = re.compile(r"^blk\.(\d+)\.")
# Bounds on what a header may claim, far beyond any real model (Llama-3.1-405B: 126 layers, width 16384,
# 128 heads, a 128k context and vocabulary): a value outside them is damage, not a model to size.
MAX_LAYERS = 4096
MAX_WIDTH = 1 << 20
MAX_FF = 1 << 24
MAX_HEADS = 1 << 16
MAX_CONTEXT = 1 << 26
MAX_VOCAB = 1 << 24


@dataclass(frozen=True)
class TensorFacts:
    name: str  # the GGUF name ("blk.3.attn_v.weight"), also for Hugging Face sources (mapped)
    shape: tuple[int, ...]  # ggml order: the row length first
    ggml_type: str  # "Q4_K", "F16", ... (for safetensors sources: the type the conversion will write)
    n_bytes: int

    @property
    def n_elements(self) -> int:
        return math.prod(self.shape)

    @property
    def layer(self) -> int | None:
        m = _LAYER.match(self.name)
        return int(m.group(1)) if m else None


@dataclass(frozen=True)
class ModelFacts:
    source: str  # the path or repo id the facts came from
    kind: str  # "gguf", "hf-folder", "hub-gguf", "hub-safetensors"
    name: str
    architecture: str
    n_layers: int
    n_embd: int
    n_ff: int
    n_head: int
    n_head_kv: int  # the largest over layers where the file gives one per layer
    head_dim_k: int
    head_dim_v: int
    context_length: int
    vocab_size: int
    sliding_window: int | None  # tokens a sliding-window layer keeps; None if no layer slides
    swa_layers: tuple[bool, ...]  # per layer: does it use the sliding window?
    file_type: str | None  # "Q4_K_M" for a GGUF that says so, None for unquantized sources
    tensors: tuple[TensorFacts, ...]
    n_expert: int = 0
    file_bytes: int | None = None  # size of the GGUF file itself, where there is one

    @property
    def weights_bytes(self) -> int:
        return sum(t.n_bytes for t in self.tensors)

    @property
    def n_params(self) -> int:
        return sum(t.n_elements for t in self.tensors)

    @cached_property  # asked once per tensor when predicting a quant mix: a scan each time is quadratic
    def has_output_tensor(self) -> bool:
        return any(t.name == "output.weight" for t in self.tensors)


def swa_layout(architecture: str, n_layers: int, window: int | None, pattern: Any) -> tuple[bool, ...]:
    """Which layers use the sliding window: from the file's pattern key, else llama.cpp's default per arch."""
    if not window:
        return (False,) * n_layers
    if isinstance(pattern, list) and len(pattern) == n_layers:
        return tuple(bool(p) for p in pattern)
    n = pattern if isinstance(pattern, int) and pattern > 0 else SWA_PATTERN_DEFAULTS.get(architecture)
    if n is None:
        return (False,) * n_layers  # llama.cpp keeps a full cache for architectures without a window rule
    return tuple(i % n < n - 1 for i in range(n_layers))


def _damaged(source: str, key: str, value: Any) -> ModelInfoError:
    shown = repr(value)
    return ModelInfoError("This model file is damaged: its description of the model makes no sense.",
                          f"{source}: GGUF metadata {key} = {shown[:80]}")


def _count(source: str, key: str, value: Any, low: int, high: int) -> int:
    """A whole number from the header within [low, high]; per-layer lists give their largest (sizes are
    planned for the biggest layer). Anything else is a plain-words error naming the key."""
    if isinstance(value, list):
        if not value:
            return low
        return max(_count(source, key, v, low, high) for v in value)
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise _damaged(source, key, value)
    return value


def facts_from_gguf_fields(
    fields: dict[str, Any], tensors: list[TensorFacts], source: str, kind: str, file_bytes: int | None = None
) -> ModelFacts:
    """ModelFacts from a GGUF's metadata; a ModelInfoError naming the first missing or implausible key."""

    def need(key: str) -> Any:
        if key not in fields:
            raise ModelInfoError(
                "This model file is missing information QuantDesk needs to size it.",
                f"{source}: GGUF metadata key {key!r} is missing",
            )
        return fields[key]

    arch = need("general.architecture")
    if not isinstance(arch, str) or arch not in known_architectures():
        raise ModelInfoError(
            f"This model's architecture, {str(arch)[:40]!r}, is not one llama.cpp knows, so it cannot run here.",
            f"{source}: general.architecture = {str(arch)[:80]!r}; not in gguf-py's MODEL_ARCH_NAMES",
        )

    def count(key: str, low: int, high: int, default: Any = None) -> int:
        full = f"{arch}.{key}"
        value = fields.get(full, default) if default is not None else need(full)
        return _count(source, full, value, low, high)

    n_layers = count("block_count", 1, MAX_LAYERS)
    # Every layer has weights: a count past those the tensor table describes is damage, and sizing it would
    # loop over thousands of layers that are not there.
    held = max((t.layer + 1 for t in tensors if t.layer is not None), default=0)
    if held and n_layers > held:
        raise ModelInfoError("This model file is damaged: its description of the model makes no sense.",
                             f"{source}: {arch}.block_count = {n_layers}, but its tensors are for {held} layers")
    n_embd = count("embedding_length", 1, MAX_WIDTH)
    n_head = count("attention.head_count", 0, MAX_HEADS)
    if n_head <= 0:
        raise ModelInfoError(
            "This model has no attention layers QuantDesk can size (a recurrent model?).",
            f"{source}: {arch}.attention.head_count = 0",
        )
    n_head_kv = count("attention.head_count_kv", 0, MAX_HEADS, n_head) or n_head
    head_dim_k = count("attention.key_length", 1, MAX_WIDTH, max(1, n_embd // n_head))
    head_dim_v = count("attention.value_length", 1, MAX_WIDTH, head_dim_k)
    vocab: Any = fields.get(f"{arch}.vocab_size")
    if vocab is None:
        tokens = fields.get("tokenizer.ggml.tokens")
        vocab = len(tokens) if isinstance(tokens, (list, ArrayLength)) else None
    if vocab is None:
        embd = next((t for t in tensors if t.name == "token_embd.weight" and t.shape), None)
        if embd is None:
            raise ModelInfoError(
                "This model file does not say how many words (tokens) it knows.",
                f"{source}: no {arch}.vocab_size, tokenizer.ggml.tokens or token_embd.weight",
            )
        vocab = embd.shape[-1]
    vocab = _count(source, f"{arch}.vocab_size", vocab, 1, MAX_VOCAB)
    window = count("attention.sliding_window", 0, MAX_CONTEXT, 0) or None
    ftype = fields.get("general.file_type")
    level = quant_type_for_ftype(ftype) if isinstance(ftype, int) and not isinstance(ftype, bool) else None
    name = fields.get("general.name")
    return ModelFacts(
        source=source,
        kind=kind,
        name=name if isinstance(name, str) and name else Path(source).stem,
        architecture=arch,
        n_layers=n_layers,
        n_embd=n_embd,
        n_ff=count("feed_forward_length", 0, MAX_FF, 0),
        n_head=n_head,
        n_head_kv=n_head_kv,
        head_dim_k=head_dim_k,
        head_dim_v=head_dim_v,
        context_length=count("context_length", 0, MAX_CONTEXT, 0) or 4096,
        vocab_size=vocab,
        sliding_window=window,
        swa_layers=swa_layout(arch, n_layers, window, fields.get(f"{arch}.attention.sliding_window_pattern")),
        file_type=level.name if level else None,
        tensors=tuple(tensors),
        n_expert=count("expert_count", 0, MAX_HEADS, 0),
        file_bytes=file_bytes,
    )


def tensors_from_raw(raw: tuple[RawTensor, ...] | list[RawTensor], source: str) -> list[TensorFacts]:
    out = []
    for t in raw:
        try:
            type_name = ggml_type_name(t.type_id)
        except ValueError as error:
            raise ModelInfoError(
                "This model file uses a tensor type QuantDesk does not know.",
                f"{source}: tensor {t.name!r} has ggml type id {t.type_id}",
            ) from error
        n = 1
        for d in t.shape:
            n *= d
        out.append(TensorFacts(t.name, t.shape, type_name, tensor_bytes(type_name, n)))
    return out


def read_gguf_facts(path: str | Path) -> ModelFacts:
    """Facts from a GGUF file on disk, reading only its header (the first megabytes).

    The header parser (gguf_header.py) is also what reads Hub files by range; it is checked against gguf-py's
    GGUFReader in the tests. GGUFReader itself is not used here because it takes seconds on a large vocabulary
    (it builds an array view per token), too slow for a table that updates as a person types. Raises
    InvalidModelFileError (a ModelInfoError) for a file that is not a complete GGUF.
    """
    path = Path(path)
    header = read_gguf_header(path)  # also checks that every tensor's data lies inside the file
    size = path.stat().st_size
    return facts_from_gguf_fields(header.fields, tensors_from_raw(header.tensors, str(path)), str(path), "gguf", size)
