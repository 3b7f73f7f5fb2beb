"""The config.json settings the conversion reads, checked before any of them is used.

config.json comes from outside. A setting of the wrong type or size must stop a conversion (or a size
estimate) with a plain-words error that names it, not a TypeError deep in the GGUF writer, and no number may
size anything before it is known to be plausible. The bounds are model facts' (models/facts.py), far beyond
any real model; settings the GGUF file stores as 32-bit floats must fit one. Settings the converter never
reads are left alone, whatever they hold.
"""

from __future__ import annotations

import math
from typing import Any

from app.core.errors import InvalidModelFolderError
from app.core.models.facts import MAX_CONTEXT, MAX_FF, MAX_HEADS, MAX_LAYERS, MAX_VOCAB, MAX_WIDTH

FLOAT32_MAX = 3.4028234663852886e38

#: Whole-number settings → (lowest, highest). Absent or null is left to the converter (defaults, or "missing").
COUNTS: dict[str, tuple[int, int]] = {
    **dict.fromkeys(("n_layers", "num_hidden_layers", "n_layer", "num_layers"), (1, MAX_LAYERS)),
    **dict.fromkeys(("hidden_size", "n_embd", "dim", "head_dim"), (1, MAX_WIDTH)),
    **dict.fromkeys(("intermediate_size", "n_inner", "hidden_dim"), (1, MAX_FF)),
    **dict.fromkeys(("num_attention_heads", "n_head", "n_heads", "num_key_value_heads", "n_kv_heads",
                     "n_head_kv"), (1, MAX_HEADS)),
    "vocab_size": (1, MAX_VOCAB),
    **dict.fromkeys(("max_position_embeddings", "n_ctx", "n_positions", "max_length", "max_sequence_length",
                     "model_max_length", "original_max_position_embeddings"), (1, MAX_CONTEXT)),
    "sliding_window": (0, MAX_CONTEXT),
    "sliding_window_pattern": (0, MAX_LAYERS),
}
#: Settings written as 32-bit floats → must they be above zero? (Otherwise zero or more.)
POSITIVE_NUMBERS: dict[str, bool] = {
    **dict.fromkeys(("rope_theta", "rotary_emb_base", "global_rope_theta", "rope_global_theta",
                     "rope_theta_global", "local_rope_theta", "rope_local_theta", "rope_theta_local",
                     "swa_rope_theta", "rope_local_base_freq", "partial_rotary_factor", "factor",
                     "low_freq_factor", "high_freq_factor"), True),
    **dict.fromkeys(("rms_norm_eps", "norm_eps", "attn_logit_softcapping", "final_logit_softcapping",
                     "attention_factor", "attn_factor", "beta_fast", "beta_slow", "extrapolation_factor"), False),
}
ROPE_TABLES = ("rope_scaling", "rope_parameters")
ROPE_NESTED = ("full_attention", "sliding_attention")
ROPE_LISTS = ("long_factor", "short_factor")
#: gguf's SpecialVocab reads these from config.json: a token id, a list of them, or null.
TOKEN_IDS = tuple(f"{kind}_token_id" for kind in ("bos", "eos", "unk", "sep", "pad", "cls", "mask"))


def _refuse(key: str, value: Any, expected: str) -> InvalidModelFolderError:
    shown = repr(value)
    shown = shown if len(shown) <= 40 else shown[:37] + "..."
    return InvalidModelFolderError(
        f"The model's config.json is damaged: its setting {key!r} is {shown}, where {expected} belongs.",
        f"config.json {key} = {repr(value)[:200]}",
    )


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def check_count(key: str, value: Any) -> None:
    low, high = COUNTS[key]
    if value is not None and (not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high):
        raise _refuse(key, value, f"a whole number from {low:,} to {high:,}")


def check_number(key: str, value: Any, positive: bool) -> None:
    if value is None:
        return
    if not _is_number(value) or not math.isfinite(value) or abs(value) > FLOAT32_MAX or value < 0 or (
        positive and value == 0
    ):
        raise _refuse(key, value, "a number above zero" if positive else "a number of zero or more")


def check_rope(key: str, rope: Any, depth: int = 0) -> None:
    """A rope_scaling / rope_parameters table: null, or a table of the kinds of values llama.cpp reads."""
    if rope is None:
        return
    if not isinstance(rope, dict):
        raise _refuse(key, rope, "a table of rope settings")
    for name in ("rope_type", "type"):
        if rope.get(name) is not None and not isinstance(rope[name], str):
            raise _refuse(f"{key}.{name}", rope[name], "the name of a rope kind")
    for name, positive in POSITIVE_NUMBERS.items():
        check_number(f"{key}.{name}", rope.get(name), positive)
    if "original_max_position_embeddings" in rope:
        check_count("original_max_position_embeddings", rope["original_max_position_embeddings"])
    for name in ROPE_LISTS:
        values = rope.get(name)
        if values is not None and not (isinstance(values, list) and len(values) <= MAX_WIDTH
                                       and all(_is_number(v) and math.isfinite(v) for v in values)):
            raise _refuse(f"{key}.{name}", values, "a list of numbers")
    for name in ROPE_NESTED:
        if name in rope and depth == 0:
            check_rope(f"{key}.{name}", rope[name], depth + 1)


def check_token_ids(config: dict[str, Any]) -> None:
    for key in TOKEN_IDS:
        value = config.get(key)
        ids = value if isinstance(value, list) else [value]
        if not all(v is None or (isinstance(v, int) and not isinstance(v, bool) and 0 <= v < MAX_VOCAB)
                   for v in ids):
            raise _refuse(key, value, "a token number (or a list of them)")


def check_settings(config: dict[str, Any]) -> None:
    """Every setting the conversion reads, in `config` (config.json, or its text_config merged in)."""
    for key, value in config.items():
        if key in COUNTS:
            check_count(key, value)
        elif key in POSITIVE_NUMBERS:
            check_number(key, value, POSITIVE_NUMBERS[key])
        elif key in ROPE_TABLES:
            check_rope(key, value)
    check_token_ids(config)
