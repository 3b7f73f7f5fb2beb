"""Gemma 3, text part (GGUF architecture "gemma3"): Gemma3ForCausalLM, and the language model of
Gemma3ForConditionalGeneration (its image encoder is left out).

Like Gemma 2, norm weights get +1 (Gemma's norm multiplies by 1 + weight), q/k norms included. Gemma 3
keeps separate rope bases for global and sliding-window layers, and its embedding may have more rows than
the tokenizer has tokens: llama.cpp trims those rows, and so does this.
"""

from __future__ import annotations

from typing import Any, ClassVar

import gguf

from app.core.convert.family import ArchFamily, OutTensor, whole
from app.core.convert.gemma2 import plus_one
from app.core.convert.supported import architectures_of
from app.core.convert.tokenizer_bpe import write_bpe_vocab
from app.core.convert.tokenizer_spm import write_spm_vocab
from app.core.models.hf_folder import SourceTensor


class Gemma3Family(ArchFamily):
    title = "Gemma 3"
    hf_architectures = architectures_of(title)
    gguf_arch = gguf.MODEL_ARCH.GEMMA3
    config_defaults: ClassVar[dict[str, Any]] = {
        "head_dim": 256,
        "rope_theta": 1000000.0,
        "rms_norm_eps": 1e-6,
        "max_position_embeddings": 131072,
        "sliding_window": 4096,
        "rope_local_base_freq": 10000.0,
        "vocab_size": 262208,
    }

    def write_parameters(self, w: gguf.GGUFWriter, file_type: int) -> None:
        super().write_parameters(w, file_type)
        hp = self.hparams
        # llama.cpp's converter writes these again with Gemma 3's defaults; the later value wins
        replace = {
            gguf.Keys.LLM.CONTEXT_LENGTH: self.setting("max_position_embeddings", 131072),
            gguf.Keys.Attention.HEAD_COUNT: self.setting("num_attention_heads", 8),
            gguf.Keys.Attention.LAYERNORM_RMS_EPS: self.setting("rms_norm_eps", 1e-6),
            gguf.Keys.Attention.KEY_LENGTH: self.setting("head_dim", 256),
            gguf.Keys.Attention.VALUE_LENGTH: self.setting("head_dim", 256),
            gguf.Keys.Rope.FREQ_BASE: self.full_rope.get("rope_theta", 1_000_000.0),
        }
        for key in replace:
            w.kv_data[0].pop(key.format(arch=self.arch_name), None)
        w.add_context_length(replace[gguf.Keys.LLM.CONTEXT_LENGTH])
        w.add_head_count(replace[gguf.Keys.Attention.HEAD_COUNT])
        w.add_layer_norm_rms_eps(replace[gguf.Keys.Attention.LAYERNORM_RMS_EPS])
        w.add_key_length(replace[gguf.Keys.Attention.KEY_LENGTH])
        w.add_value_length(replace[gguf.Keys.Attention.VALUE_LENGTH])
        w.add_rope_freq_base(replace[gguf.Keys.Rope.FREQ_BASE])
        if final_softcap := hp.get("final_logit_softcapping"):
            w.add_final_logit_softcapping(final_softcap)
        if hp.get("sliding_window_pattern") != 1:
            w.add_sliding_window(self.find(["sliding_window"]))
        w.kv_data[0].pop(gguf.Keys.Attention.HEAD_COUNT_KV.format(arch=self.arch_name), None)
        w.add_head_count_kv(self.setting("num_key_value_heads", 4))

    def check_tokenizer(self) -> None:
        if not self.folder.has_file("tokenizer.model"):
            super().check_tokenizer()

    def write_vocab(self, w: gguf.GGUFWriter) -> None:
        if self.folder.has_file("tokenizer.model"):
            write_spm_vocab(w, self.folder, self.hparams.get("vocab_size"))
            w.add_add_space_prefix(False)
        else:
            write_bpe_vocab(w, self.folder, self.hparams.get("vocab_size"))

    def _tokenizer_size(self) -> int:
        if self.folder.has_file("tokenizer.model"):
            if (size := self.hparams.get("vocab_size")) is not None:
                return int(size)
            from sentencepiece import SentencePieceProcessor

            processor = SentencePieceProcessor()
            processor.LoadFromFile(str(self.folder.path / "tokenizer.model"))
            return int(processor.vocab_size())
        tokenizer = self.folder.read_json("tokenizer.json")
        return len(tokenizer.get("model", {}).get("vocab", {})) + len(tokenizer.get("added_tokens", []))

    def out_tensors(self, tensor: SourceTensor) -> list[OutTensor]:
        if "embed_tokens.weight" in tensor.name:
            rows = min(tensor.shape[0], self._tokenizer_size())
            return [
                OutTensor(
                    self.gguf_name(tensor.name),
                    (rows, *tensor.shape[1:]),
                    tensor.float_dtype,
                    read_rows=tensor.read_rows,
                )
            ]
        if tensor.name.endswith("norm.weight"):
            return [whole(tensor, self.gguf_name(tensor.name), plus_one)]
        return super().out_tensors(tensor)
