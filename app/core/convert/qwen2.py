"""Qwen2 and Qwen2.5, and DeepSeek-R1-Distill-Qwen (GGUF architecture "qwen2").

A plain transformer with biases on q/k/v: the common keys and tensor names cover it. Its tokenizer is
byte-level BPE (tokenizer.json); a SentencePiece tokenizer.model is used instead when one is present,
as llama.cpp does.
"""

from __future__ import annotations

from typing import Any, ClassVar

import gguf

from app.core.convert.family import ArchFamily
from app.core.convert.supported import architectures_of
from app.core.convert.tokenizer_spm import write_spm_vocab


class Qwen2Family(ArchFamily):
    title = "Qwen2"
    hf_architectures = architectures_of(title)
    gguf_arch = gguf.MODEL_ARCH.QWEN2
    config_defaults: ClassVar[dict[str, Any]] = {
        "rope_theta": 10000.0,
        "rms_norm_eps": 1e-6,
        "max_position_embeddings": 32768,
        "vocab_size": 151936,
    }

    def check_tokenizer(self) -> None:
        if not self.folder.has_file("tokenizer.model"):
            super().check_tokenizer()

    def write_vocab(self, w: gguf.GGUFWriter) -> None:
        if self.folder.has_file("tokenizer.model"):
            write_spm_vocab(w, self.folder, self.hparams.get("vocab_size"))
        else:
            super().write_vocab(w)
