"""The Llama family: Llama 2 and 3.x, Mistral 7B, SmolLM/SmolLM2 (GGUF architecture "llama").

Two things differ from the plain transformer: Hugging Face stores the q and k projections with the
rotary halves split ("rotate_half"), while llama.cpp expects them interleaved, so their rows are
permuted; and Llama 3.1+'s "llama3" rope scaling becomes a rope_freqs tensor computed from config.json.
"""

from __future__ import annotations

import math
from typing import Any

import gguf
import numpy as np

from app.core.convert.family import ArchFamily, OutTensor, constant, whole
from app.core.convert.supported import architectures_of
from app.core.convert.tokenizer_bpe import write_bpe_vocab
from app.core.convert.tokenizer_spm import write_spm_vocab
from app.core.errors import InvalidModelFolderError
from app.core.models.hf_folder import SourceTensor

#: SmolLM2 and Granite's small models share this vocabulary size; llama.cpp turns BOS off for them.
_NO_BOS_VOCAB_SIZE = 49152


def permute_rows(weights: np.ndarray, n_head: int) -> np.ndarray:
    """HF's split-halves rotary layout → llama.cpp's interleaved layout, per head (rows only)."""
    rows = weights.shape[0]
    return (
        weights.reshape(n_head, 2, rows // n_head // 2, *weights.shape[1:])
        .swapaxes(1, 2)
        .reshape(weights.shape)
    )


def unpermute_rows(weights: np.ndarray, n_head: int) -> np.ndarray:
    """The inverse of permute_rows: llama.cpp's layout → Hugging Face's."""
    rows = weights.shape[0]
    return (
        weights.reshape(n_head, rows // n_head // 2, 2, *weights.shape[1:])
        .swapaxes(1, 2)
        .reshape(weights.shape)
    )


class LlamaFamily(ArchFamily):
    title = "Llama"
    hf_architectures = architectures_of(title)
    gguf_arch = gguf.MODEL_ARCH.LLAMA

    def defaults(self, config: dict[str, Any]) -> dict[str, Any]:
        if config.get("model_type") == "mistral":
            return {
                "rope_theta": 10000.0,
                "rms_norm_eps": 1e-6,
                "max_position_embeddings": 131072,
                "vocab_size": 32000,
            }
        values = {
            "rope_theta": 10000.0,
            "rms_norm_eps": 1e-6,
            "max_position_embeddings": 2048,
            "vocab_size": 32000,
        }
        if config.get("hidden_size") and config.get("num_attention_heads"):  # checked whole numbers, or null
            values["head_dim"] = config["hidden_size"] // config["num_attention_heads"]  # LlamaConfig's rule
        return values

    def write_parameters(self, w: gguf.GGUFWriter, file_type: int) -> None:
        super().write_parameters(w, file_type)
        w.add_vocab_size(self.find(["vocab_size"]))
        w.add_rope_dimension_count(self._head_dim)

    @property
    def _head_dim(self) -> int:
        head_dim: int = self.hparams.get("head_dim") or self.find(["hidden_size"]) // self._n_head
        return head_dim

    @property
    def _n_head(self) -> int:
        n_head: int = self.find(["num_attention_heads"])
        return n_head

    def check_tokenizer(self) -> None:
        if not self.folder.has_file("tokenizer.model"):
            super().check_tokenizer()

    def write_vocab(self, w: gguf.GGUFWriter) -> None:
        config = self.folder.read_json("tokenizer_config.json")
        if (add_prefix_space := config.get("add_prefix_space")) is not None:
            w.add_add_space_prefix(add_prefix_space)
        if self.folder.has_file("tokenizer.model"):
            write_spm_vocab(w, self.folder, self.hparams.get("vocab_size"))
        else:
            write_bpe_vocab(w, self.folder, self.hparams.get("vocab_size"))
        if self.hparams.get("vocab_size") == _NO_BOS_VOCAB_SIZE:
            w.kv_data[0].pop(gguf.Keys.Tokenizer.ADD_BOS, None)  # replaces the tokenizer's own setting
            w.add_add_bos_token(False)

    def out_tensors(self, tensor: SourceTensor) -> list[OutTensor]:
        n_head = self._n_head
        n_kv = self.hparams.get("num_key_value_heads") or n_head
        for suffix, heads in (("q_proj", n_head), ("k_proj", n_kv)):
            if tensor.name.endswith((f"{suffix}.weight", f"{suffix}.bias")) and tensor.shape[:1] and (
                tensor.shape[0] % (2 * heads)
            ):
                raise InvalidModelFolderError(
                    "The model's config.json does not match its weights: their rows can't be split into "
                    f"{heads} attention heads.",
                    f"{tensor.name} has shape {tensor.shape}; config.json says {heads} heads",
                )
        if tensor.name.endswith(("q_proj.weight", "q_proj.bias")):
            return [whole(tensor, self.gguf_name(tensor.name), lambda a: permute_rows(a, n_head))]
        if tensor.name.endswith(("k_proj.weight", "k_proj.bias")):
            return [whole(tensor, self.gguf_name(tensor.name), lambda a: permute_rows(a, n_kv))]
        return super().out_tensors(tensor)

    def extra_tensors(self) -> list[OutTensor]:
        rope = self.full_rope
        if str(rope.get("rope_type", "")).lower() != "llama3":
            return []
        base = rope.get("rope_theta", 10000.0)
        dim = self._head_dim
        factor = rope.get("factor", 8.0)
        low, high = rope.get("low_freq_factor", 1.0), rope.get("high_freq_factor", 4.0)
        old_ctx = rope.get("original_max_position_embeddings", 8192)
        low_wavelen, high_wavelen = old_ctx / low, old_ctx / high
        freqs = 1.0 / (base ** (np.arange(0, dim, 2, dtype=np.float32) / dim))
        factors: list[float] = []
        # float32 throughout, and scalar/tensor as reciprocal-then-multiply, the way torch evaluates
        # llama.cpp's converter: the factors then match it bit for bit
        for freq in freqs:
            wavelen = np.reciprocal(freq) * np.float32(2 * math.pi)
            if wavelen < high_wavelen:
                factors.append(1.0)
            elif wavelen > low_wavelen:
                factors.append(factor)
            else:
                smooth = (np.reciprocal(wavelen) * np.float32(old_ctx) - np.float32(low)) / np.float32(
                    high - low
                )
                factors.append(float(np.reciprocal((1 - smooth) / np.float32(factor) + smooth)))
        return [constant(gguf.TENSOR_NAMES[gguf.MODEL_TENSOR.ROPE_FREQS] + ".weight", factors)]
