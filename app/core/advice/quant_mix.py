"""Which ggml block type llama.cpp's quantizer gives each tensor for a whole-file type such as Q4_K_M.

A file type is a recipe, not one block type: Q4_K_M keeps some attn_v and ffn_down tensors at Q6_K, the
token embedding and output layer get their own rules, and a row whose length is not a multiple of a
block type's block size falls back to a legacy type. These rules were learned by reading llama.cpp's
src/llama-quant.cpp (the tensor-type selection and its fallback table) and are checked in the tests
against files the installed llama.cpp really wrote. Only the recipes QuantDesk offers without an
importance matrix are covered in detail; other types get their main block type with the fallback rule.
"""

from __future__ import annotations

from app.core.models.facts import ModelFacts, TensorFacts
from app.core.quants import QuantType, block_size, tensor_bytes

# A k-quant or i-quant whose block does not divide a row falls back to this type (llama-quant.cpp).
FALLBACK = {
    "Q2_K": "Q4_0",
    "Q3_K": "Q4_0",
    "Q4_K": "Q5_0",
    "Q5_K": "Q5_1",
    "Q6_K": "Q8_0",
    "IQ1_S": "IQ4_NL",
    "IQ1_M": "IQ4_NL",
    "IQ2_XXS": "IQ4_NL",
    "IQ2_XS": "IQ4_NL",
    "IQ2_S": "IQ4_NL",
    "IQ3_XXS": "IQ4_NL",
    "IQ3_S": "IQ4_NL",
    "IQ4_XS": "IQ4_NL",
}
FLOAT_TYPES = frozenset({"F32", "F16", "BF16"})
# Substrings of 2-D weights that llama.cpp never quantizes (small or precision-critical).
_NEVER_QUANTIZED = (
    "_norm.weight",
    "ffn_gate_inp.weight",
    "altup",
    "laurel",
    "per_layer_model_proj",
    "ssm_conv1d",
    "attn_rel_b.weight",
    "position_embd",
    "token_types",
)


def use_more_bits(i_layer: int, n_layers: int) -> bool:
    """The layers the _M recipes keep at more bits: the first and last eighth, and every third between."""
    return i_layer < n_layers // 8 or i_layer >= 7 * n_layers // 8 or (i_layer - n_layers // 8) % 3 == 2


def _category(name: str) -> str:
    if name == "output.weight":
        return "output"
    if name in ("token_embd.weight", "per_layer_token_embd.weight"):
        return "token_embd"
    # fused Q/K/V and MLA's kv_b are treated as attn_v (llama.cpp's category_is_attn_v)
    for key, category in (
        ("attn_qkv.weight", "attn_v"),
        ("attn_kv_b.weight", "attn_v"),
        ("attn_v.weight", "attn_v"),
        ("attn_k.weight", "attn_k"),
        ("attn_q.weight", "attn_q"),
        ("attn_output.weight", "attn_output"),
        ("ffn_up", "ffn_up"),
        ("ffn_gate", "ffn_gate"),
        ("ffn_down", "ffn_down"),
    ):
        if key in name:
            return category
    return "other"


def is_quantizable(t: TensorFacts) -> bool:
    """llama.cpp quantizes 2-D and 3-D weights only, and never norms, routers or a few tiny tables."""
    shape = list(t.shape)
    while len(shape) > 1 and shape[-1] == 1:  # ggml_n_dims: trailing 1s do not count
        shape.pop()
    if len(shape) < 2:
        return False
    return t.name.endswith("weight") and not any(s in t.name for s in _NEVER_QUANTIZED)


def _fits(ggml_type: str, row: int) -> bool:
    return row % block_size(ggml_type)[0] == 0


def _recipe_type(facts: ModelFacts, t: TensorFacts, level: QuantType, tied: bool) -> str:
    """The type the recipe asks for, before the row-length fallback (llama_tensor_get_type's rules)."""
    name, ft, main = level.name, level.name, level.main_type
    category = _category(t.name)
    n_layers = facts.n_layers
    layer = t.layer if t.layer is not None else 0
    gqa = facts.n_head // max(1, facts.n_head_kv)
    if category == "output" or (tied and category == "token_embd"):
        # The output layer (or a token embedding that doubles as it) gets more bits: Q6_K, or Q8_0
        # when its rows do not fit a k-quant block (or for Falcon).
        if facts.architecture == "falcon" or not _fits(main, t.shape[0]):
            return "Q8_0"
        return main if main == "Q8_0" else "Q6_K"
    if category == "token_embd":
        return main
    if category == "attn_v":
        if ft == "Q2_K":
            return "Q4_K" if gqa >= 4 else "Q3_K"
        if ft == "Q2_K_S" and gqa >= 4:
            return "Q4_K"
        if ft == "Q3_K_M":
            return "Q5_K" if layer < 2 else "Q4_K"
        if ft == "Q3_K_L":
            return "Q5_K"
        if ft in ("IQ4_NL", "IQ4_XS") and gqa >= 4:
            return "Q5_K"
        if ft in ("Q4_K_M", "Q5_K_M") and use_more_bits(layer, n_layers):
            return "Q6_K"
        if ft == "Q4_K_S" and layer < 4:
            return "Q5_K"
        return main
    if category == "ffn_down":
        if ft == "Q2_K":
            return "Q3_K"
        if ft == "Q2_K_S" and layer < n_layers // 8:
            return "Q4_K"
        if ft == "Q3_K_M":
            if layer < n_layers // 16:
                return "Q5_K"
            return "Q4_K" if facts.architecture != "falcon" or use_more_bits(layer, n_layers) else "Q3_K"
        if ft == "Q3_K_L":
            return "Q4_K" if facts.architecture == "falcon" else "Q5_K"
        if ft == "Q4_K_M":
            if facts.architecture == "falcon":
                return (
                    "Q6_K" if layer < n_layers // 16 else "Q5_K" if use_more_bits(layer, n_layers) else "Q4_K"
                )
            return "Q6_K" if use_more_bits(layer, n_layers) else main
        if ft in ("IQ4_NL", "IQ4_XS") and layer < n_layers // 8:
            return "Q5_K"
        if ft == "Q5_K_M" and use_more_bits(layer, n_layers):
            return "Q6_K"
        if ft == "Q4_K_S" and facts.architecture != "falcon" and layer < n_layers // 8:
            return "Q5_K"
        return main
    if category == "attn_output" and facts.architecture != "falcon" and facts.n_expert != 8:
        return {"Q2_K": "Q3_K", "Q3_K_M": "Q4_K", "Q3_K_L": "Q5_K"}.get(name, main)
    return main


def tensor_type(facts: ModelFacts, t: TensorFacts, level: QuantType) -> str:
    """The ggml type tensor `t` gets when the model is written as `level` (from an F16/BF16/F32 source)."""
    if not is_quantizable(t):
        return "F32" if t.ggml_type in FLOAT_TYPES or len(t.shape) < 2 else t.ggml_type
    main = level.main_type
    if main in FLOAT_TYPES:
        return main
    tied = not facts.has_output_tensor
    chosen = _recipe_type(facts, t, level, tied)
    if not _fits(chosen, t.shape[0]):
        chosen = FALLBACK.get(chosen, "F16")
        if not _fits(chosen, t.shape[0]):
            chosen = "F16"
    return chosen


def predict_tensors(facts: ModelFacts, level: QuantType) -> tuple[TensorFacts, ...]:
    """Every tensor of the model as llama.cpp would write it at `level`, with exact bytes."""
    out = []
    for t in facts.tensors:
        ggml_type = tensor_type(facts, t, level)
        out.append(TensorFacts(t.name, t.shape, ggml_type, tensor_bytes(ggml_type, t.n_elements)))
    return tuple(out)
