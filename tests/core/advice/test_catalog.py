"""The popular-models list: real shapes (parameter counts and file sizes as published), and the guide's pick."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from app.core.advice.catalog import (
    GOOD_LEVELS,
    catalog_path,
    load_catalog,
    model_facts,
    suggest,
    suggestions,
)
from app.core.advice.estimate import estimate_memory
from app.core.errors import ModelInfoError
from app.core.quants import BY_NAME
from tests.core.advice.test_recommend import machine

# Parameters as the model cards state them, and each Q4_K_M file's size as the Hub lists it (bartowski's repos)
PUBLISHED = {
    "llama-3.2-1b-instruct": (1.24e9, 0.81e9),
    "qwen2.5-1.5b-instruct": (1.54e9, 0.986e9),
    "llama-3.2-3b-instruct": (3.21e9, 2.02e9),
    "phi-3.5-mini-instruct": (3.82e9, 2.39e9),
    "mistral-7b-instruct-v0.3": (7.25e9, 4.37e9),
    "qwen2.5-7b-instruct": (7.62e9, 4.68e9),
    "gemma-2-9b-it": (9.24e9, 5.76e9),
}


def test_the_shipped_list_names_popular_models_with_licences() -> None:
    models = {m.id: m for m in load_catalog()}
    assert set(PUBLISHED) == set(models)
    for m in models.values():
        assert m.licence and m.licence_url.startswith("https://") and "{quant}" in m.gguf_file
        assert m.file_for("Q4_K_M").endswith("-Q4_K_M.gguf") and "/" in m.gguf_repo
    assert models["qwen2.5-7b-instruct"].licence == "Apache-2.0"
    assert models["phi-3.5-mini-instruct"].licence == "MIT"


@pytest.mark.parametrize("model_id", sorted(PUBLISHED))
def test_sizes_follow_from_the_shapes_as_published(model_id: str) -> None:
    model = next(m for m in load_catalog() if m.id == model_id)
    params, q4_file = PUBLISHED[model_id]
    facts = model_facts(model)
    assert facts.n_params == pytest.approx(params, rel=0.01)
    assert estimate_memory(facts, BY_NAME["Q4_K_M"], 4096).file_bytes == pytest.approx(q4_file, rel=0.01)


def test_a_roomy_gpu_gets_the_biggest_model_and_a_small_laptop_a_small_one() -> None:
    big = suggest(suggestions(machine(ram_free=30, gpu_free=23.5)))
    assert big is not None and big.model.id == "gemma-2-9b-it" and big.option is not None
    assert big.option.placement == "gpu" and big.option.type in GOOD_LEVELS
    laptop = suggest(suggestions(machine(ram_free=6, cores=4)))
    assert laptop is not None and laptop.facts.n_params < 4e9 and laptop.comfortable


def test_nothing_fits_means_no_pick() -> None:
    tiny = machine(ram_free=0.2)
    assert suggest(suggestions(tiny)) is None


def test_a_copy_in_the_settings_folder_replaces_the_list(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QUANTDESK_CONFIG_DIR", str(tmp_path))
    data = json.loads(catalog_path().read_text())
    data["models"] = data["models"][:1]
    (tmp_path / "popular-models.json").write_text(json.dumps(data))
    assert catalog_path() == tmp_path / "popular-models.json" and len(load_catalog()) == 1
    (tmp_path / "popular-models.json").write_text("{broken")
    with pytest.raises(ModelInfoError):
        load_catalog()
