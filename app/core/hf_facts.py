"""Model facts from Hugging Face sources: a downloaded folder (config.json + safetensors headers) and a Hub
repo before download (config.json, safetensors metadata, or a GGUF's header through an HTTP range read).

Tensor names are mapped to llama.cpp's GGUF names, and each tensor is given the type a conversion writes
(F16 for matrices, F32 for vectors), so the quantization mix and the memory estimate work as for a GGUF.
The Hub is reached only through huggingface_hub (HF_ENDPOINT is honoured at call time).
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

from app.core.errors import ModelInfoError, QuantDeskError
from app.core.modelinfo import (
    ModelFacts,
    TensorFacts,
    facts_from_gguf_fields,
    swa_layout,
    tensors_from_raw,
)
from app.core.quants import tensor_bytes

# config.json "architectures" → llama.cpp's architecture name (convert_hf_to_gguf.py's registrations)
HF_ARCHITECTURES = {
    "LlamaForCausalLM": "llama",
    "MistralForCausalLM": "llama",
    "Qwen2ForCausalLM": "qwen2",
    "Qwen3ForCausalLM": "qwen3",
    "Gemma2ForCausalLM": "gemma2",
    "Gemma3ForCausalLM": "gemma3",
    "Gemma3ForConditionalGeneration": "gemma3",
    "Phi3ForCausalLM": "phi3",
    "GemmaForCausalLM": "gemma",
}
# Hugging Face tensor names → GGUF names (per layer: "model.layers.N." → "blk.N.")
_LAYER_NAMES = {
    "self_attn.q_proj": "attn_q",
    "self_attn.k_proj": "attn_k",
    "self_attn.v_proj": "attn_v",
    "self_attn.o_proj": "attn_output",
    "self_attn.qkv_proj": "attn_qkv",
    "mlp.gate_proj": "ffn_gate",
    "mlp.up_proj": "ffn_up",
    "mlp.down_proj": "ffn_down",
    "mlp.gate_up_proj": "ffn_up",
    "input_layernorm": "attn_norm",
    "post_attention_layernorm": "ffn_norm",
    "pre_feedforward_layernorm": "ffn_norm",
    "post_feedforward_layernorm": "post_ffw_norm",
    "self_attn.q_norm": "attn_q_norm",
    "self_attn.k_norm": "attn_k_norm",
}
_GLOBAL_NAMES = {"model.embed_tokens": "token_embd", "model.norm": "output_norm", "lm_head": "output"}
_HF_LAYER = re.compile(
    r"^(?:model\.|language_model\.model\.|model\.language_model\.)?layers\.(\d+)\.(.+)\.(weight|bias)$"
)
_REPO_ID = re.compile(r"^[A-Za-z0-9][\w.\-]*/[\w.\-]+$")


def looks_like_repo_id(text: str) -> bool:
    return bool(_REPO_ID.match(text)) and not text.endswith((".gguf", ".json", ".safetensors"))


def gguf_name(hf_name: str) -> str:
    m = _HF_LAYER.match(hf_name)
    if m:
        layer, part, kind = m.groups()
        return f"blk.{layer}.{_LAYER_NAMES.get(part, part)}.{kind}"
    stem, _, kind = hf_name.rpartition(".")
    stem = stem.removeprefix("language_model.").replace("model.language_model", "model")
    return f"{_GLOBAL_NAMES.get(stem, stem)}.{kind}"


def converted_tensor(hf_name: str, shape: list[int]) -> TensorFacts:
    """The tensor as a conversion to GGUF writes it: ggml order (row length first), F16 matrices, F32
    vectors."""
    ggml_shape = tuple(int(d) for d in reversed(shape)) or (1,)
    ggml_type = "F16" if len(ggml_shape) >= 2 else "F32"
    n = 1
    for d in ggml_shape:
        n *= d
    return TensorFacts(gguf_name(hf_name), ggml_shape, ggml_type, tensor_bytes(ggml_type, n))


def facts_from_config(
    config: dict[str, Any], shapes: dict[str, list[int]], source: str, kind: str
) -> ModelFacts:
    """ModelFacts from a config.json and the safetensors tensor shapes."""
    text = config.get("text_config") or config  # multimodal configs nest the language model's
    archs = config.get("architectures") or []
    hf_arch = archs[0] if archs else str(config.get("model_type", "?"))
    arch = HF_ARCHITECTURES.get(hf_arch)
    if arch is None:
        raise ModelInfoError(
            f"This model's architecture, {hf_arch}, is not one QuantDesk can size yet. "
            f"Supported: {', '.join(sorted(set(HF_ARCHITECTURES)))}.",
            f"{source}: config.json architectures = {archs!r}",
        )

    def need(key: str) -> Any:
        if key not in text:
            raise ModelInfoError(
                "This model's config.json is missing information QuantDesk needs to size it.",
                f"{source}: config.json has no {key!r}",
            )
        return text[key]

    n_layers = int(need("num_hidden_layers"))
    n_embd = int(need("hidden_size"))
    n_head = int(need("num_attention_heads"))
    head_dim = int(text.get("head_dim") or n_embd // n_head)
    window = text.get("sliding_window") if arch in ("gemma2", "gemma3") else None
    tensors = tuple(converted_tensor(name, shape) for name, shape in shapes.items())
    if not tensors:
        raise ModelInfoError("No model weights (safetensors files) were found.", f"{source}: no tensors")
    return ModelFacts(
        source=source,
        kind=kind,
        name=Path(source).name,
        architecture=arch,
        n_layers=n_layers,
        n_embd=n_embd,
        n_ff=int(text.get("intermediate_size", 4 * n_embd)),
        n_head=n_head,
        n_head_kv=int(text.get("num_key_value_heads") or n_head),
        head_dim_k=head_dim,
        head_dim_v=head_dim,
        context_length=int(text.get("max_position_embeddings") or 4096),
        vocab_size=int(need("vocab_size")),
        sliding_window=int(window) if window else None,
        swa_layers=swa_layout(
            arch, n_layers, int(window) if window else None, text.get("sliding_window_pattern")
        ),
        file_type=None,
        tensors=tensors,
    )


def read_folder_facts(folder: Path) -> ModelFacts:
    """Facts from a downloaded Hugging Face folder, reading only config.json and the safetensors headers."""
    from safetensors import safe_open

    config_path = folder / "config.json"
    if not config_path.is_file():
        raise ModelInfoError(
            f"{folder.name} is not a Hugging Face model folder (there is no config.json).",
            f"missing {config_path}",
        )
    try:
        config = json.loads(config_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise ModelInfoError("This model's config.json cannot be read.", f"{config_path}: {error}") from error
    shapes: dict[str, list[int]] = {}
    for path in sorted(folder.glob("*.safetensors")):
        try:
            with safe_open(str(path), framework="numpy") as f:
                for name in f.keys():  # noqa: SIM118 (safe_open is not a mapping)
                    shapes[name] = list(f.get_slice(name).get_shape())
        except Exception as error:  # SafetensorError: damaged or partial file
            raise ModelInfoError(f"{path.name} is damaged or incomplete.", f"{path}: {error}") from error
    return facts_from_config(config, shapes, str(folder), "hf-folder")


def _endpoint() -> str | None:
    return os.environ.get("HF_ENDPOINT") or None


def _hub_error(repo_id: str, error: Exception) -> ModelInfoError:
    from huggingface_hub.errors import GatedRepoError, RepositoryNotFoundError

    if isinstance(error, GatedRepoError):
        return ModelInfoError(
            f"{repo_id} is gated: accept its terms on huggingface.co and log in first.",
            f"{type(error).__name__}: {error}",
        )
    if isinstance(error, RepositoryNotFoundError):
        return ModelInfoError(
            f"There is no model called {repo_id} on Hugging Face (or it is private).",
            f"{type(error).__name__}: {error}",
        )
    return ModelInfoError(
        f"Could not read {repo_id} from Hugging Face. Check the connection and try again.",
        f"{type(error).__name__}: {error}",
    )


def read_hub_facts(repo_id: str, revision: str | None = None) -> ModelFacts:
    """Facts for a Hub repo before download: its safetensors metadata, or else its first GGUF's header."""
    from huggingface_hub import HfApi

    api = HfApi(endpoint=_endpoint())
    try:
        files = api.list_repo_files(repo_id, revision=revision)
        if "config.json" in files and any(f.endswith(".safetensors") for f in files):
            config_file = api.hf_hub_download(repo_id, "config.json", revision=revision)
            config = json.loads(Path(config_file).read_text(encoding="utf-8"))
            meta = api.get_safetensors_metadata(repo_id, revision=revision)
            shapes = {
                name: list(info.shape)
                for fm in meta.files_metadata.values()
                for name, info in fm.tensors.items()
            }
            return facts_from_config(config, shapes, repo_id, "hub-safetensors")
        ggufs = sorted(f for f in files if f.endswith(".gguf"))
        if ggufs:
            return read_hub_gguf_facts(repo_id, _prefer_gguf(ggufs), revision)
    except ModelInfoError:
        raise
    except Exception as error:  # huggingface_hub's HTTP errors, timeouts, offline
        raise _hub_error(repo_id, error) from error
    raise ModelInfoError(
        f"{repo_id} has neither safetensors weights nor GGUF files QuantDesk can read.",
        f"files: {files[:20]}",
    )


def _prefer_gguf(names: list[str]) -> str:
    """Any GGUF gives the shapes; a full-precision one gives its own size too. Split parts after the first
    are skipped."""
    singles = [n for n in names if not re.search(r"-0000[2-9]-of-|-000[1-9]\d-of-", n)] or names
    for marker in ("f16", "bf16", "q8_0"):
        for name in singles:
            if marker in name.lower():
                return name
    return singles[0]


def read_hub_gguf_facts(repo_id: str, filename: str, revision: str | None = None) -> ModelFacts:
    """Facts from a Hub GGUF's header, fetched with HTTP range reads of its first megabytes only."""
    from app.core.hub_gguf import read_remote_gguf_header  # imports huggingface_hub: only when asked

    try:
        header = read_remote_gguf_header(repo_id, filename, revision=revision)
    except QuantDeskError as error:
        raise ModelInfoError(f"{filename} in {repo_id} could not be read: {error.message}", error.detail) from error
    assert header.raw is not None
    source = f"{repo_id}/{filename}"
    return facts_from_gguf_fields(
        header.raw.fields, tensors_from_raw(header.raw.tensors, source), source, "hub-gguf", header.file_size
    )


