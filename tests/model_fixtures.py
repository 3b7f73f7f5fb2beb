"""Shared model files for the quantization tests, made once per session.

- starter_f16: the starter model (Q4_1) expanded to F16 with gguf-py, the input every ladder starts from.
- tiny_f16: a random-weight Llama of real shapes with the starter's tokenizer cut to 4096 tokens (2.4M
  weights). It quantizes in a fraction of a second, so every llama.cpp type can be made and run in one
  test; its answers are nonsense, which is fine for "it loads and generates".
- tiny_imatrix: an importance matrix computed in the app for tiny_f16 from the shipped calibration text.
"""

from __future__ import annotations

from pathlib import Path

import gguf
import numpy as np
import pytest

from app.core.models.library import starter_model_path


@pytest.fixture(scope="session")
def starter_f16(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from app.core.quantize.expand import expand_to_f16

    folder = tmp_path_factory.mktemp("f16")
    return expand_to_f16(starter_model_path(), folder / "SmolLM2-135M-Instruct-F16.gguf")


def make_tiny_random(tokenizer_from: Path, dst: Path, n_vocab: int = 4096, n_embd: int = 256,
                     n_ff: int = 512, n_blocks: int = 2, seed: int = 0,
                     specials: dict[int, str] | None = None, special_ids: dict[str, int] | None = None,
                     add_bos: bool = False, chat_template: str | None = None) -> Path:
    """A random-weight Llama of real shapes (rows of 256, so K- and i-quants are used without fallback),
    with the starter's tokenizer cut to its first n_vocab tokens (merges kept only where all three
    pieces survive), written as F16 like a conversion would.

    `specials` replaces control tokens by id (the starter's 17 come first), `special_ids` sets
    tokenizer.ggml.<name>_token_id, `chat_template` is written as tokenizer.chat_template: a stand-in for
    another family's vocabulary and format (tests/fixtures/family_models.py)."""
    src = gguf.GGUFReader(tokenizer_from)
    rng = np.random.default_rng(seed)
    writer = gguf.GGUFWriter(dst, arch="llama")
    tokens = src.fields["tokenizer.ggml.tokens"].contents()[:n_vocab]
    for token_id, text in (specials or {}).items():
        tokens[token_id] = text
    kept = set(tokens)
    merges = [m for m in src.fields["tokenizer.ggml.merges"].contents()
              if (parts := m.split(" ", 1)) and len(parts) == 2 and parts[0] in kept and parts[1] in kept
              and parts[0] + parts[1] in kept]
    writer.add_name("tiny-random")
    writer.add_file_type(1)
    writer.add_block_count(n_blocks)
    writer.add_context_length(256)
    writer.add_embedding_length(n_embd)
    writer.add_feed_forward_length(n_ff)
    writer.add_head_count(4)
    writer.add_head_count_kv(2)
    writer.add_rope_dimension_count(n_embd // 4)
    writer.add_rope_freq_base(10000.0)
    writer.add_layer_norm_rms_eps(1e-5)
    writer.add_vocab_size(n_vocab)
    writer.add_tokenizer_model("gpt2")
    writer.add_tokenizer_pre(str(src.fields["tokenizer.ggml.pre"].contents()))
    writer.add_token_list(tokens)
    writer.add_token_types(src.fields["tokenizer.ggml.token_type"].contents()[:n_vocab])
    writer.add_token_merges(merges)
    ids = {key: int(src.fields[f"tokenizer.ggml.{key}_token_id"].contents())
           for key in ("bos", "eos", "unknown", "padding")}
    ids.update(special_ids or {})
    for key, token_id in ids.items():
        writer.add_uint32(f"tokenizer.ggml.{key}_token_id", token_id)
    writer.add_add_bos_token(add_bos)
    if chat_template is not None:
        writer.add_chat_template(chat_template)

    def matrix(rows: int, cols: int) -> np.ndarray:
        return (rng.standard_normal((rows, cols)) / np.sqrt(cols)).astype(np.float16)

    writer.add_tensor("token_embd.weight", matrix(n_vocab, n_embd))
    writer.add_tensor("output_norm.weight", np.ones(n_embd, dtype=np.float32))
    kv = n_embd // 2
    for i in range(n_blocks):
        writer.add_tensor(f"blk.{i}.attn_norm.weight", np.ones(n_embd, dtype=np.float32))
        writer.add_tensor(f"blk.{i}.ffn_norm.weight", np.ones(n_embd, dtype=np.float32))
        writer.add_tensor(f"blk.{i}.attn_q.weight", matrix(n_embd, n_embd))
        writer.add_tensor(f"blk.{i}.attn_k.weight", matrix(kv, n_embd))
        writer.add_tensor(f"blk.{i}.attn_v.weight", matrix(kv, n_embd))
        writer.add_tensor(f"blk.{i}.attn_output.weight", matrix(n_embd, n_embd))
        writer.add_tensor(f"blk.{i}.ffn_gate.weight", matrix(n_ff, n_embd))
        writer.add_tensor(f"blk.{i}.ffn_up.weight", matrix(n_ff, n_embd))
        writer.add_tensor(f"blk.{i}.ffn_down.weight", matrix(n_embd, n_ff))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return dst


@pytest.fixture(scope="session")
def tiny_f16(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_tiny_random(starter_model_path(), tmp_path_factory.mktemp("tiny") / "tiny-F16.gguf")


@pytest.fixture(scope="session")
def tiny_imatrix(tiny_f16: Path) -> Path:
    from app.core.quantize.imatrix_compute import compute_imatrix

    result = compute_imatrix(tiny_f16, out_path=tiny_f16.with_name("tiny.imatrix.gguf"), threads=2)
    assert isinstance(result, Path)
    return result


@pytest.fixture(scope="session", autouse=True)
def multiprocessing_resource_tracker() -> None:
    """Start multiprocessing's resource tracker up front: the first spawn child (run_in_child) starts it and
    it lives as long as the test session, which the leftover-process check would otherwise blame on
    whichever test happened to run first."""
    from multiprocessing import resource_tracker

    resource_tracker.ensure_running()
