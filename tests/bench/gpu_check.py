"""GPU check, for a machine with an NVIDIA GPU and a CUDA build of llama-cpp-python (run by hand).

    .venv/bin/python tests/bench/gpu_check.py [MODEL ...] [--ctx 512 2048 8192]

Prints `hardware --json`, `recommend MODEL --json`, and for each context the VRAM growth measured through
NVML in a fresh process after loading MODEL with n_gpu_layers=-1 and evaluating a 512-token prompt, beside
the estimate's GPU total and llama.cpp's own logged buffer sizes (model, KV, compute), so the GPU terms of
app/core/estimate.py (CUDA_CONTEXT_BYTES, the reserved compute buffer) can be checked and calibrated.
MODEL defaults to the starter model.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from app.core.advice.estimate import estimate_file  # noqa: E402
from app.core.models.facts import read_gguf_facts  # noqa: E402
from app.core.models.library import starter_model_path  # noqa: E402
from tests.bench.measure_memory import measure  # noqa: E402

MIB = 1024 * 1024


def cli(*args: str) -> str:
    done = subprocess.run(
        [sys.executable, str(ROOT / "main.py"), *args], capture_output=True, text=True, check=False, cwd=ROOT
    )
    return done.stdout + done.stderr


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("models", nargs="*")
    parser.add_argument("--ctx", type=int, nargs="+", default=[512, 2048, 8192])
    args = parser.parse_args()
    models = args.models or [str(starter_model_path())]
    print("== hardware --json")
    print(cli("hardware", "--json"))
    for model in models:
        print(f"== recommend {model} --json")
        print(cli("recommend", model, "--json"))
        facts = read_gguf_facts(model)
        print(
            "| context | estimate GPU (MiB) | measured VRAM growth (MiB) | error | "
            "logged model / KV / compute buffers (MiB) | estimate weights / KV / compute / overhead (MiB) |"
        )
        print("|---|---|---|---|---|---|")
        for n_ctx in args.ctx:
            est = estimate_file(facts, n_ctx, n_gpu_layers=-1, filled_tokens=512)
            m = measure(model, n_ctx, n_prompt=512, n_gpu_layers=-1)
            vram = m.vram_growth or 0
            error = (est.gpu.total - vram) / vram if vram else float("nan")
            logged = " / ".join(
                json.dumps({k: round(v / MIB, 1) for k, v in d.items()})
                for d in (m.model_buffers, m.kv_buffers, m.compute_buffers)
            )
            g = est.gpu
            print(
                f"| {n_ctx} | {est.gpu.total / MIB:.1f} | {vram / MIB:.1f} | {error:+.1%} | {logged} | "
                f"{g.weights / MIB:.1f} / {g.kv_cache / MIB:.1f} / {g.compute / MIB:.1f} / "
                f"{g.overhead / MIB:.1f} |",
                flush=True,
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
