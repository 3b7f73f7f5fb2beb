"""Gemma 2 (GGUF architecture "gemma2").

Gemma's RMS norm multiplies by (1 + weight), llama.cpp's by weight, so 1 is added to every norm weight.
Gemma 2 also soft-caps attention and final logits and alternates sliding-window layers; llama.cpp's
converter writes its own short list of keys for it (no rope base), and so does this one.
"""

from __future__ import annotations

from typing import Any, ClassVar

import gguf
import numpy as np

from app.core.convert.family import ArchFamily, OutTensor, whole
from app.core.convert.supported import architectures_of
from app.core.convert.tokenizer_spm import write_spm_vocab
from app.core.models.hf_folder import SourceTensor


def plus_one(data: np.ndarray) -> np.ndarray:
    return data + 1  # in the tensor's own precision, as llama.cpp's converter adds it


class Gemma2Family(ArchFamily):
    title = "Gemma 2"
    hf_architectures = architectures_of(title)
    gguf_arch = gguf.MODEL_ARCH.GEMMA2
    config_defaults: ClassVar[dict[str, Any]] = {
        "head_dim": 256,
        "rope_theta": 10000.0,
        "rms_norm_eps": 1e-6,
        "max_position_embeddings": 8192,
        "sliding_window": 4096,
        "attn_logit_softcapping": 50.0,
        "final_logit_softcapping": 30.0,
        "vocab_size": 256000,
    }

    def write_parameters(self, w: gguf.GGUFWriter, file_type: int) -> None:
        hp = self.hparams
        n_head = self.find(["num_attention_heads"])
        w.add_context_length(self.find(["max_position_embeddings"]))
        w.add_embedding_length(self.find(["hidden_size"]))
        w.add_block_count(self.block_count)
        w.add_feed_forward_length(self.find(["intermediate_size"]))
        w.add_head_count(n_head)
        w.add_head_count_kv(hp.get("num_key_value_heads") or n_head)
        w.add_layer_norm_rms_eps(self.find(["rms_norm_eps"]))
        w.add_key_length(self.find(["head_dim"]))
        w.add_value_length(self.find(["head_dim"]))
        w.add_file_type(file_type)
        w.add_attn_logit_softcapping(self.find(["attn_logit_softcapping"]))
        w.add_final_logit_softcapping(self.find(["final_logit_softcapping"]))
        w.add_sliding_window(self.find(["sliding_window"]))

    def check_tokenizer(self) -> None:
        self.require_sentencepiece()

    def write_vocab(self, w: gguf.GGUFWriter) -> None:
        write_spm_vocab(w, self.folder, self.hparams.get("vocab_size"))
        w.add_add_space_prefix(False)

    def skip(self, name: str) -> bool:
        # the output head is the embedding (tied); some quantizers still store a copy llama.cpp ignores
        return name == "lm_head.weight" or super().skip(name)

    def out_tensors(self, tensor: SourceTensor) -> list[OutTensor]:
        if tensor.name.endswith("norm.weight"):
            return [whole(tensor, self.gguf_name(tensor.name), plus_one)]
        return super().out_tensors(tensor)
