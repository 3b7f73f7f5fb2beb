"""Measure what loading a GGUF really costs, for the estimator's benchmark and its calibration test.

Each measurement runs in a fresh Python process (so nothing from an earlier load is still resident):
it imports llama_cpp, reads its own resident memory, loads the model with llama-cpp-python's defaults
(mmap on, n_batch 512), evaluates a prompt, and reads resident memory again. llama.cpp's own log lines
about its buffers are captured from stderr and parsed, so the estimate can be compared with both.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from dataclasses import dataclass

_CHILD = r"""
import json, os, sys
import psutil
import llama_cpp
proc = psutil.Process()
n_ctx, n_prompt, n_gpu_layers = int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
vram_before = None
if n_gpu_layers:
    import pynvml
    pynvml.nvmlInit()
    handle = pynvml.nvmlDeviceGetHandleByIndex(0)
    vram_before = pynvml.nvmlDeviceGetMemoryInfo(handle).used
before = proc.memory_info().rss
llm = llama_cpp.Llama(sys.argv[1], n_ctx=n_ctx, n_gpu_layers=n_gpu_layers, verbose=True)
loaded = proc.memory_info().rss
vocab = llm.n_vocab()
tokens = [(i * 7919) % (vocab - 300) + 200 for i in range(n_prompt)]  # ordinary tokens, no specials
llm.eval(tokens)
after = proc.memory_info().rss
vram_after = pynvml.nvmlDeviceGetMemoryInfo(handle).used if n_gpu_layers else None
print("MEASURED " + json.dumps({"rss_before": before, "rss_loaded": loaded, "rss_after": after,
                                "vram_before": vram_before, "vram_after": vram_after}), flush=True)
"""

# llama.cpp's log lines naming its buffers, e.g. "load_tensors:   CPU_Mapped model buffer size =   256.63 MiB"
_MODEL_BUF = re.compile(r"(\S+) model buffer size =\s*([\d.]+) MiB")
_KV_BUF = re.compile(r"llama_kv_cache:\s+(\S+) KV buffer size =\s*([\d.]+) MiB")
_COMPUTE_BUF = re.compile(r"(\S+) compute buffer size =\s*([\d.]+) MiB")
_OUTPUT_BUF = re.compile(r"(\S+)\s+output buffer size =\s*([\d.]+) MiB")

MIB = 1024 * 1024


@dataclass(frozen=True)
class Measured:
    rss_growth: int  # resident memory after load + prompt, minus before load
    rss_after_load: int
    vram_growth: int | None
    model_buffers: dict[str, int]  # llama.cpp's logged sizes, per buffer name, bytes (rounded to 0.01 MiB)
    kv_buffers: dict[str, int]
    compute_buffers: dict[str, int]
    output_buffers: dict[str, int]
    log: str


def _sizes(pattern: re.Pattern[str], log: str) -> dict[str, int]:
    found: dict[str, int] = {}
    for name, mib in pattern.findall(log):
        found[name] = found.get(name, 0) + round(float(mib) * MIB)
    return found


def measure(
    path: str, n_ctx: int, n_prompt: int = 512, n_gpu_layers: int = 0, timeout: float = 300
) -> Measured:
    done = subprocess.run(
        [sys.executable, "-c", _CHILD, path, str(n_ctx), str(n_prompt), str(n_gpu_layers)],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    line = next((ln for ln in done.stdout.splitlines() if ln.startswith("MEASURED ")), None)
    if done.returncode != 0 or line is None:
        raise RuntimeError(f"measurement of {path} failed ({done.returncode}):\n{done.stderr[-3000:]}")
    data = json.loads(line[len("MEASURED ") :])
    log = done.stderr
    vram = None if data["vram_after"] is None else data["vram_after"] - data["vram_before"]
    return Measured(
        data["rss_after"] - data["rss_before"],
        data["rss_loaded"] - data["rss_before"],
        vram,
        _sizes(_MODEL_BUF, log),
        _sizes(_KV_BUF, log),
        _sizes(_COMPUTE_BUF, log),
        _sizes(_OUTPUT_BUF, log),
        log,
    )
