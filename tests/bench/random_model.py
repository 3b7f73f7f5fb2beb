"""Write a random-weight GGUF of a real model's shape, with a real tokenizer, for speed and memory work.

    .venv/bin/python tests/bench/random_model.py --shape llama-3.2-1b --type Q4_K_M --out /tmp/1b-Q4_K_M.gguf

Speed and memory do not depend on weight values, only on shapes and types, so a model with random weights
and the exact layer sizes of Llama-3.2-1B or Qwen2.5-7B measures like the real one. The file is written at the
asked type directly (random_blocks.py): every tensor gets the type llama.cpp's quantizer would give it
(app/core/advice/quant_mix.py, which matches what llama.cpp writes tensor for tensor), so a Q4_K_M file has
the same layout and bytes as one quantized by llama.cpp, without the minutes quantizing takes. The tokenizer
is the starter model's (SmolLM2's BPE, with its ChatML template), padded with unused tokens up to the real
vocabulary size (or cut down to it, merges included) so the embedding and output layers have their real sizes.
Architectures: llama (Llama, Mistral), qwen2 (biases on q/k/v) and gemma2 (sliding window, soft-capping, norms
after attention and feed-forward, head size 256).
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import gguf

from tests.bench.random_blocks import RandomData

if TYPE_CHECKING:
    from app.core.models.facts import ModelFacts


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
    arch: str = "llama"
    head_dim: int = 0  # 0: n_embd // n_head
    sliding_window: int = 0

    @property
    def head_size(self) -> int:
        return self.head_dim or self.n_embd // self.n_head


# From the models' published config.json files.
SHAPES = {
    "llama-3.2-1b": Shape(2048, 16, 32, 8, 8192, 128256, True, 500000.0, 131072),
    "llama-3.2-3b": Shape(3072, 28, 24, 8, 8192, 128256, True, 500000.0, 131072),
    "llama-3-8b": Shape(4096, 32, 32, 8, 14336, 128256, False, 500000.0, 8192),
    "mistral-7b": Shape(4096, 32, 32, 8, 14336, 32768, False, 1000000.0, 32768),  # v0.3
    "qwen2.5-7b": Shape(3584, 28, 28, 4, 18944, 152064, False, 1000000.0, 32768, "qwen2"),
    "qwen2.5-0.5b": Shape(896, 24, 14, 2, 4864, 151936, True, 1000000.0, 32768, "qwen2"),
    "gemma-2-9b": Shape(3584, 42, 16, 8, 14336, 256000, True, 10000.0, 8192, "gemma2", 256, 4096),
    "gemma-2-2b": Shape(2304, 26, 8, 4, 9216, 256000, True, 10000.0, 8192, "gemma2", 256, 4096),
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


def fit_vocabulary(tokenizer: dict[str, object], n_vocab: int) -> tuple[list[str], list[int], list[str] | None]:
    """Tokens, types and merges at exactly n_vocab entries: padded with unused tokens, or cut (then only the
    merges whose parts and result are kept stay, so llama.cpp's BPE loader finds every one)."""
    tokens = [str(t) for t in tokenizer["tokenizer.ggml.tokens"]]  # type: ignore[attr-defined]
    types = [int(t) for t in tokenizer["tokenizer.ggml.token_type"]]  # type: ignore[attr-defined]
    merges = [str(m) for m in tokenizer.get("tokenizer.ggml.merges", [])]  # type: ignore[attr-defined]
    if len(tokens) > n_vocab:
        tokens, types = tokens[:n_vocab], types[:n_vocab]
        kept = set(tokens)
        merges = [m for m in merges if {*m.split(" ", 1), m.replace(" ", "", 1)} <= kept]
    for i in range(len(tokens), n_vocab):
        tokens.append(f"<|unused_{i}|>")
        types.append(gguf.TokenType.UNUSED)
    return tokens, types, merges if "tokenizer.ggml.merges" in tokenizer else None


def tensor_list(shape: Shape) -> list[tuple[str, tuple[int, int] | tuple[int]]]:
    """(GGUF name, numpy shape: rows first) of every tensor llama.cpp loads for this architecture."""
    e, hd = shape.n_embd, shape.head_size
    q, kv = shape.n_head * hd, shape.n_head_kv * hd
    out: list[tuple[str, tuple[int, int] | tuple[int]]] = [("token_embd.weight", (shape.n_vocab, e))]
    for i in range(shape.n_layer):
        p = f"blk.{i}."
        out += [(p + "attn_norm.weight", (e,)), (p + "attn_q.weight", (q, e)), (p + "attn_k.weight", (kv, e)),
                (p + "attn_v.weight", (kv, e)), (p + "attn_output.weight", (e, q))]
        if shape.arch == "qwen2":
            out += [(p + "attn_q.bias", (q,)), (p + "attn_k.bias", (kv,)), (p + "attn_v.bias", (kv,))]
        if shape.arch == "gemma2":
            out.append((p + "post_attention_norm.weight", (e,)))
        out += [(p + "ffn_norm.weight", (e,)), (p + "ffn_gate.weight", (shape.n_ff, e)),
                (p + "ffn_up.weight", (shape.n_ff, e)), (p + "ffn_down.weight", (e, shape.n_ff))]
        if shape.arch == "gemma2":
            out.append((p + "post_ffw_norm.weight", (e,)))
    out.append(("output_norm.weight", (e,)))
    if not shape.tied_embeddings:
        out.append(("output.weight", (shape.n_vocab, e)))
    return out


def shape_facts(shape: Shape, file_type: str = "F16") -> ModelFacts:
    """The facts of the file write_model writes (tensor types as llama.cpp's quantizer chooses them), without
    writing it: what the estimate sees in its header."""
    from dataclasses import replace

    from app.core.advice.quant_mix import predict_tensors
    from app.core.models.facts import ModelFacts, TensorFacts, swa_layout
    from app.core.quants import quant_type, tensor_bytes

    tensors = tuple(
        TensorFacts(name, tuple(reversed(dims)), "F16" if len(dims) == 2 else "F32",
                    tensor_bytes("F16" if len(dims) == 2 else "F32", int(np.prod(dims))))
        for name, dims in tensor_list(shape))
    window = shape.sliding_window or None
    facts = ModelFacts("random", "gguf", "random", shape.arch, shape.n_layer, shape.n_embd, shape.n_ff,
                       shape.n_head, shape.n_head_kv, shape.head_size, shape.head_size, shape.n_ctx_train,
                       shape.n_vocab, window, swa_layout(shape.arch, shape.n_layer, window, None), None, tensors)
    level = quant_type(file_type)
    return replace(facts, tensors=predict_tensors(facts, level), file_type=level.name)


def tensor_types(shape: Shape, file_type: str) -> dict[str, str]:
    """The ggml type of every tensor at `file_type`, as llama.cpp's quantizer chooses it."""
    return {t.name: t.ggml_type for t in shape_facts(shape, file_type).tensors}


def _write_parameters(w: gguf.GGUFWriter, shape: Shape, file_type: str) -> None:
    from app.core.quants import quant_type

    w.add_context_length(shape.n_ctx_train)
    w.add_embedding_length(shape.n_embd)
    w.add_block_count(shape.n_layer)
    w.add_feed_forward_length(shape.n_ff)
    w.add_head_count(shape.n_head)
    w.add_head_count_kv(shape.n_head_kv)
    w.add_vocab_size(shape.n_vocab)
    w.add_file_type(quant_type(file_type).ftype)
    if shape.arch == "gemma2":
        w.add_layer_norm_rms_eps(1e-6)
        w.add_key_length(shape.head_size)
        w.add_value_length(shape.head_size)
        w.add_attn_logit_softcapping(50.0)
        w.add_final_logit_softcapping(30.0)
        w.add_sliding_window(shape.sliding_window)
        return
    w.add_layer_norm_rms_eps(1e-5 if shape.arch == "llama" else 1e-6)
    w.add_rope_dimension_count(shape.head_size)
    w.add_rope_freq_base(shape.rope_theta)


def write_model(shape: Shape, tokenizer: dict[str, object] | None, out: Path, file_type: str = "F16",
                seed: int = 0) -> Path:
    """Write the model at `file_type`; tokenizer None gives a placeholder vocabulary of the shape's size."""
    if tokenizer is None:
        tokenizer = placeholder_tokenizer(shape.n_vocab)
    tokens, types, merges = fit_vocabulary(tokenizer, shape.n_vocab)
    tmp = out.with_name(out.name + ".part")  # written under a temporary name, renamed when complete
    w = gguf.GGUFWriter(str(tmp), shape.arch)
    w.add_name(f"random {out.stem}")
    _write_parameters(w, shape, file_type)
    w.add_tokenizer_model(str(tokenizer.get("model", "gpt2")))
    if merges is not None:
        w.add_tokenizer_pre(str(tokenizer.get("tokenizer.ggml.pre", "default")))
        w.add_token_merges(merges)
    else:
        w.add_token_scores([0.0] * len(tokens))
    w.add_token_list(tokens)
    w.add_token_types(types)
    w.add_bos_token_id(int(tokenizer["tokenizer.ggml.bos_token_id"]))  # type: ignore[call-overload]
    w.add_eos_token_id(int(tokenizer["tokenizer.ggml.eos_token_id"]))  # type: ignore[call-overload]
    w.add_add_bos_token(False)
    if "tokenizer.chat_template" in tokenizer:
        w.add_chat_template(str(tokenizer["tokenizer.chat_template"]))

    data = RandomData(seed)
    kinds = tensor_types(shape, file_type)
    planned = []
    for name, dims in tensor_list(shape):
        kind = kinds[name]
        if len(dims) == 1:
            array: np.ndarray = np.ones(dims, dtype=np.float32) if name.endswith("norm.weight") else \
                (data.f16(1, dims[0]).astype(np.float32).reshape(dims))
            planned.append((name, array, None))
        elif kind == "F16":
            planned.append((name, (dims, np.float16, 2 * dims[0] * dims[1]), None))
        elif kind == "F32":
            planned.append((name, (dims, np.float32, 4 * dims[0] * dims[1]), None))
        else:
            from app.core.quants import tensor_bytes

            planned.append((name, (dims, np.uint8, tensor_bytes(kind, dims[0] * dims[1])), kind))
    for name, spec, kind in planned:
        if isinstance(spec, np.ndarray):
            w.add_tensor_info(name, spec.shape, spec.dtype, spec.nbytes)
        else:
            dims, dtype, nbytes = spec
            raw = gguf.GGMLQuantizationType[kind] if kind else None
            byte_shape = (dims[0], nbytes // dims[0]) if kind else dims
            w.add_tensor_info(name, byte_shape, np.dtype(dtype), nbytes, raw)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_ti_data_to_file()
    for _name, spec, kind in planned:  # one tensor in memory at a time
        if isinstance(spec, np.ndarray):
            w.write_tensor_data(spec)
        else:
            dims = spec[0]
            if kind:
                w.write_tensor_data(data.blocks(kind, dims[0], dims[1]))
            elif spec[1] == np.float16:
                w.write_tensor_data(data.f16(dims[0], dims[1]))
            else:
                w.write_tensor_data(data.f16(dims[0], dims[1]).astype(np.float32))
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
    parser.add_argument("--type", default="F16", help="F16, Q8_0, Q4_K_M, Q6_K... (written directly)")
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
        write_model(SHAPES[args.shape], read_tokenizer(source), args.out, args.type)
    print(f"wrote {args.out} ({args.out.stat().st_size / 2**30:.2f} GiB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
