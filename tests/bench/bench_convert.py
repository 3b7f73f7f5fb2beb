"""Benchmark: convert a ~0.5B model (Qwen2.5-0.5B's exact shape, random BF16 weights) with QuantDesk and,
if given, with llama.cpp's own convert_hf_to_gguf.py; report wall time and peak memory, and diff the outputs.

    .venv/bin/python tests/bench/bench_convert.py [--outtype f16] [--work /tmp/bench-convert]
        [--reference /path/to/llama.cpp/convert_hf_to_gguf.py --reference-python /path/to/venv/bin/python]

llama.cpp's converter needs torch and transformers: install them in a separate venv, never in QuantDesk's
(see docs/benchmarks-convert.md). Each converter runs as its own process under /usr/bin/time -v, so "peak
memory" is the process's maximum resident set size. The model folder is generated once and reused.

The folder's tokenizer is synthetic (151,643 byte-level BPE tokens and merges, like Qwen2.5's in size but
not in content), so its pre-tokenizer fingerprint is not in llama.cpp's table and its converter would
refuse it; the reference run is told the name the real Qwen2.5 tokenizer gets ("qwen2"), which is also the
name QuantDesk derives from the tokenizer's definition.
"""

from __future__ import annotations

import argparse
import json
import re
import struct
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.bench.gguf_diff import diff_gguf  # noqa: E402
from tests.fixtures.tiny_hf import CHAT_TEMPLATE, to_bf16_bits  # noqa: E402

# Qwen2.5-0.5B-Instruct's config.json (shape and settings), as published
QWEN25_05B: dict[str, Any] = {
    "architectures": ["Qwen2ForCausalLM"],
    "model_type": "qwen2",
    "hidden_act": "silu",
    "hidden_size": 896,
    "intermediate_size": 4864,
    "num_hidden_layers": 24,
    "num_attention_heads": 14,
    "num_key_value_heads": 2,
    "max_position_embeddings": 32768,
    "max_window_layers": 21,
    "rms_norm_eps": 1e-6,
    "rope_theta": 1000000.0,
    "sliding_window": 32768,
    "use_sliding_window": False,
    "tie_word_embeddings": True,
    "torch_dtype": "bfloat16",
    "vocab_size": 151936,
    "bos_token_id": 151643,
    "eos_token_id": 151645,
    "attention_dropout": 0.0,
    "initializer_range": 0.02,
}
N_BPE_TOKENS = 151643
SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
QWEN2_SPLIT = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*"
    r"|\s*[\r\n]+|\s+(?!\S)|\s+"
)

# runs llama.cpp's converter with the pre-tokenizer name fixed (see the module docstring)
_REFERENCE_WRAPPER = """
import runpy, sys
script, pre = sys.argv[1], sys.argv[2]
sys.argv = [script] + sys.argv[3:]
sys.path.insert(0, str(__import__('pathlib').Path(script).parent))
import conversion.base as base
base.TextModel.get_vocab_base_pre = lambda self, tokenizer: pre
runpy.run_path(script, run_name="__main__")
"""


def tensor_shapes(config: dict[str, Any]) -> dict[str, tuple[int, ...]]:
    h, ff, heads, kv = (
        config[k] for k in ("hidden_size", "intermediate_size", "num_attention_heads", "num_key_value_heads")
    )
    hd = h // heads
    shapes: dict[str, tuple[int, ...]] = {"model.embed_tokens.weight": (config["vocab_size"], h)}
    for i in range(config["num_hidden_layers"]):
        p = f"model.layers.{i}."
        shapes.update(
            {
                p + "input_layernorm.weight": (h,),
                p + "post_attention_layernorm.weight": (h,),
                p + "self_attn.q_proj.weight": (heads * hd, h),
                p + "self_attn.q_proj.bias": (heads * hd,),
                p + "self_attn.k_proj.weight": (kv * hd, h),
                p + "self_attn.k_proj.bias": (kv * hd,),
                p + "self_attn.v_proj.weight": (kv * hd, h),
                p + "self_attn.v_proj.bias": (kv * hd,),
                p + "self_attn.o_proj.weight": (h, heads * hd),
                p + "mlp.gate_proj.weight": (ff, h),
                p + "mlp.up_proj.weight": (ff, h),
                p + "mlp.down_proj.weight": (h, ff),
            }
        )
    shapes["model.norm.weight"] = (h,)
    return shapes


def write_weights(path: Path, shapes: dict[str, tuple[int, ...]], seed: int = 0) -> None:
    """BF16 safetensors written tensor by tensor (the header first, from the shapes)."""
    header: dict[str, Any] = {"__metadata__": {"format": "pt"}}
    offset = 0
    for name, shape in shapes.items():
        size = int(np.prod(shape)) * 2
        header[name] = {"dtype": "BF16", "shape": list(shape), "data_offsets": [offset, offset + size]}
        offset += size
    encoded = json.dumps(header).encode()
    encoded += b" " * (-len(encoded) % 8)
    rng = np.random.default_rng(seed)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(encoded)) + encoded)
        for name, shape in shapes.items():
            rows = shape[0]
            step = max(1, 4_000_000 // max(1, int(np.prod(shape[1:]))))
            for start in range(0, rows, step):
                block = rng.normal(0, 0.02, (min(step, rows - start), *shape[1:])).astype(np.float32)
                if "norm" in name:
                    block += 1
                f.write(to_bf16_bits(block).tobytes())


def write_tokenizer(folder: Path, seed: int = 0) -> None:
    """A byte-level BPE with Qwen2.5's sizes: 256 bytes grown by random merges to 151,643 tokens."""
    from tokenizers import pre_tokenizers

    rng = np.random.default_rng(seed)
    tokens: list[str] = sorted(pre_tokenizers.ByteLevel.alphabet())
    known = set(tokens)
    merges: list[list[str]] = []
    while len(tokens) < N_BPE_TOKENS:
        a, b = tokens[rng.integers(len(tokens))], tokens[rng.integers(len(tokens))]
        if len(a) + len(b) > 16 or a + b in known:
            continue
        merges.append([a, b])
        tokens.append(a + b)
        known.add(a + b)
    added = [
        {
            "id": N_BPE_TOKENS + i,
            "content": t,
            "single_word": False,
            "lstrip": False,
            "rstrip": False,
            "normalized": False,
            "special": True,
        }
        for i, t in enumerate(SPECIALS)
    ]
    byte_level = {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": False, "use_regex": False}
    tokenizer = {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": added,
        "normalizer": {"type": "NFC"},
        "pre_tokenizer": {
            "type": "Sequence",
            "pretokenizers": [
                {"type": "Split", "pattern": {"Regex": QWEN2_SPLIT}, "behavior": "Isolated", "invert": False},
                byte_level,
            ],
        },
        "post_processor": byte_level,
        "decoder": {
            "type": "ByteLevel",
            "add_prefix_space": False,
            "trim_offsets": False,
            "use_regex": False,
        },
        "model": {
            "type": "BPE",
            "dropout": None,
            "unk_token": None,
            "continuing_subword_prefix": "",
            "end_of_word_suffix": "",
            "fuse_unk": False,
            "byte_fallback": False,
            "ignore_merges": False,
            "vocab": {t: i for i, t in enumerate(tokens)},
            "merges": merges,
        },
    }
    (folder / "tokenizer.json").write_text(json.dumps(tokenizer, ensure_ascii=False))
    config = {
        "bos_token": None,
        "eos_token": "<|im_end|>",
        "pad_token": "<|endoftext|>",
        "chat_template": CHAT_TEMPLATE,
        "errors": "replace",
        "model_max_length": 131072,
        "tokenizer_class": "Qwen2Tokenizer",
        "split_special_tokens": False,
        "added_tokens_decoder": {str(a["id"]): {k: v for k, v in a.items() if k != "id"} for a in added},
    }
    (folder / "tokenizer_config.json").write_text(json.dumps(config, indent=2))


def build_model(folder: Path) -> None:
    if (folder / "model.safetensors").is_file():
        return
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.json").write_text(json.dumps(QWEN25_05B, indent=2))
    write_tokenizer(folder)
    write_weights(folder / "model.safetensors", tensor_shapes(QWEN25_05B))


def timed(command: list[str]) -> tuple[float, int, str]:
    """(wall seconds, peak RSS bytes, stderr tail) of a command under /usr/bin/time -v."""
    run = subprocess.run(["/usr/bin/time", "-v", *command], capture_output=True, text=True, cwd=ROOT)
    if run.returncode != 0:
        raise SystemExit(f"failed: {' '.join(command)}\n{run.stdout[-2000:]}\n{run.stderr[-3000:]}")
    wall = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (\S+)", run.stderr)
    rss = re.search(r"Maximum resident set size \(kbytes\): (\d+)", run.stderr)
    assert wall and rss, run.stderr[-2000:]
    parts = [float(p) for p in wall.group(1).split(":")]
    seconds = sum(p * 60**i for i, p in enumerate(reversed(parts)))
    return seconds, int(rss.group(1)) * 1024, run.stderr[-400:]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--work", type=Path, default=Path("/tmp/bench-convert"))
    parser.add_argument("--outtype", default="f16")
    parser.add_argument("--runs", type=int, default=2, help="runs of each converter; the best is reported")
    parser.add_argument("--reference", type=Path, help="llama.cpp's convert_hf_to_gguf.py")
    parser.add_argument(
        "--reference-python", default=sys.executable, help="a Python with torch + transformers"
    )
    args = parser.parse_args()

    folder = args.work / "Qwen2.5-0.5B-shaped"
    build_model(folder)
    size = sum(f.stat().st_size for f in folder.iterdir())
    print(f"model: {folder} ({size / 1e6:.0f} MB, BF16), outtype {args.outtype}, best of {args.runs} runs")

    ours = args.work / f"quantdesk.{args.outtype}.gguf"
    results: dict[str, tuple[float, int]] = {}
    commands = {
        "QuantDesk": [sys.executable, "main.py", "convert", str(folder), str(ours), "--outtype", args.outtype]
    }
    if args.reference is not None:
        theirs = args.work / f"llamacpp.{args.outtype}.gguf"
        commands["llama.cpp convert_hf_to_gguf.py"] = [
            args.reference_python,
            "-c",
            _REFERENCE_WRAPPER,
            str(args.reference),
            "qwen2",
            str(folder),
            "--outfile",
            str(theirs),
            "--outtype",
            args.outtype,
        ]
    for name, command in commands.items():
        runs = [timed(command) for _ in range(args.runs)]
        results[name] = (min(r[0] for r in runs), min(r[1] for r in runs))
    print(f"{'converter':34} {'wall time':>10} {'peak memory':>12}")
    for name, (seconds, rss) in results.items():
        print(f"{name:34} {seconds:>9.1f}s {rss / 1e6:>9.0f} MB")
    if args.reference is not None:
        report = diff_gguf(ours, theirs)
        for section, lines in report.items():
            print(f"diff {section}: {'identical' if not lines else lines[:10]}")


if __name__ == "__main__":
    main()
