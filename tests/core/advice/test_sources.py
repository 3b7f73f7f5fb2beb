"""Facts from a Hugging Face folder and from a Hub repo before download (the real huggingface_hub client
talking to the fake Hub on 127.0.0.1), through the one dispatcher, read_model_facts."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import save

from app.core.advice.sources import read_model_facts
from app.core.convert.predict import read_folder_facts
from app.core.errors import GatedModelError, InvalidModelFolderError, ModelInfoError, RepoNotFoundError
from app.core.models.facts import read_gguf_facts
from app.core.models.library import starter_model_path
from tests.fixtures.fake_hub import FakeFile, FakeHub, FakeRepo
from tests.fixtures.hub_fixtures import *  # noqa: F403 (fixtures)

CONFIG = {
    "architectures": ["LlamaForCausalLM"],
    "num_hidden_layers": 2,
    "hidden_size": 64,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "intermediate_size": 128,
    "vocab_size": 300,
    "max_position_embeddings": 1024,
    "tie_word_embeddings": True,
}


def _tensors() -> dict[str, np.ndarray]:
    t = {
        "model.embed_tokens.weight": np.zeros((300, 64), np.float16),
        "model.norm.weight": np.ones(64, np.float16),
    }
    for i in range(2):
        for name, shape in [
            ("self_attn.q_proj", (64, 64)),
            ("self_attn.k_proj", (32, 64)),
            ("self_attn.v_proj", (32, 64)),
            ("self_attn.o_proj", (64, 64)),
            ("mlp.gate_proj", (128, 64)),
            ("mlp.up_proj", (128, 64)),
            ("mlp.down_proj", (64, 128)),
        ]:
            t[f"model.layers.{i}.{name}.weight"] = np.zeros(shape, np.float16)
        t[f"model.layers.{i}.input_layernorm.weight"] = np.ones(64, np.float16)
        t[f"model.layers.{i}.post_attention_layernorm.weight"] = np.ones(64, np.float16)
    return t


def _check_tiny(facts) -> None:  # type: ignore[no-untyped-def]
    assert (facts.architecture, facts.n_layers, facts.n_embd, facts.n_head, facts.n_head_kv) == (
        "llama",
        2,
        64,
        4,
        2,
    )
    assert (facts.head_dim_k, facts.vocab_size, facts.context_length) == (16, 300, 1024)
    names = {t.name: t for t in facts.tensors}
    assert names["blk.1.attn_k.weight"].shape == (64, 32)  # ggml order: row length first
    assert (
        names["blk.0.ffn_down.weight"].ggml_type == "F16" and names["output_norm.weight"].ggml_type == "F32"
    )
    assert "output.weight" not in names and not facts.has_output_tensor  # tied embeddings
    f16 = (300 * 64 + 2 * (64 * 64 * 2 + 32 * 64 * 2 + 128 * 64 * 3)) * 2
    assert facts.weights_bytes == f16 + (64 + 2 * 2 * 64) * 4


def test_folder_facts(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text(json.dumps(CONFIG), encoding="utf-8")
    (tmp_path / "model.safetensors").write_bytes(save(_tensors()))
    _check_tiny(read_folder_facts(tmp_path))


def test_folder_with_unknown_architecture_names_it(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text(json.dumps({**CONFIG, "architectures": ["MambaForCausalLM"]}))
    with pytest.raises(ModelInfoError) as info:
        read_folder_facts(tmp_path)
    assert "MambaForCausalLM" in info.value.message


def test_folder_with_damaged_safetensors(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text(json.dumps(CONFIG), encoding="utf-8")
    (tmp_path / "model.safetensors").write_bytes(save(_tensors())[:100])
    with pytest.raises(InvalidModelFolderError) as info:
        read_folder_facts(tmp_path)
    assert "model.safetensors is damaged" in info.value.message


def test_hub_safetensors_repo(fake_hub: FakeHub) -> None:
    fake_hub.add_repo(FakeRepo("tiny/llama", [FakeFile("config.json", json.dumps(CONFIG).encode()),
                                              FakeFile("model.safetensors", save(_tensors()), lfs=True)],
                               config=CONFIG))
    facts = read_model_facts("tiny/llama")
    assert facts.kind == "hub-safetensors" and facts.name == "llama"
    _check_tiny(facts)
    assert any(r.request.range for r in fake_hub.requests if r.request.path.endswith("model.safetensors"))


def test_hub_gguf_header_read_by_range_without_the_file(fake_hub: FakeHub) -> None:
    starter = starter_model_path()
    fake_hub.add_repo(FakeRepo("someone/smol-gguf", [FakeFile("smol-Q4_1.gguf", source=starter, lfs=True),
                                                     FakeFile("README.md", b"hello")]))
    facts = read_model_facts("someone/smol-gguf")
    local = read_gguf_facts(starter)
    assert facts.kind == "hub-gguf" and facts.file_bytes == starter.stat().st_size
    assert (facts.tensors, facts.n_layers, facts.vocab_size) == (local.tensors, local.n_layers, local.vocab_size)
    sent = sum(b.bytes_sent for b in fake_hub.downloads_of("smol-Q4_1.gguf"))
    assert sent < starter.stat().st_size // 10  # only the header's megabytes came over


def test_hub_missing_repo_in_plain_words(fake_hub: FakeHub) -> None:
    with pytest.raises(RepoNotFoundError) as info:
        read_model_facts("nobody/nothing")
    assert "No model called nobody/nothing" in info.value.message
    assert "404" in info.value.detail


def test_a_gated_repo_says_gated(fake_hub: FakeHub) -> None:
    with pytest.raises(GatedModelError) as info:
        read_model_facts("gated-org/gated-GGUF")
    assert "gated" in info.value.message
