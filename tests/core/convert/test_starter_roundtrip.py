"""Real weights: the starter model, rebuilt as a Hugging Face folder and converted back, is the starter."""

from __future__ import annotations

import gguf
import numpy as np
import pytest

from app.core.engine.client import EngineClient
from app.core.engine.protocol import GREEDY, ChatMessage, LoadModel
from app.core.models.library import starter_model_path
from tests.core.convert.conftest import StarterRoundTrip
from tests.fixtures.starter_hf import dequantized_tensors

_TOKENIZER_KEYS = [
    "tokenizer.ggml.model",
    "tokenizer.ggml.pre",
    "tokenizer.ggml.tokens",
    "tokenizer.ggml.token_type",
    "tokenizer.ggml.merges",
    "tokenizer.ggml.bos_token_id",
    "tokenizer.ggml.eos_token_id",
    "tokenizer.ggml.unknown_token_id",
    "tokenizer.ggml.padding_token_id",
    "tokenizer.ggml.add_bos_token",
    "tokenizer.ggml.add_space_prefix",
    "tokenizer.chat_template",
]


def _contents(reader: gguf.GGUFReader, key: str) -> object:
    field = reader.fields[key]
    if field.types[:2] == [gguf.GGUFValueType.ARRAY, gguf.GGUFValueType.STRING]:
        return [bytes(field.parts[i]) for i in field.data]  # much faster than contents() for 49k strings
    return field.contents()


@pytest.fixture(scope="module")
def starter() -> gguf.GGUFReader:
    return gguf.GGUFReader(starter_model_path())


@pytest.fixture(scope="module")
def converted(starter_round_trip: StarterRoundTrip) -> gguf.GGUFReader:
    return gguf.GGUFReader(starter_round_trip.result.path)


def test_the_rebuilt_folder_is_sharded_like_a_real_checkpoint(starter_round_trip: StarterRoundTrip) -> None:
    shards = sorted(p.name for p in starter_round_trip.folder.glob("*.safetensors"))
    assert shards == ["model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"]
    assert (starter_round_trip.folder / "model.safetensors.index.json").is_file()


def test_converting_back_gives_the_starters_tensors_exactly(
    starter_round_trip: StarterRoundTrip, converted: gguf.GGUFReader
) -> None:
    got = dequantized_tensors(converted)
    assert list(got) == list(starter_round_trip.expected)  # same names, same order
    for name, values in starter_round_trip.expected.items():
        assert got[name].shape == values.shape, name
        assert np.array_equal(got[name], values), name
    assert {t.tensor_type for t in converted.tensors} == {gguf.GGMLQuantizationType.F32}


def test_converting_back_gives_the_starters_tokenizer_exactly(
    starter: gguf.GGUFReader, converted: gguf.GGUFReader
) -> None:
    for key in _TOKENIZER_KEYS:
        assert _contents(converted, key) == _contents(starter, key), key
    # identified by llama.cpp's fingerprint of the real SmolLM tokenizer, not a guess
    assert converted.fields["tokenizer.ggml.pre"].contents() == "smollm"


def test_converting_back_gives_the_starters_model_settings(
    starter: gguf.GGUFReader, converted: gguf.GGUFReader
) -> None:
    for key in starter.fields:
        if key.startswith("llama."):
            assert _contents(converted, key) == _contents(starter, key), key
    assert _contents(converted, "general.architecture") == "llama"
    assert _contents(converted, "general.file_type") == gguf.LlamaFileType.ALL_F32


def test_the_converted_starter_loads_in_llama_cpp_and_answers_paris(
    starter_round_trip: StarterRoundTrip, engine: EngineClient
) -> None:
    engine.load_model(LoadModel(str(starter_round_trip.result.path), n_ctx=512))
    done = engine.complete(
        [ChatMessage("user", "What is the capital of France? Answer in one word.")],
        max_tokens=24,
        sampling=GREEDY,
    )
    assert "Paris" in done.text
