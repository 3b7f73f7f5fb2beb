"""Bad input gets a plain-words error with the detail apart, before any work where possible, and never a
half-written file under a real name."""

from __future__ import annotations

import json
import os
import shutil
import struct
import threading
from pathlib import Path

import pytest

from app.core import disk as disk_module
from app.core.convert.converter import convert_model
from app.core.disk import partial_path
from app.core.errors import (
    Cancelled,
    ConversionError,
    InvalidModelFolderError,
    NotEnoughDiskError,
    UnsupportedArchitectureError,
)
from tests.fixtures.files import partial_files
from tests.fixtures.tiny_hf import build_tiny_folder


def _no_output(out: Path) -> None:
    assert not out.exists()
    assert not partial_files(out)


@pytest.fixture
def qwen(tmp_path: Path) -> Path:
    return build_tiny_folder("qwen2", tmp_path / "qwen2")


def test_missing_config_json(qwen: Path, tmp_path: Path) -> None:
    (qwen / "config.json").unlink()
    out = tmp_path / "out.gguf"
    with pytest.raises(InvalidModelFolderError) as caught:
        convert_model(qwen, out)
    assert "config.json" in caught.value.message
    assert str(qwen / "config.json") in caught.value.detail
    _no_output(out)


def test_missing_bpe_tokenizer(qwen: Path, tmp_path: Path) -> None:
    (qwen / "tokenizer.json").unlink()
    out = tmp_path / "out.gguf"
    with pytest.raises(InvalidModelFolderError, match="no tokenizer"):
        convert_model(qwen, out)
    _no_output(out)


def test_missing_sentencepiece_tokenizer(tmp_path: Path) -> None:
    folder = build_tiny_folder("gemma2", tmp_path / "gemma2")
    (folder / "tokenizer.model").unlink()
    out = tmp_path / "out.gguf"
    with pytest.raises(InvalidModelFolderError, match=r"tokenizer\.model is missing"):
        convert_model(folder, out)
    _no_output(out)


def test_truncated_safetensors_is_refused_before_writing(qwen: Path, tmp_path: Path) -> None:
    weights = qwen / "model.safetensors"
    os.truncate(weights, weights.stat().st_size - 1000)
    out = tmp_path / "out.gguf"
    with pytest.raises(InvalidModelFolderError) as caught:
        convert_model(qwen, out)
    assert "incomplete" in caught.value.message
    assert "model.safetensors" in caught.value.message
    _no_output(out)


def test_garbage_safetensors(qwen: Path, tmp_path: Path) -> None:
    (qwen / "model.safetensors").write_bytes(b"this is not a model")
    with pytest.raises(InvalidModelFolderError, match="damaged"):
        convert_model(qwen, tmp_path / "out.gguf")


def test_missing_shard_named_in_the_index(qwen: Path, tmp_path: Path) -> None:
    index = {
        "weight_map": {
            "model.embed_tokens.weight": "model-00001-of-00002.safetensors",
            "model.norm.weight": "model-00002-of-00002.safetensors",
        }
    }
    (qwen / "model.safetensors.index.json").write_text(json.dumps(index))
    (qwen / "model.safetensors").rename(qwen / "model-00001-of-00002.safetensors")
    with pytest.raises(InvalidModelFolderError, match="Part of the model is missing"):
        convert_model(qwen, tmp_path / "out.gguf")


def test_unknown_architecture_is_refused_before_any_work(tmp_path: Path) -> None:
    # no weights and no tokenizer at all: the architecture alone decides, before anything is read
    folder = tmp_path / "mamba"
    folder.mkdir()
    (folder / "config.json").write_text(
        json.dumps({"architectures": ["MambaForCausalLM"], "model_type": "mamba"})
    )
    out = tmp_path / "out.gguf"
    with pytest.raises(UnsupportedArchitectureError) as caught:
        convert_model(folder, out)
    message = caught.value.message
    assert "Mamba" in message
    for supported in ("Llama", "Qwen2", "Qwen3", "Gemma 2", "Gemma 3", "Phi-3"):
        assert supported in message
    assert "MambaForCausalLM" in caught.value.detail
    _no_output(out)


def test_not_enough_disk_space_is_found_before_writing(
    qwen: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = shutil.disk_usage(tmp_path)
    monkeypatch.setattr(
        disk_module.shutil, "disk_usage", lambda path: real._replace(free=1024 * 1024)
    )  # 1 MB free
    out = tmp_path / "out.gguf"
    with pytest.raises(NotEnoughDiskError) as caught:
        convert_model(qwen, out)
    assert "not enough free disk space" in caught.value.message
    assert "free 1048576 bytes" in caught.value.detail
    _no_output(out)


def test_a_disk_that_fills_up_while_writing(qwen: Path, tmp_path: Path) -> None:
    # the partial file is a link to /dev/full: every write fails with ENOSPC, for real
    out = tmp_path / "out.gguf"
    partial_path(out).symlink_to("/dev/full")
    with pytest.raises(ConversionError) as caught:
        convert_model(qwen, out)
    assert "the disk is full" in caught.value.message
    assert "No space left on device" in caught.value.detail
    _no_output(out)


def test_unknown_outtype(qwen: Path, tmp_path: Path) -> None:
    with pytest.raises(ConversionError, match="Unknown output type"):
        convert_model(qwen, tmp_path / "out.gguf", "q4_k")


def test_missing_output_folder(qwen: Path, tmp_path: Path) -> None:
    with pytest.raises(ConversionError, match="does not exist"):
        convert_model(qwen, tmp_path / "nowhere" / "out.gguf")


def test_progress_is_reported_per_tensor_and_ends_complete(qwen: Path, tmp_path: Path) -> None:
    calls: list[tuple[int, int]] = []
    result = convert_model(qwen, tmp_path / "out.gguf", "q8_0", on_progress=lambda d, t: calls.append((d, t)))
    assert len(calls) == result.n_tensors + 1  # the start, then once per tensor
    totals = {t for _, t in calls}
    assert len(totals) == 1
    done = [d for d, _ in calls]
    assert done == sorted(done) and done[0] == 0 and done[-1] == calls[0][1]


def test_cancel_leaves_nothing_behind(qwen: Path, tmp_path: Path) -> None:
    cancel = threading.Event()

    def progress(done: int, total: int) -> None:
        if done > 0:
            cancel.set()  # asked to stop after the first tensor is written

    out = tmp_path / "out.gguf"
    with pytest.raises(Cancelled):
        convert_model(qwen, out, on_progress=progress, cancel=cancel)
    _no_output(out)


def test_an_existing_file_is_only_replaced_when_the_new_one_is_complete(qwen: Path, tmp_path: Path) -> None:
    out = tmp_path / "out.gguf"
    out.write_bytes(b"the previous conversion")
    cancel = threading.Event()
    with pytest.raises(Cancelled):
        convert_model(qwen, out, on_progress=lambda d, t: cancel.set() if d else None, cancel=cancel)
    assert out.read_bytes() == b"the previous conversion"
    assert not partial_files(out)


def test_a_sentencepiece_style_tokenizer_json_without_tokenizer_model(tmp_path: Path) -> None:
    folder = build_tiny_folder("mistral", tmp_path / "mistral")
    (folder / "tokenizer.model").unlink()
    # what Llama 2 style repos carry beside tokenizer.model: BPE with byte fallback and a Metaspace decoder
    tokenizer = {
        "version": "1.0",
        "added_tokens": [],
        "pre_tokenizer": None,
        "decoder": {"type": "Sequence", "decoders": [{"type": "Replace"}, {"type": "ByteFallback"}]},
        "model": {"type": "BPE", "byte_fallback": True, "vocab": {"<unk>": 0, "a": 1}, "merges": []},
    }
    (folder / "tokenizer.json").write_text(json.dumps(tokenizer))
    out = tmp_path / "out.gguf"
    with pytest.raises(InvalidModelFolderError, match=r"tokenizer\.model file is missing"):
        convert_model(folder, out)
    _no_output(out)


def test_weights_in_an_unsupported_number_format(tmp_path: Path) -> None:
    folder = build_tiny_folder("qwen3", tmp_path / "qwen3")
    weights = folder / "model.safetensors"
    data = bytearray(weights.read_bytes())
    header_length = int.from_bytes(data[:8], "little")
    header = json.loads(data[8 : 8 + header_length])
    # the first layer's q projection as FP8 (1 byte a value), as FP8 checkpoints store it
    entry = header["model.layers.0.self_attn.q_proj.weight"]
    begin = entry["data_offsets"][0]
    count = entry["shape"][0] * entry["shape"][1]
    entry["dtype"], entry["data_offsets"] = "F8_E4M3", [begin, begin + count]
    # keep the byte layout valid: the rest of the tensor's old bytes become an unused U8 tensor
    header["padding"] = {"dtype": "U8", "shape": [count], "data_offsets": [begin + count, begin + 2 * count]}
    encoded = json.dumps(header).encode()
    encoded += b" " * (-len(encoded) % 8)
    weights.write_bytes(len(encoded).to_bytes(8, "little") + encoded + bytes(data[8 + header_length :]))
    with pytest.raises(InvalidModelFolderError) as caught:
        convert_model(folder, tmp_path / "out.gguf")
    assert "F8_E4M3" in caught.value.message
    assert "q_proj" in caught.value.detail


# Found by the fuzz (tests/fuzz/test_hf_folders.py): each of these once escaped as a Python error.


def test_config_json_nested_too_deep_to_parse(qwen: Path, tmp_path: Path) -> None:
    (qwen / "config.json").write_text("[" * 100_000 + "]" * 100_000)  # once a RecursionError
    with pytest.raises(InvalidModelFolderError, match=r"config\.json could not be read"):
        convert_model(qwen, tmp_path / "out.gguf")


def test_a_config_setting_of_the_wrong_type_is_named(qwen: Path, tmp_path: Path) -> None:
    config = json.loads((qwen / "config.json").read_text())
    (qwen / "config.json").write_text(json.dumps({**config, "num_attention_heads": "4"}))  # once a TypeError
    with pytest.raises(InvalidModelFolderError) as info:
        convert_model(qwen, tmp_path / "out.gguf")
    assert "'num_attention_heads' is '4'" in info.value.message and "whole number" in info.value.message


def test_a_safetensors_entry_without_a_dtype(qwen: Path, tmp_path: Path) -> None:
    weights = qwen / "model.safetensors"
    raw = weights.read_bytes()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8 : 8 + n])
    del header["model.norm.weight"]["dtype"]  # once a KeyError
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    weights.write_bytes(struct.pack("<Q", len(text)) + text + raw[8 + n :])
    with pytest.raises(InvalidModelFolderError, match=r"model\.safetensors is damaged"):
        convert_model(qwen, tmp_path / "out.gguf")
