"""quantize_file / expand_to_f16: real llama.cpp quantization of the real starter model."""

from __future__ import annotations

from pathlib import Path

import gguf
import llama_cpp
import numpy as np
import pytest

from app.core.errors import AlreadyQuantizedError, InvalidModelFileError
from app.core.models.library import starter_model_path
from app.core.quantize.quantizer import default_output_path, inspect_source, quantize_file
from tests.fixtures.files import partial_files

QUESTION = "What is the capital of France? Answer in one word."


def answer(path: Path) -> str:
    llm = llama_cpp.Llama(str(path), n_ctx=256, n_threads=2, verbose=False)
    try:
        messages = [{"role": "user", "content": QUESTION}]
        out = llm.create_chat_completion(messages, temperature=0, max_tokens=12)  # type: ignore[arg-type]
        return str(out["choices"][0]["message"]["content"])
    finally:
        llm.close()


def test_expand_to_f16_keeps_metadata_and_values(starter_f16: Path) -> None:
    src = gguf.GGUFReader(starter_model_path())
    out = gguf.GGUFReader(starter_f16)
    assert out.fields["general.file_type"].contents() == 1
    assert out.fields["quantdesk.expanded_from"].contents() == "Q4_1"  # not the original weights: says so
    skipped = {"general.file_type"}
    src_keys = {k for k in src.fields if not k.startswith("GGUF.")} - skipped
    assert src_keys <= set(out.fields)
    assert out.fields["tokenizer.ggml.tokens"].contents() == src.fields["tokenizer.ggml.tokens"].contents()
    by_name = {t.name: t for t in out.tensors}
    for tensor in src.tensors:
        expanded = by_name[tensor.name]
        want = "F32" if len(tensor.shape) == 1 else "F16"
        assert expanded.tensor_type.name == want
    # the values are the Q4_1 values, exactly (F16 holds every Q4_1 reconstruction of this model closely)
    q = next(t for t in src.tensors if t.name == "blk.3.ffn_up.weight")
    ref = gguf.quants.dequantize(q.data, q.tensor_type)
    np.testing.assert_allclose(np.asarray(by_name[q.name].data, dtype=np.float32), ref, rtol=1e-3, atol=1e-4)
    assert not partial_files(starter_f16)


def test_q8_0_of_the_expanded_starter_loads_and_answers(starter_f16: Path, tmp_path: Path) -> None:
    progress: list[tuple[int, int]] = []
    result = quantize_file(starter_f16, tmp_path / "m-Q8_0.gguf", "Q8_0", threads=2,
                           on_progress=lambda d, t: progress.append((d, t)))
    assert result.path.is_file() and result.type_name == "Q8_0"
    assert inspect_source(result.path).file_type == "Q8_0"
    assert progress[-1] == (272, 272) and len(progress) > 200
    assert "Paris" in answer(result.path)


def test_a_quantized_input_is_not_silently_requantized(tmp_path: Path) -> None:
    with pytest.raises(AlreadyQuantizedError) as caught:
        quantize_file(starter_model_path(), tmp_path / "x.gguf", "Q4_0")
    assert caught.value.current_type == "Q4_1"
    assert "already Q4_1" in caught.value.message
    assert not any(tmp_path.iterdir())


def test_a_corrupt_input_gets_a_clear_message(tmp_path: Path) -> None:
    bad = tmp_path / "broken.gguf"
    bad.write_bytes(b"GGUF" + b"\x03\x00\x00\x00" + b"\xff" * 64)
    with pytest.raises(InvalidModelFileError) as caught:
        quantize_file(bad, tmp_path / "out.gguf", "Q8_0")
    assert "broken.gguf" in caught.value.message and "damaged" in caught.value.message
    assert caught.value.detail
    assert not (tmp_path / "out.gguf").exists()


def test_output_names() -> None:
    assert default_output_path(Path("/x/SmolLM2-135M-Instruct.Q4_1.gguf"), "q4_k_m", Path("/m")) == Path(
        "/m/SmolLM2-135M-Instruct-Q4_K_M.gguf")
    assert default_output_path(Path("/x/model-F16.gguf"), "Q8_0", Path("/m")).name == "model-Q8_0.gguf"


def test_types_that_need_an_importance_matrix_say_so(tiny_f16: Path, tmp_path: Path) -> None:
    from app.core.errors import QuantizeError

    with pytest.raises(QuantizeError) as caught:
        quantize_file(tiny_f16, tmp_path / "x.gguf", "IQ1_S")
    assert "needs an importance matrix" in caught.value.message
    assert not any(tmp_path.iterdir())
