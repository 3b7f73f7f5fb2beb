"""Benchmark: automatic offload under a VRAM cap, against llama.cpp's own fitter, on a real GPU.

    python3 tests/bench/bench_vram_cap.py --models DIR [--tokenizer tokenizer.gguf] [--json OUT]

The cap (the gpu_memory_limit_gb setting) stands in for a smaller card: 4, 8 and 12 GB on a big GPU. For
each model and cap:
  QuantDesk     plan_load (advice/placement.py: the estimate and the headroom rules, with the cap as the card)
                says whole, partial (how many layers) or processor; the engine then loads the file with that
                many layers and fills a 4096-token context; its VRAM (NVML, the engine process) must stay
                within the cap, and the load must not fail
  llama.cpp     llama-fit-params on the same file and context, told to leave free what a card of the cap's
                size would leave with its default margin (1024 MiB): free VRAM − cap + 1024 MiB
Goal: as many layers on the GPU as llama-fit-params puts there, or more, and no load over the cap.
Exits 1 when a case misses it.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from app.core.advice.placement import plan_load
from app.core.advice.recommend import file_option
from app.core.context_settings import context_settings
from app.core.machine.hardware import read_hardware
from app.core.models.facts import read_gguf_facts
from tests.bench.llama_tools import llama_fit_params
from tests.bench.measure_memory import measure

N_CTX = 4096
GB = 1e9
MIB = 1024 * 1024
FIT_DEFAULT_MARGIN_MIB = 1024  # llama.cpp's default --fit-target
CASES = (
    ("llama-3-8b", "Q4_K_M", 4), ("llama-3-8b", "F16", 8), ("llama-3-8b", "F16", 12),
    ("qwen2.5-7b", "Q4_K_M", 4), ("gemma-2-9b", "Q4_K_M", 4), ("gemma-2-9b", "Q4_K_M", 8),
)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", type=Path, required=True)
    parser.add_argument("--tokenizer", type=Path, default=None)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    from tests.bench.bench_estimate_accuracy import Case, model_file

    hardware = read_hardware()
    gpu = next(g for g in hardware.gpus if g.usable_by_llama)
    rows = []
    started = time.perf_counter()
    for model, file_type, cap in CASES:
        path = model_file(Case(model, file_type, N_CTX, False), args.models, args.tokenizer)
        facts = read_gguf_facts(path)
        capped = replace(hardware, gpus=tuple(replace(g, limit_bytes=int(cap * GB)) for g in hardware.gpus))
        plan = plan_load(path, N_CTX, capped)
        free_mib = int(read_hardware().gpus[gpu.index].free_bytes / MIB)
        margin = max(0, free_mib - int(cap * GB / MIB) + FIT_DEFAULT_MARGIN_MIB)
        theirs = llama_fit_params(str(path), N_CTX, margin, context_settings(N_CTX))
        row: dict[str, object] = {"model": model, "type": file_type, "cap_gb": cap, "n_layers": facts.n_layers + 1,
                                  "ours": plan.n_gpu_layers, "placement": plan.placement,
                                  "theirs": theirs.n_gpu_layers, "vram": None, "loaded": False}
        try:
            m = measure(str(path), N_CTX, None, plan.n_gpu_layers)
            row.update(vram=m.vram_process, vram_growth=m.vram_growth, rss=m.rss_growth, loaded=True,
                       context_tokens=m.context_tokens, estimate_gpu=file_option(facts, capped, N_CTX).memory.gpu.total,
                       logged={"model": m.model_buffers, "kv": m.kv_buffers, "compute": m.compute_buffers,
                               "output": m.output_buffers})
        except Exception as error:  # a failed load is the result to report, not a crash of the benchmark
            row["error"] = f"{type(error).__name__}: {error}"[:500]
        ours = plan.n_gpu_layers if plan.n_gpu_layers >= 0 else facts.n_layers + 1
        vram = row["vram"] if isinstance(row["vram"], int) else None
        row["ok"] = bool(row["loaded"]) and (vram is None or vram <= cap * GB) and \
            (theirs.n_gpu_layers is None or ours >= min(theirs.n_gpu_layers, facts.n_layers + 1))
        rows.append(row)
        print(f"{row} {time.perf_counter() - started:.0f} s", file=sys.stderr, flush=True)
        if args.json:
            args.json.write_text(json.dumps(rows, indent=1))
    print("| model | type | cap | QuantDesk layers on GPU (placement) | llama-fit-params -ngl | engine VRAM, "
          "context filled | within the cap |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        vram = f"{r['vram'] / MIB:,.0f} MiB" if isinstance(r["vram"], int) else str(r.get("error", "–"))
        print(f"| {r['model']} | {r['type']} | {r['cap_gb']} GB | {r['ours']} of {r['n_layers']} ({r['placement']}) "
              f"| {r['theirs']} | {vram} | {'yes' if r['ok'] else 'NO'} |")
    return 0 if all(r["ok"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
