"""Model facts from GGUF headers: the real starter file, hand-made broken files, the byte-buffer reader."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pytest
from gguf import GGUFWriter

from app.core.advice.sources import read_model_facts
from app.core.errors import ModelInfoError
from app.core.models.facts import facts_from_gguf_fields, read_gguf_facts, tensors_from_raw
from app.core.models.gguf_header import HeaderFormatError, NeedMoreBytes, parse_header
from app.core.models.library import starter_model_path


def test_starter_gguf_facts_match_its_known_shape() -> None:
    facts = read_gguf_facts(starter_model_path())
    assert (facts.architecture, facts.n_layers, facts.n_embd, facts.n_ff) == ("llama", 30, 576, 1536)
    assert (facts.n_head, facts.n_head_kv, facts.head_dim_k, facts.head_dim_v) == (9, 3, 64, 64)
    assert (facts.context_length, facts.vocab_size, facts.file_type) == (8192, 49152, "Q4_1")
    assert facts.sliding_window is None and not any(facts.swa_layers)
    assert len(facts.tensors) == 272
    embd = next(t for t in facts.tensors if t.name == "token_embd.weight")
    assert (embd.shape, embd.ggml_type, embd.n_bytes) == ((576, 49152), "Q8_0", 576 * 49152 // 32 * 34)
    # every tensor's bytes add up to the file minus its header
    assert facts.file_bytes is not None and 0 < facts.file_bytes - facts.weights_bytes < 3_000_000


def test_header_parser_agrees_with_gguf_reader() -> None:
    """QuantDesk's own header parser against gguf-py's GGUFReader, on the real starter file."""
    from gguf import GGUFReader

    path = starter_model_path()
    reader = GGUFReader(path)
    header = parse_header(path.read_bytes()[: 4 << 20])
    assert [(t.name, t.shape, t.type_id) for t in header.tensors] == [
        (t.name, tuple(int(d) for d in t.shape), int(t.tensor_type)) for t in reader.tensors
    ]
    assert [t.n_bytes for t in read_gguf_facts(path).tensors] == [int(t.n_bytes) for t in reader.tensors]
    for key, field in reader.fields.items():
        if key.startswith("GGUF."):  # GGUFReader's own entries for the file's version and counts
            continue
        if len(field.types) == 1 or len(field.data) <= 4096:
            assert header.fields[key] == pytest.approx(field.contents()), key
        else:
            assert len(header.fields[key]) == len(field.data), key
    assert reader.data_offset >= header.header_bytes


def test_header_parser_asks_for_more_bytes_when_cut_short() -> None:
    data = starter_model_path().read_bytes()[:200_000]
    with pytest.raises(NeedMoreBytes) as info:
        parse_header(data)
    assert info.value.needed > len(data)


def _write_gguf(path: Path, arch: str, keys: dict[str, int], tensors: bool = True) -> Path:
    writer = GGUFWriter(path, arch)
    for key, value in keys.items():
        writer.add_uint32(key, value)
    if tensors:
        writer.add_tensor("token_embd.weight", np.zeros((10, 32), dtype=np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


def test_missing_key_is_named(tmp_path: Path) -> None:
    path = _write_gguf(tmp_path / "m.gguf", "llama", {"llama.block_count": 2, "llama.embedding_length": 32})
    with pytest.raises(ModelInfoError) as info:
        read_gguf_facts(path)
    assert "llama.attention.head_count" in info.value.detail
    assert "missing information" in info.value.message


def test_unknown_architecture_is_named(tmp_path: Path) -> None:
    path = _write_gguf(tmp_path / "u.gguf", "frobnicator", {"frobnicator.block_count": 2})
    with pytest.raises(ModelInfoError) as info:
        read_gguf_facts(path)
    assert "frobnicator" in info.value.message


def test_truncated_file_says_it_is_incomplete(tmp_path: Path) -> None:
    cut = tmp_path / "cut.gguf"
    cut.write_bytes(starter_model_path().read_bytes()[:50_000])
    with pytest.raises(ModelInfoError) as info:
        read_gguf_facts(cut)
    assert "not a complete GGUF" in info.value.message and "50000 bytes" in info.value.detail


def test_file_cut_inside_its_tensor_data_is_incomplete(tmp_path: Path) -> None:
    cut = tmp_path / "cut.gguf"
    cut.write_bytes(starter_model_path().read_bytes()[:20_000_000])
    with pytest.raises(ModelInfoError) as info:
        read_gguf_facts(cut)
    assert "not a complete GGUF" in info.value.message and "tensor data needs" in info.value.detail


def test_not_gguf_at_all(tmp_path: Path) -> None:
    bad = tmp_path / "notes.gguf"
    bad.write_text("hello", encoding="utf-8")
    with pytest.raises(ModelInfoError):
        read_gguf_facts(bad)


def test_read_model_facts_dispatches_and_explains_nonsense() -> None:
    assert read_model_facts("starter").file_type == "Q4_1"
    with pytest.raises(ModelInfoError) as info:
        read_model_facts("/no/such/model.gguf")
    assert "no model file" in info.value.message


def _starter_with(tmp_path: Path, offset: int, value: bytes) -> Path:
    """A copy of the starter with `value` written over its bytes at `offset` (same length)."""
    data = bytearray(starter_model_path().read_bytes())
    data[offset : offset + len(value)] = value
    path = tmp_path / "damaged.gguf"
    path.write_bytes(bytes(data))
    return path


def test_a_length_that_asks_for_the_whole_file_is_refused_without_reading_it(tmp_path: Path) -> None:
    # the first key's length (at byte 24) claims all the rest of the file: found by the fuzz (tests/fuzz),
    # where it was a MemoryError and took 15 s to decode when memory allowed
    size = starter_model_path().stat().st_size
    damaged = _starter_with(tmp_path, 24, (size - 32).to_bytes(8, "little"))
    with pytest.raises(ModelInfoError) as info:
        read_gguf_facts(damaged)
    assert "damaged.gguf" in info.value.message and "metadata key of" in info.value.detail


def test_arrays_of_arrays_are_not_gguf() -> None:
    # an array whose items are arrays, nested a thousand deep, once a RecursionError
    nested = (struct.pack("<IQ", 9, 1)) * 1000
    key = b"general.tags"
    data = b"GGUF" + struct.pack("<IQQ", 3, 0, 1) + struct.pack("<Q", len(key)) + key + struct.pack("<I", 9) + nested
    with pytest.raises(HeaderFormatError, match="arrays of metadata type 9"):
        parse_header(data, len(data))


def test_a_block_count_past_the_weights_is_damage(tmp_path: Path) -> None:
    header = parse_header(starter_model_path().read_bytes()[: 4 << 20])
    fields = {**header.fields, "llama.block_count": 4096}
    with pytest.raises(ModelInfoError) as info:
        facts_from_gguf_fields(fields, tensors_from_raw(header.tensors, "x"), "x", "gguf")
    assert "block_count = 4096, but its tensors are for 30 layers" in info.value.detail
