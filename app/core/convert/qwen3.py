"""Qwen3 dense models (GGUF architecture "qwen3").

Qwen2's layout without the q/k/v biases and with an RMS norm on q and k (attn_q_norm/attn_k_norm) and an
explicit head_dim; the common machinery maps all of it, so only the architecture differs.
"""

from __future__ import annotations

from typing import Any, ClassVar

import gguf

from app.core.convert.qwen2 import Qwen2Family
from app.core.convert.supported import architectures_of


class Qwen3Family(Qwen2Family):
    title = "Qwen3"
    hf_architectures = architectures_of(title)
    gguf_arch = gguf.MODEL_ARCH.QWEN3
    config_defaults: ClassVar[dict[str, Any]] = {**Qwen2Family.config_defaults, "head_dim": 128}
