"""llama.cpp's context parameters from QuantDesk's one set of context settings (app/core/context_settings.py).

Runs inside the engine process only (it imports llama_cpp).
"""

from __future__ import annotations

import llama_cpp as L

from app.core.context_settings import ContextSettings

# ggml_type values of the cache types QuantDesk may ask for (ggml.h)
_GGML_TYPES = {"F32": 0, "F16": 1, "Q4_0": 2, "Q8_0": 8, "BF16": 30}


def context_params(settings: ContextSettings) -> L.llama_context_params:
    """Every field QuantDesk relies on set explicitly; the rest stay llama.cpp's defaults."""
    params = L.llama_context_default_params()
    params.n_ctx = settings.n_ctx
    params.n_batch = settings.n_batch
    params.n_ubatch = settings.n_ubatch
    params.n_seq_max = 1
    params.n_outputs_max = settings.n_outputs_max
    params.n_threads = settings.n_threads
    params.n_threads_batch = settings.n_threads_batch
    params.flash_attn_type = (
        L.LLAMA_FLASH_ATTN_TYPE_ENABLED if settings.flash_attn else L.LLAMA_FLASH_ATTN_TYPE_DISABLED
    )
    params.type_k = _GGML_TYPES[settings.kv_type]
    params.type_v = _GGML_TYPES[settings.kv_type]
    params.swa_full = settings.swa_full
    params.offload_kqv = settings.offload_kqv
    params.op_offload = True
    params.kv_unified = False
    params.embeddings = False
    params.no_perf = True
    return params
