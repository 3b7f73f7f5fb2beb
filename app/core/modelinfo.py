"""Facts about a model without loading it: shape, context, vocabulary and every tensor's type and size.

Three sources give the same ModelFacts: a GGUF file's header (gguf_header.py), a Hugging Face folder
(config.json + safetensors headers) and a Hub repo before download (see hf_facts.py). The memory estimate
needs nothing else.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gguf import MODEL_ARCH_NAMES

from app.core.errors import ModelInfoError
from app.core.gguf_header import ArrayLength, HeaderFormatError, NeedMoreBytes, RawTensor, parse_header
from app.core.quants import ggml_type_name, level_for_file_type, tensor_bytes

log = logging.getLogger(__name__)

KNOWN_ARCHITECTURES = frozenset(MODEL_ARCH_NAMES.values())
# Architectures llama.cpp runs with a sliding-window cache on some layers, and how they alternate when the
# file does not say: every n-th layer (the last of each group) attends to the whole context. From llama.cpp's
# src/llama-model.cpp (set_swa_pattern calls).
SWA_PATTERN_DEFAULTS = {"gemma2": 2, "gemma3": 6, "gemma3n": 5, "cohere2": 4, "gpt-oss": 2, "exaone4": 4}

HEADER_FIRST_READ = 4 * 1024 * 1024
_LAYER = re.compile(r"^blk\.(\d+)\.")


@dataclass(frozen=True)
class TensorFacts:
    name: str  # the GGUF name ("blk.3.attn_v.weight"), also for Hugging Face sources (mapped)
    shape: tuple[int, ...]  # ggml order: the row length first
    ggml_type: str  # "Q4_K", "F16", ... (for safetensors sources: the type the conversion will write)
    n_bytes: int

    @property
    def n_elements(self) -> int:
        n = 1
        for d in self.shape:
            n *= d
        return n

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

    @property
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


def facts_from_gguf_fields(
    fields: dict[str, Any], tensors: list[TensorFacts], source: str, kind: str, file_bytes: int | None = None
) -> ModelFacts:
    """ModelFacts from a GGUF's metadata; a ModelInfoError naming the first missing key."""

    def need(key: str) -> Any:
        if key not in fields:
            raise ModelInfoError(
                "This model file is missing information QuantDesk needs to size it.",
                f"{source}: GGUF metadata key {key!r} is missing",
            )
        return fields[key]

    arch = str(need("general.architecture"))
    if arch not in KNOWN_ARCHITECTURES:
        raise ModelInfoError(
            f"This model's architecture, {arch!r}, is not one llama.cpp knows, so it cannot run here.",
            f"{source}: general.architecture = {arch!r}; not in gguf-py's MODEL_ARCH_NAMES",
        )

    def get(key: str, default: Any = None) -> Any:
        return fields.get(f"{arch}.{key}", default)

    n_layers = int(need(f"{arch}.block_count"))
    n_embd = int(need(f"{arch}.embedding_length"))
    n_head = _largest(need(f"{arch}.attention.head_count"))
    if n_head <= 0:
        raise ModelInfoError(
            "This model has no attention layers QuantDesk can size (a recurrent model?).",
            f"{source}: {arch}.attention.head_count = 0",
        )
    n_head_kv = _largest(get("attention.head_count_kv", n_head)) or n_head
    head_dim_k = int(get("attention.key_length", n_embd // n_head))
    head_dim_v = int(get("attention.value_length", head_dim_k))
    vocab = get("vocab_size")
    if vocab is None:
        tokens = fields.get("tokenizer.ggml.tokens")
        vocab = len(tokens) if isinstance(tokens, (list, ArrayLength)) else None
    if vocab is None:
        embd = next((t for t in tensors if t.name == "token_embd.weight"), None)
        if embd is None:
            raise ModelInfoError(
                "This model file does not say how many words (tokens) it knows.",
                f"{source}: no {arch}.vocab_size, tokenizer.ggml.tokens or token_embd.weight",
            )
        vocab = embd.shape[-1]
    window = get("attention.sliding_window")
    window = int(window) if window else None
    ftype = fields.get("general.file_type")
    level = level_for_file_type(int(ftype)) if ftype is not None else None
    return ModelFacts(
        source=source,
        kind=kind,
        name=str(fields.get("general.name") or Path(source).stem),
        architecture=arch,
        n_layers=n_layers,
        n_embd=n_embd,
        n_ff=_largest(get("feed_forward_length", 0)),
        n_head=n_head,
        n_head_kv=n_head_kv,
        head_dim_k=head_dim_k,
        head_dim_v=head_dim_v,
        context_length=int(get("context_length", 0)) or 4096,
        vocab_size=int(vocab),
        sliding_window=window,
        swa_layers=swa_layout(arch, n_layers, window, get("attention.sliding_window_pattern")),
        file_type=level.name if level else None,
        tensors=tuple(tensors),
        n_expert=int(get("expert_count", 0) or 0),
        file_bytes=file_bytes,
    )


def _largest(value: Any) -> int:
    """Per-layer values (a list) collapse to their largest; sizes are planned for the biggest layer."""
    if isinstance(value, list):
        return max((int(v) for v in value), default=0)
    return int(value)


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

    The header parser (gguf_header.py) is also what reads Hub files by range; it is checked against
    gguf-py's GGUFReader in the tests. GGUFReader itself is not used here because it takes seconds on a large
    vocabulary (it builds an array view per token), too slow for a table that updates as a person types.
    """
    path = Path(path)
    if not path.is_file():
        raise ModelInfoError(f"There is no model file at {path}.", f"not a file: {path}")
    size = path.stat().st_size
    want = HEADER_FIRST_READ
    with path.open("rb") as f:
        while True:
            f.seek(0)
            data = f.read(want)
            try:
                header = parse_header(data)
                break
            except NeedMoreBytes as more:
                if len(data) >= size:
                    raise ModelInfoError(
                        f"{path.name} is not a complete GGUF model file "
                        "(it may be damaged or still downloading).",
                        f"{path} ({size} bytes): the header needs at least {more.needed} bytes",
                    ) from more
                want = max(want * 2, more.needed + HEADER_FIRST_READ)
            except HeaderFormatError as error:
                raise ModelInfoError(
                    f"{path.name} is not a GGUF model file QuantDesk can read.",
                    f"{path} ({size} bytes): {error}",
                ) from error
    tensors = tensors_from_raw(header.tensors, str(path))
    end_of_data = max((t.offset + n.n_bytes for t, n in zip(header.tensors, tensors, strict=True)), default=0)
    if header.tensors and size < header.header_bytes + end_of_data:
        raise ModelInfoError(
            f"{path.name} is not a complete GGUF model file (it may be damaged or still downloading).",
            f"{path} ({size} bytes): its tensors need at least {header.header_bytes + end_of_data} bytes",
        )
    return facts_from_gguf_fields(header.fields, tensors, str(path), "gguf", size)


def read_model_facts(model: str, on_progress: Callable[[int, int], None] | None = None) -> ModelFacts:
    """Facts for a GGUF file, a Hugging Face folder, or a Hub repo id ("owner/name")."""
    from app.core import hf_facts
    from app.core.library import STARTER_NAME, starter_model_path

    path = starter_model_path() if model == STARTER_NAME else Path(model).expanduser()
    if path.is_file():
        return read_gguf_facts(path)
    if path.is_dir():
        return hf_facts.read_folder_facts(path)
    if path.suffix.lower() == ".gguf" or path.is_absolute():
        raise ModelInfoError(f"There is no model file or folder at {path}.", f"not found: {path}")
    if hf_facts.looks_like_repo_id(model):
        return hf_facts.read_hub_facts(model)
    raise ModelInfoError(
        f"{model} is not a model file, a model folder or a Hugging Face repo name.",
        f"no file or folder at {path}, and {model!r} is not of the form owner/name",
    )
