"""What every architecture family shares: hyperparameters, tensor names, and the GGUF keys most models use.

A family turns the folder's config.json into GGUF metadata and each safetensors tensor into the tensor(s)
llama.cpp expects. Families follow llama.cpp's own converter (convert_hf_to_gguf.py) key for key, so a
file made here loads and behaves exactly like one made there. Tensors are described (`OutTensor`) before
any data is read: the writer needs every name, shape and type up front for the GGUF header.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

import gguf
import numpy as np

from app.core.convert.config_values import check_settings
from app.core.convert.tokenizer_bpe import write_bpe_vocab
from app.core.errors import ConversionError, InvalidModelFolderError
from app.core.models.hf_folder import HfFolder, SourceTensor

#: Tensors a checkpoint may carry that llama.cpp has no use for.
_IGNORED_SUFFIXES = (".attention.masked_bias", ".attention.bias", ".rotary_emb.inv_freq")
#: A decoder layer's index in a checkpoint tensor name ("model.layers.12.mlp.up_proj.weight").
_LAYER_INDEX = re.compile(r"(?:^|\.)layers\.(\d+)\.")
#: Parts of multimodal checkpoints (image/audio encoders) that a text GGUF leaves out.
_MULTIMODAL_MARKERS = (
    "vision_",
    "vision.",
    "visual.",
    "audio_",
    "audio.",
    "projector.",
    "multi_modal_projector",
)


@dataclass(frozen=True)
class OutTensor:
    """One tensor of the GGUF file, described before it is read.

    Either `read_rows(start, stop)` gives rows of the finished tensor (streamed in chunks), or `read()`
    gives all of it (for transforms that need the whole tensor, like the q/k permutation).
    """

    name: str
    shape: tuple[int, ...]
    dtype: np.dtype[Any]  # float32 or float16: what read/read_rows return
    read_rows: Callable[[int, int], np.ndarray] | None = None
    read: Callable[[], np.ndarray] | None = None

    @property
    def rows(self) -> int:
        return self.shape[0] if self.shape else 1

    @property
    def n_elements(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64)) if self.shape else 1


def whole(
    tensor: SourceTensor,
    name: str,
    transform: Callable[[np.ndarray], np.ndarray],
    shape: tuple[int, ...] | None = None,
) -> OutTensor:
    """An OutTensor made by reading `tensor` whole and transforming it."""
    return OutTensor(name, shape or tensor.shape, tensor.float_dtype, read=lambda: transform(tensor.read()))


def constant(name: str, values: list[float]) -> OutTensor:
    data = np.asarray(values, dtype=np.float32)
    return OutTensor(name, data.shape, data.dtype, read=lambda: data)


class ArchFamily:
    """Base of the per-family converters. Subclasses set the class attributes and override hooks."""

    #: config.json "architectures" values this family converts.
    hf_architectures: ClassVar[tuple[str, ...]] = ()
    #: The family's name for people, as shown in the list of supported architectures.
    title: ClassVar[str] = ""
    gguf_arch: ClassVar[gguf.MODEL_ARCH]

    #: Settings transformers' config class assumes when config.json leaves them out. llama.cpp's converter
    #: reads config.json through transformers, so it sees these; without them the files would differ.
    #: Source: transformers 4.57 configuration classes (LlamaConfig, Qwen2Config...).
    config_defaults: ClassVar[dict[str, Any]] = {}

    def __init__(self, folder: HfFolder) -> None:
        self.folder = folder
        config = dict(folder.config)
        check_settings(config)
        if isinstance(config.get("text_config"), dict):  # multimodal wrappers keep the LM's settings here
            check_settings(config["text_config"])
            config = {**config, **config["text_config"]}
        self.hparams = {**self.defaults(config), **config}
        self.block_count: int = self.find(["n_layers", "num_hidden_layers", "n_layer", "num_layers"])
        # gguf's name map costs 2 ms and 45 kB per layer: built for the layers the weights hold, never for a
        # count config.json claims (a damaged 4,096 would take 15 s); layers past block_count stay unknown
        self.tensor_map = gguf.get_tensor_name_map(self.gguf_arch, min(self.block_count, self._layers_held()))
        self._check_vocab_size()
        self.rope = self._rope_parameters()

    def _layers_held(self) -> int:
        """1 + the highest layer index among the checkpoint's tensors (0 without layer tensors)."""
        found = (_LAYER_INDEX.search(t.name) for t in self.folder.tensors if not self.skip(t.name))
        return max((int(m.group(1)) + 1 for m in found if m), default=0)

    def _check_vocab_size(self) -> None:
        """The vocabulary is padded to config.json's vocab_size: it must fit the embedding's rows, or a damaged
        number would make millions of padding tokens (and a file llama.cpp refuses)."""
        vocab = self.hparams.get("vocab_size")
        embedding = next((t for t in self.folder.tensors if t.name.endswith("embed_tokens.weight")), None)
        if vocab and embedding is not None and embedding.shape and vocab > embedding.shape[0]:
            raise InvalidModelFolderError(
                f"The model's config.json says it knows {vocab} tokens, but its weights have room for "
                f"{embedding.shape[0]}.",
                f"config.json vocab_size = {vocab}; {embedding.name} has shape {embedding.shape}",
            )

    def defaults(self, config: dict[str, Any]) -> dict[str, Any]:
        return dict(self.config_defaults)

    @property
    def arch_name(self) -> str:
        return gguf.MODEL_ARCH_NAMES[self.gguf_arch]

    # ---- hyperparameters ----------------------------------------------------------------------------

    def find(self, keys: list[str], optional: bool = False) -> Any:
        """The first of `keys` config.json sets (null counts as unset); InvalidModelFolderError if none is."""
        for key in keys:
            if self.hparams.get(key) is not None:
                return self.hparams[key]
        if optional:
            return None
        raise InvalidModelFolderError(
            "The model's config.json is missing a setting the conversion needs.",
            f"none of {keys} in config.json",
        )

    def setting(self, key: str, default: Any) -> Any:
        """config.json's `key`, or `default` where it is absent or null."""
        value = self.hparams.get(key)
        return default if value is None else value

    def _rope_parameters(self) -> dict[str, Any]:
        # Newer transformers keep rope settings in "rope_parameters", older ones in "rope_scaling" plus
        # top-level keys; mirror the top-level ones in, as llama.cpp does, so one dict answers.
        rope = dict(self.hparams.get("rope_parameters") or self.hparams.get("rope_scaling") or {})
        if "full_attention" in rope or "sliding_attention" in rope:
            return rope
        local_theta = self.find(
            [
                "local_rope_theta",
                "rope_local_theta",
                "rope_theta_local",
                "swa_rope_theta",
                "rope_local_base_freq",
            ],
            optional=True,
        )
        theta = self.find(
            ["global_rope_theta", "rope_global_theta", "rope_theta_global", "rope_theta", "rotary_emb_base"],
            optional=True,
        )
        if local_theta is not None:
            rope["sliding_attention"] = {"rope_theta": local_theta}
        if "rope_theta" not in rope and theta is not None:
            rope["rope_theta"] = theta
        if "rope_type" not in rope and rope.get("type") is not None:
            rope["rope_type"] = rope["type"]
        for key in ("partial_rotary_factor", "original_max_position_embeddings"):
            if key not in rope and (value := self.hparams.get(key)) is not None:
                rope[key] = value
        return rope

    @property
    def full_rope(self) -> dict[str, Any]:
        full = self.rope.get("full_attention", self.rope)
        return full if isinstance(full, dict) else {}

    # ---- metadata -----------------------------------------------------------------------------------

    def write_parameters(self, w: gguf.GGUFWriter, file_type: int) -> None:
        """The keys llama.cpp's TextModel writes for any transformer."""
        w.add_block_count(self.block_count)
        optional: list[tuple[list[str], Callable[[Any], None]]] = [
            (
                [
                    "max_position_embeddings",
                    "n_ctx",
                    "n_positions",
                    "max_length",
                    "max_sequence_length",
                    "model_max_length",
                ],
                w.add_context_length,
            ),
            (["hidden_size", "n_embd", "dim"], w.add_embedding_length),
            (["intermediate_size", "n_inner", "hidden_dim"], w.add_feed_forward_length),
            (["num_attention_heads", "n_head", "n_heads"], w.add_head_count),
            (["num_key_value_heads", "n_kv_heads"], w.add_head_count_kv),
        ]
        for keys, add in optional:
            if (value := self.find(keys, optional=True)) is not None:
                add(value)
        self._write_rope_scaling(w)
        if (theta := self.full_rope.get("rope_theta")) is not None:
            w.add_rope_freq_base(theta)
        if (local := self.rope.get("sliding_attention", {}).get("rope_theta")) is not None:
            w.add_rope_freq_base_swa(local)
        if (eps := self.find(["rms_norm_eps", "norm_eps"], optional=True)) is not None:
            w.add_layer_norm_rms_eps(eps)
        if (head_dim := self.hparams.get("head_dim")) is not None:
            w.add_key_length(head_dim)
            w.add_value_length(head_dim)
        w.add_file_type(file_type)

    def _write_rope_scaling(self, w: gguf.GGUFWriter) -> None:
        rope = self.full_rope
        kind, factor = rope.get("rope_type"), rope.get("factor")
        if kind == "linear" and factor is not None:
            w.add_rope_scaling_type(gguf.RopeScalingType.LINEAR)
            w.add_rope_scaling_factor(factor)
        elif kind == "yarn" and factor is not None:
            w.add_rope_scaling_type(gguf.RopeScalingType.YARN)
            w.add_rope_scaling_factor(factor)
            w.add_rope_scaling_orig_ctx_len(rope["original_max_position_embeddings"])
            for key, add in (
                ("extrapolation_factor", w.add_rope_scaling_yarn_ext_factor),
                ("beta_fast", w.add_rope_scaling_yarn_beta_fast),
                ("beta_slow", w.add_rope_scaling_yarn_beta_slow),
            ):
                if (value := rope.get(key)) is not None:
                    add(value)
            if (attn := rope.get("attention_factor", rope.get("attn_factor"))) is not None:
                w.add_rope_scaling_yarn_attn_factor(attn)
        elif kind in ("su", "longrope"):
            w.add_rope_scaling_type(gguf.RopeScalingType.LONGROPE)

    def check_tokenizer(self) -> None:
        """Raise InvalidModelFolderError when the files this family's tokenizer needs are absent."""
        if not self.folder.has_file("tokenizer.json"):
            raise InvalidModelFolderError(
                "The model folder has no tokenizer (tokenizer.json is missing), so the model could not "
                "read or write text. Download the whole model folder again.",
                f"missing {self.folder.path / 'tokenizer.json'}",
            )

    def require_sentencepiece(self) -> None:
        if not self.folder.has_file("tokenizer.model"):
            raise InvalidModelFolderError(
                f"The model folder has no tokenizer (tokenizer.model is missing); {self.title} models "
                "need it to read and write text. Download the whole model folder again.",
                f"missing {self.folder.path / 'tokenizer.model'}",
            )

    def write_vocab(self, w: gguf.GGUFWriter) -> None:
        write_bpe_vocab(w, self.folder, self.hparams.get("vocab_size"))

    # ---- tensors ------------------------------------------------------------------------------------

    def skip(self, name: str) -> bool:
        return name.endswith(_IGNORED_SUFFIXES) or any(marker in name for marker in _MULTIMODAL_MARKERS)

    def gguf_name(self, name: str) -> str:
        # multimodal wrappers nest the language model under "language_model."
        mapped = self.tensor_map.get_name(
            name.replace("language_model.", ""), try_suffixes=(".weight", ".bias")
        )
        if mapped is None:
            raise ConversionError(
                f"This {self.title} model has a part QuantDesk does not know how to convert.",
                f"no GGUF name for tensor {name!r} (architecture {self.arch_name})",
            )
        return mapped

    def extra_tensors(self) -> list[OutTensor]:
        """Tensors computed from config.json rather than read (rope factors), written first."""
        return []

    def out_tensors(self, tensor: SourceTensor) -> list[OutTensor]:
        """The GGUF tensor(s) made from one checkpoint tensor; the default renames it and streams it."""
        return [
            OutTensor(
                self.gguf_name(tensor.name), tensor.shape, tensor.float_dtype, read_rows=tensor.read_rows
            )
        ]
