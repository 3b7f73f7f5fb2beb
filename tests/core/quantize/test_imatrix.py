"""The importance matrix made in the app: its files, and that it measurably helps Q2_K on the starter."""

from __future__ import annotations

import struct
from pathlib import Path

import llama_cpp
import numpy as np
import pytest

from app.core.errors import InvalidModelFileError
from app.core.quantize.imatrix import ImatrixEntry, ImportanceMatrix, load_imatrix
from app.core.quantize.imatrix_compute import compute_imatrix
from app.core.quantize.quantizer import quantize_file

EVAL_TEXT = Path(__file__).resolve().parents[2] / "fixtures" / "quantize-eval.txt"
N_CTX = 256


def test_gguf_file_round_trip(tmp_path: Path) -> None:
    matrix = ImportanceMatrix({"blk.0.attn_q.weight": ImatrixEntry(np.arange(8, dtype=np.float32),
                                                                   np.array([4.0], dtype=np.float32))},
                              ["calib.txt"], chunk_count=3, chunk_size=512)
    loaded = load_imatrix(matrix.save(tmp_path / "m.imatrix.gguf"))
    assert loaded.datasets == ["calib.txt"] and loaded.chunk_count == 3 and loaded.chunk_size == 512
    np.testing.assert_array_equal(loaded.normalized()["blk.0.attn_q.weight"], np.arange(8) / 4.0)


def test_legacy_dat_file_is_read(tmp_path: Path) -> None:
    name = b"blk.0.ffn_down.weight"
    values = np.array([2.0, 4.0, 6.0], dtype="<f4")
    data = struct.pack("<i", 1) + struct.pack("<i", len(name)) + name + struct.pack("<ii", 2, 3)
    data += values.tobytes() + struct.pack("<i", 7) + struct.pack("<i", 5) + b"a.txt"
    (tmp_path / "old.dat").write_bytes(data)
    loaded = load_imatrix(tmp_path / "old.dat")
    np.testing.assert_allclose(loaded.normalized()["blk.0.ffn_down.weight"], [1.0, 2.0, 3.0])  # ÷ ncall
    assert loaded.chunk_count == 7 and loaded.datasets == ["a.txt"]


def test_a_file_that_is_not_an_imatrix_is_refused(tmp_path: Path) -> None:
    (tmp_path / "x.dat").write_bytes(b"hello world, not an imatrix")
    with pytest.raises(InvalidModelFileError):
        load_imatrix(tmp_path / "x.dat")


def test_collects_every_layer_matmul_like_llama_imatrix(tiny_f16: Path) -> None:
    matrix = compute_imatrix(tiny_f16, threads=2)
    assert isinstance(matrix, ImportanceMatrix)
    # 2 blocks × (q, k, v, output, gate, up, down): the last layer too (every position is an output)
    assert len(matrix.entries) == 14
    assert matrix.entries["blk.1.ffn_down.weight"].sums.shape == (512,)  # its input width
    assert matrix.entries["blk.0.attn_q.weight"].sums.shape == (256,)
    assert all(e.counts[0] == matrix.chunk_count * matrix.chunk_size for e in matrix.entries.values())
    assert all(np.all(e.mean() > 0) for e in matrix.entries.values())


def log_softmax(logits: np.ndarray) -> np.ndarray:
    top = logits.max(axis=1, keepdims=True)
    return logits - top - np.log(np.exp(logits - top).sum(axis=1, keepdims=True))


def scored_log_probs(path: Path, chunks: list[list[int]]) -> np.ndarray:
    """facts/evaluation.md: fresh cache per chunk, score the second half (positions n/2 … n-2)."""
    llm = llama_cpp.Llama(str(path), n_ctx=N_CTX, n_batch=N_CTX, logits_all=True, n_threads=2,
                          flash_attn=True, verbose=False)
    try:
        out = []
        for chunk in chunks:
            llm.reset()
            llm.eval(chunk)
            out.append(log_softmax(np.array(llm.scores[N_CTX // 2:N_CTX - 1], dtype=np.float64)))
        return np.concatenate(out)
    finally:
        llm.close()


def eval_chunks(path: Path) -> list[list[int]]:
    llm = llama_cpp.Llama(str(path), n_ctx=N_CTX, vocab_only=True, verbose=False)
    tokens = llm.tokenize(EVAL_TEXT.read_text(encoding="utf-8").encode(), add_bos=False, special=False)
    add_bos = bool(llama_cpp.llama_vocab_get_add_bos(llama_cpp.llama_model_get_vocab(llm.model)))
    chunks = [tokens[i * N_CTX:(i + 1) * N_CTX] for i in range(len(tokens) // N_CTX)]
    for chunk in chunks:
        if add_bos:
            chunk[0] = llm.token_bos()
    llm.close()
    return chunks


def mean_kld(reference: np.ndarray, candidate: np.ndarray) -> float:
    return float((np.exp(reference) * (reference - candidate)).sum(axis=1).mean())


@pytest.mark.slow
def test_imatrix_lowers_q2_k_kl_divergence_on_the_starter(starter_f16: Path, tmp_path: Path) -> None:
    imatrix = compute_imatrix(starter_f16, out_path=tmp_path / "starter.imatrix.gguf", threads=2)
    plain = quantize_file(starter_f16, tmp_path / "plain-Q2_K.gguf", "Q2_K", threads=2).path
    guided = quantize_file(starter_f16, tmp_path / "imatrix-Q2_K.gguf", "Q2_K", threads=2,
                           imatrix=imatrix).path
    chunks = eval_chunks(starter_f16)
    assert len(chunks) >= 3  # the evaluation text is not the calibration text
    reference = scored_log_probs(starter_f16, chunks)
    kld_plain = mean_kld(reference, scored_log_probs(plain, chunks))
    kld_guided = mean_kld(reference, scored_log_probs(guided, chunks))
    print(f"Q2_K mean KLD vs F16: without imatrix {kld_plain:.4f}, with {kld_guided:.4f}")
    assert kld_guided < 0.85 * kld_plain
