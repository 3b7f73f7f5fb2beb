"""Benchmark: the memory estimate against measured memory, over a quant ladder of the starter model.

    .venv/bin/python tests/bench/bench_estimate_accuracy.py [--out DIR] [--no-filled]

Makes the ladder (F16, Q8_0, Q6_K, Q4_K_M, Q2_K) from the starter model with QuantDesk's own
expand_to_f16 and quantize_file (llama.cpp's llama_model_quantize), then for each file and context 512,
2048 and 8192 measures, in a fresh process each, the resident-memory growth after loading with
llama-cpp-python's defaults (mmap on, n_batch 512) and evaluating a 512-token prompt. The estimate comes
from the formula only (app/core/estimate.py), predicted from the F16 source's facts and the file type, as
the recommendation sees a model before quantizing it. It also prints llama.cpp's own logged buffer sizes
beside the formula's, and (unless --no-filled) a run whose prompt fills a 2048-token context, the case the
recommendation plans for. Prints Markdown tables (docs/estimate-accuracy.md holds a run's output).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from app.core.advice.estimate import compute_bytes, estimate_memory, pad, repacked_types
from app.core.machine.hardware import read_cpu
from app.core.models.facts import read_gguf_facts
from app.core.models.library import starter_model_path
from app.core.quants import quant_type
from tests.bench.measure_memory import measure

LADDER = ("F16", "Q8_0", "Q6_K", "Q4_K_M", "Q2_K")
CONTEXTS = (512, 2048, 8192)
LIMIT = 0.05
MIB = 1024 * 1024


def make_ladder(folder: Path) -> dict[str, Path]:
    from app.core.quantize.expand import expand_to_f16
    from app.core.quantize.quantizer import quantize_file

    f16 = folder / "starter-F16.gguf"
    if not f16.exists():
        expand_to_f16(starter_model_path(), f16)
    ladder = {"F16": f16}
    for name in LADDER[1:]:
        path = folder / f"starter-{name}.gguf"
        if not path.exists():
            quantize_file(f16, path, name)
        ladder[name] = path
    return ladder


def mib(n: float) -> str:
    return f"{n / MIB:.1f}"


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--out", type=Path, default=None, help="folder for the ladder (default: a temp folder)"
    )
    parser.add_argument("--no-filled", action="store_true", help="skip the filled-context runs")
    args = parser.parse_args()
    folder = args.out or Path(tempfile.mkdtemp(prefix="quantdesk-ladder-"))
    folder.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    ladder = make_ladder(folder)
    source = read_gguf_facts(ladder["F16"])
    repack = repacked_types(read_cpu().features)
    print(f"ladder in {folder} ({time.perf_counter() - started:.0f} s); CPU repack set: {sorted(repack)}\n")

    print(
        "| type | context | estimate (MiB) | measured (MiB) | error | weights est / logged | "
        "KV est / logged | compute reserved est / logged |"
    )
    print("|---|---|---|---|---|---|---|---|")
    worst = 0.0
    for name in LADDER:
        for n_ctx in CONTEXTS:
            est = estimate_memory(source, quant_type(name), n_ctx, filled_tokens=512, repack=repack)
            m = measure(str(ladder[name]), n_ctx, n_prompt=512)
            error = (est.total - m.rss_growth) / m.rss_growth
            worst = max(worst, abs(error))
            reserved = compute_bytes(source, pad(n_ctx), 512, 512)
            print(
                f"| {name} | {n_ctx} | {mib(est.total)} | {mib(m.rss_growth)} | {error:+.1%} | "
                f"{mib(est.weights)} / {mib(sum(m.model_buffers.values()))} | "
                f"{mib(est.kv_cache)} / {mib(sum(m.kv_buffers.values()))} | "
                f"{mib(reserved)} / {mib(sum(m.compute_buffers.values()))} |",
                flush=True,
            )
    print(f"\nworst |error| at a 512-token prompt: {worst:.2%} (limit {LIMIT:.0%})\n")

    # A second shape and vocabulary, not used for calibration: a random-weight llama (8 layers, 1024 wide,
    # 16 heads / 4 KV heads, 16,000-token vocabulary), F16 and Q4_K_M.
    from app.core.quantize.quantizer import quantize_file
    from tests.bench.random_model import SHAPES, write_model

    rand16 = folder / "random-F16.gguf"
    if not rand16.exists():
        write_model(SHAPES["estimate-check"], None, rand16)
    rand4 = folder / "random-Q4_K_M.gguf"
    if not rand4.exists():
        quantize_file(rand16, rand4, "Q4_K_M")
    rsource = read_gguf_facts(rand16)
    print("| second shape | context | estimate (MiB) | measured (MiB) | error |")
    print("|---|---|---|---|---|")
    for name in ("F16", "Q4_K_M"):
        for n_ctx in CONTEXTS:
            est = estimate_memory(rsource, quant_type(name), n_ctx, filled_tokens=512, repack=repack)
            m = measure(str(rand16 if name == "F16" else rand4), n_ctx, n_prompt=512)
            error = (est.total - m.rss_growth) / m.rss_growth
            worst = max(worst, abs(error))
            print(
                f"| random llama {name} | {n_ctx} | {mib(est.total)} | {mib(m.rss_growth)} | {error:+.1%} |",
                flush=True,
            )
    print()

    if not args.no_filled:
        print("| type | context (filled by the prompt) | estimate (MiB) | measured (MiB) | error |")
        print("|---|---|---|---|---|")
        for name in LADDER:
            est = estimate_memory(source, quant_type(name), 2048, repack=repack)  # the whole context in use
            m = measure(str(ladder[name]), 2048, n_prompt=2048)
            error = (est.total - m.rss_growth) / m.rss_growth
            worst = max(worst, abs(error))
            print(f"| {name} | 2048 | {mib(est.total)} | {mib(m.rss_growth)} | {error:+.1%} |", flush=True)
        print(f"\nworst |error| overall: {worst:.2%}")
    print(f"total time {time.perf_counter() - started:.0f} s")
    return 0 if worst <= LIMIT else 1


if __name__ == "__main__":
    sys.exit(main())
