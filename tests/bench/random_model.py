"""Write a random-weight GGUF of a real model's shape, with a real tokenizer, for speed and memory work.

    .venv/bin/python tests/bench/random_model.py --shape llama-3.2-1b --out /tmp/llama-1b-F16.gguf

Speed and memory do not depend on weight values, only on shapes and types, so a model with random weights
and the exact layer sizes of Llama-3.2-1B or Llama-3-8B measures like the real one. The tokenizer is the
starter model's (SmolLM2's BPE), padded with unused tokens up to the real vocabulary size so the embedding
and output layers have their real sizes. Quantize the F16 file with `python main.py quantize` or llama.cpp.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import gguf


@dataclass(frozen=True)
class Shape:
    n_embd: int
    n_layer: int
    n_head: int
    n_head_kv: int
    n_ff: int
    n_vocab: int
    tied_embeddings: bool
    rope_theta: float
    n_ctx_train: int


# From the models' published config.json files.
SHAPES = {
    "llama-3.2-1b": Shape(2048, 16, 32, 8, 8192, 128256, True, 500000.0, 131072),
    "llama-3.2-3b": Shape(3072, 28, 24, 8, 8192, 128256, True, 500000.0, 131072),
    "llama-3-8b": Shape(4096, 32, 32, 8, 14336, 128256, False, 500000.0, 8192),
    "tiny": Shape(256, 2, 4, 2, 512, 49152, False, 10000.0, 2048),  # for trying the script quickly
    # the estimator's check shape: not used to fit its formula (tests/bench/bench_estimate_accuracy.py)
    "estimate-check": Shape(1024, 8, 16, 4, 2816, 16000, False, 10000.0, 8192),
}


def read_tokenizer(path: Path) -> dict[str, object]:
    """The BPE tokenizer keys of a GGUF file (tokens, types, merges, special ids)."""
    reader = gguf.GGUFReader(path)
    out: dict[str, object] = {}
    for key in ("tokenizer.ggml.tokens", "tokenizer.ggml.token_type", "tokenizer.ggml.merges",
                "tokenizer.ggml.bos_token_id", "tokenizer.ggml.eos_token_id", "tokenizer.ggml.pre",
                "tokenizer.chat_template"):
        field = reader.get_field(key)
        if field is not None:
            out[key] = field.contents()
    return out


def placeholder_tokenizer(n_vocab: int) -> dict[str, object]:
    """For measurements that feed token ids only: <unk>, <s>, </s> and numbered tokens, no merges."""
    return {
        "model": "llama",
        "tokenizer.ggml.tokens": ["<unk>", "<s>", "</s>", *[f"<t{i}>" for i in range(3, n_vocab)]],
        "tokenizer.ggml.token_type": [gguf.TokenType.UNKNOWN, gguf.TokenType.CONTROL, gguf.TokenType.CONTROL,
                                      *[gguf.TokenType.NORMAL] * (n_vocab - 3)],
        "tokenizer.ggml.bos_token_id": 1,
        "tokenizer.ggml.eos_token_id": 2,
    }


def write_model(shape: Shape, tokenizer: dict[str, object] | None, out: Path, seed: int = 0) -> Path:
    """Write the model; tokenizer None gives a placeholder vocabulary of the shape's size."""
    if tokenizer is None:
        tokenizer = placeholder_tokenizer(shape.n_vocab)
    tokens = list(tokenizer["tokenizer.ggml.tokens"])  # type: ignore[call-overload]
    types = list(tokenizer["tokenizer.ggml.token_type"])  # type: ignore[call-overload]
    for i in range(len(tokens), shape.n_vocab):  # pad to the real vocabulary size
        tokens.append(f"<|unused_{i}|>")
        types.append(gguf.TokenType.UNUSED)
    head_dim = shape.n_embd // shape.n_head
    tmp = out.with_name(out.name + ".part")  # written under a temporary name, renamed when complete
    w = gguf.GGUFWriter(str(tmp), "llama")
    w.add_name(f"random {out.stem}")
    w.add_context_length(shape.n_ctx_train)
    w.add_embedding_length(shape.n_embd)
    w.add_block_count(shape.n_layer)
    w.add_feed_forward_length(shape.n_ff)
    w.add_head_count(shape.n_head)
    w.add_head_count_kv(shape.n_head_kv)
    w.add_rope_dimension_count(head_dim)
    w.add_rope_freq_base(shape.rope_theta)
    w.add_layer_norm_rms_eps(1e-5)
    w.add_vocab_size(shape.n_vocab)
    w.add_file_type(gguf.LlamaFileType.MOSTLY_F16)
    w.add_tokenizer_model(str(tokenizer.get("model", "gpt2")))
    if "tokenizer.ggml.merges" in tokenizer:
        w.add_tokenizer_pre(str(tokenizer.get("tokenizer.ggml.pre", "default")))
        w.add_token_merges(list(tokenizer["tokenizer.ggml.merges"]))  # type: ignore[call-overload]
    else:
        w.add_token_scores([0.0] * len(tokens))
    w.add_token_list(tokens)
    w.add_token_types(types)
    w.add_bos_token_id(int(tokenizer["tokenizer.ggml.bos_token_id"]))  # type: ignore[call-overload]
    w.add_eos_token_id(int(tokenizer["tokenizer.ggml.eos_token_id"]))  # type: ignore[call-overload]
    w.add_add_bos_token(False)
    if "tokenizer.chat_template" in tokenizer:
        w.add_chat_template(str(tokenizer["tokenizer.chat_template"]))

    rng = np.random.default_rng(seed)

    def weight(*dims: int) -> np.ndarray:
        return (rng.standard_normal(dims, dtype=np.float32) * 0.02).astype(np.float16)

    def norm(n: int) -> np.ndarray:
        return np.ones(n, dtype=np.float32)

    e, kv = shape.n_embd, shape.n_head_kv * head_dim
    w.add_tensor("token_embd.weight", weight(shape.n_vocab, e))
    for i in range(shape.n_layer):
        p = f"blk.{i}."
        w.add_tensor(p + "attn_norm.weight", norm(e))
        w.add_tensor(p + "attn_q.weight", weight(e, e))
        w.add_tensor(p + "attn_k.weight", weight(kv, e))
        w.add_tensor(p + "attn_v.weight", weight(kv, e))
        w.add_tensor(p + "attn_output.weight", weight(e, e))
        w.add_tensor(p + "ffn_norm.weight", norm(e))
        w.add_tensor(p + "ffn_gate.weight", weight(shape.n_ff, e))
        w.add_tensor(p + "ffn_up.weight", weight(shape.n_ff, e))
        w.add_tensor(p + "ffn_down.weight", weight(e, shape.n_ff))
    w.add_tensor("output_norm.weight", norm(e))
    if not shape.tied_embeddings:
        w.add_tensor("output.weight", weight(shape.n_vocab, e))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    tmp.replace(out)
    return out


def write_tokenizer_only(tokenizer: dict[str, object], out: Path) -> None:
    """A small GGUF with just the tokenizer keys: what --tokenizer-from needs, without the weights."""
    w = gguf.GGUFWriter(str(out), "llama")
    w.add_tokenizer_model("gpt2")
    for key, value in tokenizer.items():
        if key == "tokenizer.ggml.token_type":
            w.add_token_types(list(value))  # type: ignore[call-overload]
        elif key == "tokenizer.ggml.tokens":
            w.add_token_list(list(value))  # type: ignore[call-overload]
        elif key == "tokenizer.ggml.merges":
            w.add_token_merges(list(value))  # type: ignore[call-overload]
        elif key.endswith("_id"):
            w.add_uint32(key, int(value))  # type: ignore[call-overload]
        else:
            w.add_string(key, str(value))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--shape", choices=sorted(SHAPES), default="llama-3.2-1b")
    parser.add_argument("--tokenizer-from", type=Path, help="a GGUF whose BPE tokenizer to use (default: starter)")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--tokenizer-only", action="store_true", help="write just the tokenizer (small)")
    args = parser.parse_args()
    source = args.tokenizer_from
    if source is None:
        from app.core.models.library import starter_model_path

        source = starter_model_path()
    if args.tokenizer_only:
        write_tokenizer_only(read_tokenizer(source), args.out)
    else:
        write_model(SHAPES[args.shape], read_tokenizer(source), args.out)
    print(f"wrote {args.out} ({args.out.stat().st_size / 2**30:.2f} GiB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
