"""llama.cpp's own tools (llama-bench, llama-fit-params) built from the same sources as the bindings, run
as references for QuantDesk's benchmarks.

The tools are looked for in $QUANTDESK_LLAMA_TOOLS, then beside the libraries the bindings load
($LLAMA_CPP_LIB_PATH: a CUDA build's bin/ holds both), then /work/ref/build/bin (this project's CPU build).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

from app.core.context_settings import ContextSettings

DEFAULT_DIRS = ("/work/ref/build/bin",)


def tool_path(name: str) -> Path:
    for folder in (os.environ.get("QUANTDESK_LLAMA_TOOLS"), os.environ.get("LLAMA_CPP_LIB_PATH"), *DEFAULT_DIRS):
        if folder and (Path(folder) / name).is_file():
            return Path(folder) / name
    raise FileNotFoundError(f"{name} not found: set QUANTDESK_LLAMA_TOOLS to the folder of a llama.cpp build")


def _env(tool: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["LD_LIBRARY_PATH"] = f"{tool.parent}:{env.get('LD_LIBRARY_PATH', '')}"
    return env


@dataclass(frozen=True)
class BenchResult:
    test: str  # "pp512", "tg128"
    tokens_per_second: float
    stddev: float
    samples: tuple[float, ...]


def llama_bench(model: str, settings: ContextSettings, n_gpu_layers: int, n_prompt: int = 512, n_gen: int = 128,
                repetitions: int = 3, timeout: float = 600, depth: int = 0) -> dict[str, BenchResult]:
    """llama-bench's pp and tg results for `model` with the engine's settings (flash attention, batches,
    threads, cache type) and `n_gpu_layers`; `depth`: tokens already in the cache when the test starts (a
    reply starts after its prompt: a small model's generation is measurably slower 40 tokens in)."""
    tool = tool_path("llama-bench")
    cmd = [str(tool), "-m", model, "-p", str(n_prompt), "-n", str(n_gen), "-r", str(repetitions),
           "-ngl", str(n_gpu_layers if n_gpu_layers >= 0 else 999), "-d", str(depth), "-o", "json",
           *settings.as_llama_bench_args(prompt=n_gen == 0)]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=_env(tool), check=False)
    if done.returncode != 0:
        raise RuntimeError(f"llama-bench failed ({done.returncode}): {' '.join(cmd)}\n{done.stderr[-2000:]}")
    results = {}
    for row in json.loads(done.stdout):
        test = f"pp{row['n_prompt']}" if row["n_gen"] == 0 else f"tg{row['n_gen']}"
        results[test] = BenchResult(test, float(row["avg_ts"]), float(row["stddev_ts"]),
                                    tuple(float(x) for x in row["samples_ts"]))
    return results


def llama_bench_command(model: str, settings: ContextSettings, n_gpu_layers: int, repetitions: int = 3,
                        n_prompt: int = 512, n_gen: int = 128, depth: int = 0) -> str:
    args = ["llama-bench", "-m", model, "-p", str(n_prompt), "-n", str(n_gen), "-r", str(repetitions),
            "-ngl", str(n_gpu_layers if n_gpu_layers >= 0 else 999), *(["-d", str(depth)] if depth else []),
            *settings.as_llama_bench_args(prompt=n_gen == 0)]
    return " ".join(args)


@dataclass(frozen=True)
class FitResult:
    n_gpu_layers: int | None  # None: the tool found no fit
    n_ctx: int | None
    output: str


_NGL = re.compile(r"(?:-ngl|--n-gpu-layers)\s+(-?\d+)")
_CTX = re.compile(r"(?:-c|--ctx-size)\s+(\d+)")


def llama_fit_params(model: str, n_ctx: int, margin_mib: int, settings: ContextSettings,
                     timeout: float = 300) -> FitResult:
    """What llama.cpp's own fitter chooses for `model` at context `n_ctx` (given, so it keeps it) when it must
    leave `margin_mib` of the GPU free (a margin of free − cap stands in for a card of `cap`): its -ngl."""
    tool = tool_path("llama-fit-params")
    cmd = [str(tool), "-m", model, "-c", str(n_ctx), "-fitt", str(margin_mib),
           "-fa", "on" if settings.flash_attn else "off", "-b", str(settings.n_batch), "-ub", str(settings.n_ubatch)]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=_env(tool), check=False)
    text = done.stdout + done.stderr
    args_line = next((ln for ln in done.stdout.splitlines() if "-ngl" in ln or "--n-gpu-layers" in ln), "")
    ngl = _NGL.search(args_line)
    ctx = _CTX.search(args_line)
    return FitResult(int(ngl.group(1)) if ngl else None, int(ctx.group(1)) if ctx else None, text)
