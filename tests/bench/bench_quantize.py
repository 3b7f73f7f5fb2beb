"""Benchmark: QuantDesk's quantization (a child process, progress parsed from the log) against a direct
llama_model_quantize call in one process, on the same file with the same threads. Goal: ≤ 1.05×.

    .venv/bin/python tests/bench/bench_quantize.py                       # the starter, expanded to F16
    .venv/bin/python tests/bench/bench_quantize.py --input model-F16.gguf --types Q8_0,Q4_K_M --threads 16
    .venv/bin/python tests/bench/bench_quantize.py --random-1b           # a Llama-3.2-1B-shaped random F16

Each round runs both ways, alternating which goes first; the figure per way is the best of --repeats
(this machine is shared, so the minimum is the least disturbed run). QuantDesk's time is the whole call
from the parent's side: spawning the child, importing, reading the header, the disk check, the quantize
call, and the rename.
"""

from __future__ import annotations

import argparse
import ctypes
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import llama_cpp
import numpy as np

from app.core.models.library import starter_model_path
from app.core.process.runner import run_in_child
from app.core.quantize.expand import expand_to_f16
from app.core.quantize.quantizer import quantize_file
from app.core.quants import quant_type


def direct(src: Path, dst: Path, type_name: str, threads: int) -> float:
    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = quant_type(type_name).ftype
    params.nthread = threads
    started = time.perf_counter()
    status = llama_cpp.llama_model_quantize(os.fsencode(src), os.fsencode(dst), ctypes.byref(params))
    elapsed = time.perf_counter() - started
    assert status == 0, status
    return elapsed


OVERHEADS: list[float] = []


def ours(src: Path, dst: Path, type_name: str, threads: int) -> float:
    started = time.perf_counter()
    result = run_in_child(quantize_file, args=(src, dst, type_name), kwargs={"threads": threads},
                          on_progress=lambda d, t: None, outputs=[dst])
    elapsed = time.perf_counter() - started
    # What QuantDesk adds around llama.cpp's call (spawn, imports, header, disk check, rename): measured
    # inside one run, so the machine's noise between runs does not enter it.
    OVERHEADS.append(elapsed - result.seconds)
    return elapsed


def random_1b(dst: Path) -> Path:
    """Llama-3.2-1B shapes (16 blocks, 2048 wide, 8192 FFN, 128k vocab) with random F16 weights."""
    import gguf

    rng = np.random.default_rng(0)
    n_embd, n_ff, n_blocks, n_vocab, n_kv = 2048, 8192, 16, 128256, 512
    w = gguf.GGUFWriter(dst, arch="llama")
    w.add_block_count(n_blocks)
    w.add_context_length(4096)
    w.add_embedding_length(n_embd)
    w.add_feed_forward_length(n_ff)
    w.add_head_count(32)
    w.add_head_count_kv(8)
    w.add_layer_norm_rms_eps(1e-5)
    w.add_file_type(1)
    w.add_tokenizer_model("gpt2")
    w.add_token_list([f"t{i}" for i in range(n_vocab)])
    block = (rng.standard_normal(1 << 22) * 0.02).astype(np.float16)

    def m(rows: int, cols: int) -> np.ndarray:
        return np.resize(block, rows * cols).reshape(rows, cols)

    w.add_tensor("token_embd.weight", m(n_vocab, n_embd))
    w.add_tensor("output_norm.weight", np.ones(n_embd, dtype=np.float32))
    for i in range(n_blocks):
        w.add_tensor(f"blk.{i}.attn_norm.weight", np.ones(n_embd, dtype=np.float32))
        w.add_tensor(f"blk.{i}.ffn_norm.weight", np.ones(n_embd, dtype=np.float32))
        for name, shape in (("attn_q", (n_embd, n_embd)), ("attn_k", (n_kv, n_embd)),
                            ("attn_v", (n_kv, n_embd)), ("attn_output", (n_embd, n_embd)),
                            ("ffn_gate", (n_ff, n_embd)),
                            ("ffn_up", (n_ff, n_embd)), ("ffn_down", (n_embd, n_ff))):
            w.add_tensor(f"blk.{i}.{name}.weight", m(*shape))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return dst


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--input", type=Path)
    parser.add_argument("--random-1b", action="store_true")
    parser.add_argument("--types", default="Q8_0,Q4_K_M,Q2_K")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-quantize-"))
    if args.input:
        src = args.input
    elif args.random_1b:
        src = random_1b(work / "random-1b-F16.gguf")
    else:
        src = expand_to_f16(starter_model_path(), work / "starter-F16.gguf")
    print(f"input: {src.name} ({src.stat().st_size / 2**20:.0f} MiB), threads {args.threads}, "
          f"best of {args.repeats}")
    print("| type | direct llama_model_quantize (s) | QuantDesk, child process (s) | ratio of bests "
          "| QuantDesk's own overhead per run (s) | direct + overhead ratio |")
    print("|---|---|---|---|---|---|")
    for type_name in args.types.split(","):
        times: dict[str, list[float]] = {"direct": [], "ours": []}
        for round_ in range(args.repeats):
            order = [("direct", direct), ("ours", ours)]
            if round_ % 2:
                order.reverse()
            for label, run in order:
                out = work / f"{label}-{type_name}.gguf"
                times[label].append(run(src, out, type_name, args.threads))
                out.unlink()
        d, o = min(times["direct"]), min(times["ours"])
        overhead = sorted(OVERHEADS)[len(OVERHEADS) // 2]
        OVERHEADS.clear()
        print(f"| {type_name} | {d:.2f} | {o:.2f} | {o / d:.3f}× | {overhead:.2f} "
              f"| {(d + overhead) / d:.3f}× |", flush=True)
    shutil.rmtree(work, ignore_errors=True)  # the generated input and any outputs; never --input
    return 0


if __name__ == "__main__":
    sys.exit(main())
