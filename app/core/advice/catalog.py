"""Popular instruct models (resources/popular-models.json, editable) and which of them suits this computer.

Each entry holds the shape fields of the original model's config.json. The tensor shapes follow from them by
the Hugging Face layout of the model's family (the same names and shapes the Hub's safetensors metadata
lists), and run through the converter's own planning (convert/predict.py) into the same ModelFacts a Hub repo
gives; so each level's size and memory come from the estimate the "Which quant?" page uses, not from a
second table of numbers. Parameter counts checked against the published ones: tests/core/advice/test_catalog.py.

The guide's choice (`suggest`): the largest model whose recommended level is Q4_K_M or better and whose
estimated speed is at least reading speed; else the smallest that fits at all; else none (the starter).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from app.core.advice.recommend import COMFORTABLE_TPS, QuantOption, Recommendation, recommend
from app.core.errors import ModelInfoError
from app.core.machine.hardware import HardwareReport
from app.core.models.facts import ModelFacts
from app.core.paths import config_dir, resources_dir
from app.core.progress import CancelToken, ProgressCallback, check_cancelled, no_progress

CATALOG_FILE = "popular-models.json"
GUIDE_CONTEXT = 4096  # tokens: a long conversation, and what the recommendation plans for
GOOD_LEVELS = ("F16", "Q8_0", "Q6_K", "Q5_K_M", "Q4_K_M")  # Q4_K_M or better: "about 3 % worse" at most


@dataclass(frozen=True)
class CatalogModel:
    id: str
    title: str
    maker: str
    good_for: str
    licence: str
    licence_url: str
    original_repo: str
    gguf_repo: str
    gguf_file: str  # with "{quant}" for the level: "Llama-3.2-3B-Instruct-{quant}.gguf"
    config: dict[str, Any]

    def file_for(self, quant: str) -> str:
        return self.gguf_file.replace("{quant}", quant)


@dataclass(frozen=True)
class Suggestion:
    """One catalog model on this computer: its recommendation, and whether the guide picks it."""

    model: CatalogModel
    facts: ModelFacts
    recommendation: Recommendation
    comfortable: bool  # a good level runs at reading speed or faster

    @property
    def option(self) -> QuantOption | None:
        rec = self.recommendation
        return rec.option(rec.recommended) if rec.recommended else None


def catalog_path() -> Path:
    """The person's own copy in the settings folder if there is one, else the one QuantDesk ships."""
    own = config_dir() / CATALOG_FILE
    return own if own.is_file() else resources_dir() / CATALOG_FILE


def load_catalog(path: Path | None = None) -> tuple[CatalogModel, ...]:
    path = path or catalog_path()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        models = tuple(CatalogModel(**{k: v for k, v in m.items() if k in CatalogModel.__dataclass_fields__})
                       for m in data["models"])
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise ModelInfoError("The list of popular models could not be read.",
                             f"{path}: {type(error).__name__}: {error}") from error
    return models


def _hf_tensors(config: dict[str, Any]) -> list[tuple[str, str, tuple[int, ...]]]:
    """(name, dtype, shape) of every tensor of a decoder of this config, as the Hub's safetensors list them."""
    arch = config["architectures"][0]
    h, inter, n_layers = config["hidden_size"], config["intermediate_size"], config["num_hidden_layers"]
    n_head, n_kv = config["num_attention_heads"], config.get("num_key_value_heads", config["num_attention_heads"])
    head = config.get("head_dim") or h // n_head
    vocab = config["vocab_size"]
    shapes: dict[str, tuple[int, ...]] = {"model.embed_tokens.weight": (vocab, h), "model.norm.weight": (h,)}
    if not config.get("tie_word_embeddings", False):
        shapes["lm_head.weight"] = (vocab, h)
    for i in range(n_layers):
        p = f"model.layers.{i}."
        shapes[p + "self_attn.o_proj.weight"] = (h, n_head * head)
        shapes[p + "mlp.down_proj.weight"] = (h, inter)
        shapes[p + "input_layernorm.weight"] = (h,)
        shapes[p + "post_attention_layernorm.weight"] = (h,)
        if arch == "Phi3ForCausalLM":  # fused projections
            shapes[p + "self_attn.qkv_proj.weight"] = ((n_head + 2 * n_kv) * head, h)
            shapes[p + "mlp.gate_up_proj.weight"] = (2 * inter, h)
            continue
        shapes[p + "self_attn.q_proj.weight"] = (n_head * head, h)
        shapes[p + "self_attn.k_proj.weight"] = (n_kv * head, h)
        shapes[p + "self_attn.v_proj.weight"] = (n_kv * head, h)
        shapes[p + "mlp.gate_proj.weight"] = (inter, h)
        shapes[p + "mlp.up_proj.weight"] = (inter, h)
        if arch == "Qwen2ForCausalLM":  # biases on q, k and v
            shapes[p + "self_attn.q_proj.bias"] = (n_head * head,)
            shapes[p + "self_attn.k_proj.bias"] = (n_kv * head,)
            shapes[p + "self_attn.v_proj.bias"] = (n_kv * head,)
        if arch == "Gemma2ForCausalLM":  # norms around the feed-forward too
            shapes[p + "pre_feedforward_layernorm.weight"] = (h,)
            shapes[p + "post_feedforward_layernorm.weight"] = (h,)
    return [(name, "BF16", shape) for name, shape in shapes.items()]


@cache
def _facts(config_json: str, source: str) -> ModelFacts:
    config = json.loads(config_json)
    # the converter's planning imports gguf-py: here, in the guide's background task, not at start-up
    from app.core.convert.predict import facts_from_metadata

    return facts_from_metadata(config, _hf_tensors(config), source)


def model_facts(model: CatalogModel) -> ModelFacts:
    """The facts of the GGUF file a conversion of this model would write (its F16 file), for the estimate."""
    return _facts(json.dumps(model.config, sort_keys=True), model.original_repo)


def suggestions(hardware: HardwareReport, models: tuple[CatalogModel, ...] | None = None,
                n_ctx: int = GUIDE_CONTEXT, *, on_progress: ProgressCallback = no_progress,
                cancel: CancelToken | None = None) -> list[Suggestion]:
    """Every catalog model with its recommendation on this computer, in the catalog's order (progress per
    model; Cancelled between models)."""
    found = []
    models = models if models is not None else load_catalog()
    for i, model in enumerate(models):
        check_cancelled(cancel)
        on_progress(i, len(models))
        facts = model_facts(model)
        rec = recommend(facts, hardware, min(n_ctx, facts.context_length))
        option = rec.option(rec.recommended) if rec.recommended else None
        comfortable = (option is not None and option.type in GOOD_LEVELS
                       and (option.tokens_per_second or 0.0) >= COMFORTABLE_TPS)
        found.append(Suggestion(model, facts, rec, comfortable))
    return found


def suggest(found: list[Suggestion]) -> Suggestion | None:
    """The guide's pick: the largest comfortable model; else the smallest that fits; else None."""
    comfortable = [s for s in found if s.comfortable]
    if comfortable:
        return max(comfortable, key=lambda s: s.facts.n_params)
    fitting = [s for s in found if s.option is not None]
    return min(fitting, key=lambda s: s.facts.n_params) if fitting else None
