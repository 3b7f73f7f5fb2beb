"""Every file type llama.cpp's quantizer offers is made through QuantDesk, loads, and generates.

Run on a tiny random-weight Llama with the starter's tokenizer (tests/model_fixtures.py) so thirty
quantizations fit in the test budget; the full starter is quantized in test_quantize_core.py and
test_imatrix.py.
"""

from __future__ import annotations

from pathlib import Path

import gguf
import llama_cpp
import pytest

from app.core.quantize.quantizer import quantize_file
from app.core.quants import QUANT_TYPES, QuantType


def generate(path: Path, n_tokens: int = 4) -> list[int]:
    llm = llama_cpp.Llama(str(path), n_ctx=64, n_batch=64, n_threads=2, verbose=False)
    try:
        prompt = llm.tokenize(b"The capital of France is")
        out: list[int] = []
        for token in llm.generate(prompt, temp=0.0):
            out.append(token)
            if len(out) >= n_tokens:
                break
        return out
    finally:
        llm.close()


@pytest.mark.slow
@pytest.mark.parametrize("qtype", QUANT_TYPES, ids=lambda t: t.name)
def test_every_type_is_made_loads_and_generates(qtype: QuantType, tiny_f16: Path, tiny_imatrix: Path,
                                                 tmp_path: Path) -> None:
    imatrix = tiny_imatrix if (qtype.needs_imatrix or qtype.imatrix_recommended) else None
    result = quantize_file(tiny_f16, tmp_path / f"tiny-{qtype.name}.gguf", qtype.name, threads=2,
                           imatrix=imatrix)
    reader = gguf.GGUFReader(result.path)
    assert reader.fields["general.file_type"].contents() == qtype.ftype
    tensor_types = {t.tensor_type.name for t in reader.tensors if len(t.shape) > 1}
    if not qtype.is_float:
        assert tensor_types - {"F16", "F32", "BF16"}, f"{qtype.name} left every matrix unquantized"
    tokens = generate(result.path)
    assert len(tokens) == 4
    vocab = int(reader.fields["llama.vocab_size"].contents())
    assert all(0 <= t < vocab for t in tokens)
