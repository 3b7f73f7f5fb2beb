"""Phi-3, Phi-3.5 and Phi-4-mini (GGUF architecture "phi3").

Phi-3 fuses q/k/v into one projection and gate/up into another; llama.cpp's phi3 graph takes both fused,
so tensors only change names. Its rotary embedding may cover only part of each head (Phi-4-mini), and the
long-context models ("longrope") carry per-dimension rope factors, written as two extra tensors.
Phi-3/3.5 use a SentencePiece tokenizer with Phi-3's own rules for added tokens; Phi-4-mini uses BPE.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import gguf

from app.core.convert.family import ArchFamily, OutTensor, constant
from app.core.convert.supported import architectures_of
from app.core.convert.tokenizer_bpe import write_bpe_vocab
from app.core.convert.tokenizer_spm import write_spm_vocab
from app.core.errors import ConversionError, InvalidModelFolderError


class Phi3Family(ArchFamily):
    title = "Phi-3"
    hf_architectures = architectures_of(title)
    gguf_arch = gguf.MODEL_ARCH.PHI3
    config_defaults: ClassVar[dict[str, Any]] = {
        "rope_theta": 10000.0,
        "rms_norm_eps": 1e-5,
        "max_position_embeddings": 4096,
        "original_max_position_embeddings": 4096,
        "vocab_size": 32064,
    }

    @property
    def _uses_bpe(self) -> bool:
        return self.folder.read_json("tokenizer_config.json").get("tokenizer_class") == "GPT2Tokenizer"

    @property
    def _rope_dims(self) -> int:
        n_embd = self.find(["hidden_size", "n_embd"])
        n_head = self.find(["num_attention_heads", "n_head"])
        return int(self.rope.get("partial_rotary_factor", 1.0) * n_embd) // n_head

    @property
    def _original_context(self) -> int:
        if "original_max_position_embeddings" not in self.rope:
            raise InvalidModelFolderError(
                "The model's config.json is missing a setting the conversion needs.",
                "Phi-3: original_max_position_embeddings not in config.json",
            )
        context = int(self.rope["original_max_position_embeddings"])
        if context < 2:  # the long-context scale is a logarithm to this base
            raise InvalidModelFolderError(
                "The model's long-context settings in config.json don't match its shape.",
                f"Phi-3: original_max_position_embeddings = {context}",
            )
        return context

    @property
    def _rope_theta(self) -> float:
        theta: float | None = self.full_rope.get("rope_theta")
        if theta is None:
            raise InvalidModelFolderError(
                "The model's config.json is missing a setting the conversion needs.", "Phi-3: no rope_theta"
            )
        return theta

    def write_parameters(self, w: gguf.GGUFWriter, file_type: int) -> None:
        w.add_context_length(self.find(["n_positions", "max_position_embeddings"]))
        w.add_rope_scaling_orig_ctx_len(self._original_context)
        w.add_embedding_length(self.find(["hidden_size", "n_embd"]))
        w.add_feed_forward_length(self.find(["intermediate_size"]))
        w.add_block_count(self.block_count)
        w.add_head_count(self.find(["num_attention_heads", "n_head"]))
        w.add_head_count_kv(self.find(["num_key_value_heads", "n_head_kv"]))
        w.add_layer_norm_rms_eps(self.find(["rms_norm_eps"]))
        w.add_rope_dimension_count(self._rope_dims)
        w.add_rope_freq_base(self._rope_theta)
        w.add_file_type(file_type)
        # a window of 0 is how llama.cpp tells Phi-4 (no sliding window) from Phi-3
        w.add_sliding_window(self.hparams.get("sliding_window") or 0)
        if (attn_factor := self._attn_factor()) is not None:
            w.add_rope_scaling_attn_factors(attn_factor)

    def _attn_factor(self) -> float | None:
        if not self.rope.get("long_factor"):
            return None
        scale = self.find(["n_positions", "max_position_embeddings"]) / self._original_context
        kind = str(self.rope.get("rope_type", "")).lower()
        if kind in ("su", "longrope"):
            return math.sqrt(1 + math.log(scale) / math.log(self._original_context)) if scale > 1.0 else 1.0
        if kind == "yarn":
            return 0.1 * math.log(scale) + 1.0 if scale > 1.0 else 1.0
        raise ConversionError(
            "This Phi-3 model uses a kind of long-context scaling QuantDesk doesn't know.",
            f"rope_scaling type {kind!r}",
        )

    def extra_tensors(self) -> list[OutTensor]:
        long, short = self.rope.get("long_factor"), self.rope.get("short_factor")
        if not long:
            return []
        if short is None or len(long) != len(short) or len(long) != self._rope_dims / 2:
            raise InvalidModelFolderError(
                "The model's long-context settings in config.json don't match its shape.",
                f"rope long/short factors must both have {self._rope_dims // 2} values",
            )
        return [
            constant(gguf.TENSOR_NAMES[gguf.MODEL_TENSOR.ROPE_FACTORS_LONG] + ".weight", long),
            constant(gguf.TENSOR_NAMES[gguf.MODEL_TENSOR.ROPE_FACTORS_SHORT] + ".weight", short),
        ]

    def check_tokenizer(self) -> None:
        if self._uses_bpe:
            super().check_tokenizer()
        else:
            self.require_sentencepiece()

    def write_vocab(self, w: gguf.GGUFWriter) -> None:
        if self._uses_bpe:
            write_bpe_vocab(w, self.folder, self.hparams.get("vocab_size"))
        else:
            write_spm_vocab(w, self.folder, self.hparams.get("vocab_size"), phi3_rules=True)
