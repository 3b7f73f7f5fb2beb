"""Write a llama-architecture GGUF with random weights of a chosen shape, for memory measurements where no
real model of that size can be carried (the GPU machine has no network). Memory use does not depend on the
values.

    python tests/bench/make_random_model.py OUT.gguf [--layers 16 --embd 2048 --ff 8192 --heads 32 --kv 8
                                                      --vocab 32000 --ctx 8192]

The tokenizer is a placeholder SentencePiece-style vocabulary ("<t123>"): measurements feed token ids.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from gguf import GGUFWriter, LlamaFileType, TokenType


def write_random_llama(
    path: Path, layers: int, embd: int, ff: int, heads: int, kv: int, vocab: int, ctx: int
) -> Path:
    rng = np.random.default_rng(0)
    head_dim = embd // heads

    def matrix(rows: int, cols: int) -> np.ndarray:
        return (rng.standard_normal((rows, cols), dtype=np.float32) * 0.02).astype(np.float16)

    w = GGUFWriter(path, "llama")
    w.add_name("random-llama")
    w.add_block_count(layers)
    w.add_context_length(ctx)
    w.add_embedding_length(embd)
    w.add_feed_forward_length(ff)
    w.add_head_count(heads)
    w.add_head_count_kv(kv)
    w.add_rope_dimension_count(head_dim)
    w.add_layer_norm_rms_eps(1e-5)
    w.add_file_type(int(LlamaFileType.MOSTLY_F16))
    w.add_vocab_size(vocab)
    w.add_tokenizer_model("llama")
    w.add_token_list([b"<unk>", b"<s>", b"</s>", *[f"<t{i}>".encode() for i in range(3, vocab)]])
    w.add_token_scores([0.0] * vocab)
    w.add_token_types(
        [
            int(TokenType.UNKNOWN),
            int(TokenType.CONTROL),
            int(TokenType.CONTROL),
            *[int(TokenType.NORMAL)] * (vocab - 3),
        ]
    )
    w.add_bos_token_id(1)
    w.add_eos_token_id(2)
    w.add_tensor("token_embd.weight", matrix(vocab, embd))
    for i in range(layers):
        p = f"blk.{i}."
        w.add_tensor(p + "attn_norm.weight", np.ones(embd, np.float32))
        w.add_tensor(p + "attn_q.weight", matrix(embd, embd))
        w.add_tensor(p + "attn_k.weight", matrix(kv * head_dim, embd))
        w.add_tensor(p + "attn_v.weight", matrix(kv * head_dim, embd))
        w.add_tensor(p + "attn_output.weight", matrix(embd, embd))
        w.add_tensor(p + "ffn_norm.weight", np.ones(embd, np.float32))
        w.add_tensor(p + "ffn_gate.weight", matrix(ff, embd))
        w.add_tensor(p + "ffn_up.weight", matrix(ff, embd))
        w.add_tensor(p + "ffn_down.weight", matrix(embd, ff))
    w.add_tensor("output_norm.weight", np.ones(embd, np.float32))
    w.add_tensor("output.weight", matrix(vocab, embd))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return path


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("out", type=Path)
    for name, default in (
        ("layers", 16),
        ("embd", 2048),
        ("ff", 8192),
        ("heads", 32),
        ("kv", 8),
        ("vocab", 32000),
        ("ctx", 8192),
    ):
        parser.add_argument(f"--{name}", type=int, default=default)
    a = parser.parse_args()
    write_random_llama(a.out, a.layers, a.embd, a.ff, a.heads, a.kv, a.vocab, a.ctx)
    print(a.out, a.out.stat().st_size)


if __name__ == "__main__":
    main()
