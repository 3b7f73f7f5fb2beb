"""Every supported family: a tiny random-weight folder with the family's real config keys and tensor names
converts, loads in llama.cpp and generates; family-specific transforms land where llama.cpp expects them."""

from __future__ import annotations

import json
from pathlib import Path

import gguf
import numpy as np
import pytest

from app.core.convert.converter import convert_model
from app.core.convert.llama import permute_rows
from app.core.engine.client import EngineClient
from app.core.engine.protocol import GREEDY, ChatMessage, LoadModel
from app.core.models.hf_folder import open_hf_folder
from tests.fixtures.tiny_hf import build_tiny_folder

Q = gguf.GGMLQuantizationType

# family → (GGUF architecture, output type used for it): every output type is exercised somewhere
CASES = {
    "llama3": ("llama", "q8_0"),
    "mistral": ("llama", "f16"),
    "qwen2": ("qwen2", "bf16"),
    "qwen3": ("qwen3", "q8_0"),
    "gemma2": ("gemma2", "f32"),
    "gemma3": ("gemma3", "bf16"),
    "phi3": ("phi3", "f16"),
}
_MATRIX_TYPE = {"f32": Q.F32, "f16": Q.F16, "bf16": Q.BF16, "q8_0": Q.Q8_0}


def _tensors(path: Path) -> dict[str, gguf.ReaderTensor]:
    return {t.name: t for t in gguf.GGUFReader(path).tensors}


def _source(folder: Path, name: str) -> np.ndarray:
    tensor = next(t for t in open_hf_folder(folder).tensors if t.name == name)
    return tensor.read()


def _values(tensor: gguf.ReaderTensor) -> np.ndarray:
    return gguf.quants.dequantize(tensor.data, tensor.tensor_type).reshape(
        tuple(int(d) for d in reversed(tensor.shape))
    )


@pytest.mark.parametrize("family", list(CASES))
def test_family_converts_loads_and_generates(family: str, tmp_path: Path, engine: EngineClient) -> None:
    arch, outtype = CASES[family]
    folder = build_tiny_folder(family, tmp_path / family)
    result = convert_model(folder, tmp_path / f"{family}.gguf", outtype)

    reader = gguf.GGUFReader(result.path)
    assert reader.fields["general.architecture"].contents() == arch
    types = {t.name: t.tensor_type for t in reader.tensors}
    assert types["token_embd.weight"] == _MATRIX_TYPE[outtype]
    assert all(kind == Q.F32 for name, kind in types.items() if name.endswith("_norm.weight"))
    assert not list(tmp_path.glob("*.part.gguf"))

    loaded = engine.load_model(LoadModel(str(result.path), n_ctx=256))
    assert loaded.info.description.startswith(arch)
    done = engine.complete([ChatMessage("user", "Hello there")], max_tokens=4, sampling=GREEDY)
    assert done.stats.generated_tokens == 4


def test_llama_q_and_k_are_permuted_for_llama_cpps_rotary_layout(tmp_path: Path) -> None:
    folder = build_tiny_folder("mistral", tmp_path / "mistral")
    out = convert_model(folder, tmp_path / "m.gguf", "f32").path
    tensors = _tensors(out)
    config = json.loads((folder / "config.json").read_text())
    q = _source(folder, "model.layers.0.self_attn.q_proj.weight").astype(np.float32)
    k = _source(folder, "model.layers.0.self_attn.k_proj.weight").astype(np.float32)
    assert np.array_equal(
        _values(tensors["blk.0.attn_q.weight"]), permute_rows(q, config["num_attention_heads"])
    )
    assert np.array_equal(
        _values(tensors["blk.0.attn_k.weight"]), permute_rows(k, config["num_key_value_heads"])
    )
    v = _source(folder, "model.layers.0.self_attn.v_proj.weight").astype(np.float32)
    assert np.array_equal(_values(tensors["blk.0.attn_v.weight"]), v)  # v is left alone


def test_gemma_norms_get_one_added(tmp_path: Path) -> None:
    folder = build_tiny_folder("gemma2", tmp_path / "gemma2")
    tensors = _tensors(convert_model(folder, tmp_path / "g.gguf", "f32").path)
    for hf, ours in [
        ("model.norm.weight", "output_norm.weight"),
        ("model.layers.1.pre_feedforward_layernorm.weight", "blk.1.ffn_norm.weight"),
    ]:
        assert np.array_equal(_values(tensors[ours]), _source(folder, hf) + 1)


def test_bf16_weights_are_widened_exactly(tmp_path: Path) -> None:
    folder = build_tiny_folder("qwen2", tmp_path / "qwen2")
    tensors = _tensors(convert_model(folder, tmp_path / "q.gguf", "f32").path)
    embedding = _source(folder, "model.embed_tokens.weight")  # BF16 on disk, read as float32
    assert embedding.dtype == np.float32
    assert np.array_equal(_values(tensors["token_embd.weight"]), embedding)
    assert "blk.0.attn_q.bias" in tensors  # Qwen2's q/k/v biases, kept in F32
    assert tensors["blk.0.attn_q.bias"].tensor_type == Q.F32


def test_generated_rope_tensors(tmp_path: Path) -> None:
    llama = _tensors(convert_model(build_tiny_folder("llama3", tmp_path / "l3"), tmp_path / "l3.gguf").path)
    assert "rope_freqs.weight" in llama  # Llama 3.1+'s "llama3" rope scaling
    phi = _tensors(convert_model(build_tiny_folder("phi3", tmp_path / "phi3"), tmp_path / "p.gguf").path)
    config = json.loads((tmp_path / "phi3" / "config.json").read_text())
    assert np.allclose(_values(phi["rope_factors_long.weight"]), config["rope_scaling"]["long_factor"])
    assert np.allclose(_values(phi["rope_factors_short.weight"]), config["rope_scaling"]["short_factor"])
