"""Benchmark: the memory estimate against the engine's measured memory, with the context filled to its end.

    .venv/bin/python tests/bench/bench_estimate_accuracy.py --device cpu [--models DIR] [--json OUT] [--only NAME]
    python3 tests/bench/bench_estimate_accuracy.py --device gpu --models DIR --tokenizer tokenizer.gguf

Each case loads one GGUF in a fresh engine process (the app's own, with its own context settings), fills the
context through a chat message to its last token, and compares the estimate for that file and context
(app/core/advice/estimate.py, a formula over the file's header) with the engine's resident-memory growth and,
on a GPU, its VRAM (NVML: the engine process's own figure). Cases are in two groups, printed as two tables:
"fitted" (the models the estimate's constants were fitted on) and "held out" (shapes, vocabularies and
contexts no constant was fitted on). The models are made here: the starter's ladder by QuantDesk's own
expand and quantize, the others by tests/bench/random_model.py (random weights of the real shapes, written at
the type directly). Exits 1 when a case is off by more than 5 %.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from app.core.advice.estimate import MemoryEstimate, estimate_file, repacked_types
from app.core.machine.hardware import read_cpu
from app.core.models.facts import ModelFacts, read_gguf_facts
from tests.bench.measure_memory import Measured, measure

LIMIT = 0.05
MIB = 1024 * 1024
LADDER = ("F16", "Q8_0", "Q6_K", "Q4_K_M", "Q2_K")


@dataclass(frozen=True)
class Case:
    model: str  # "starter" or a random_model.py shape
    file_type: str
    n_ctx: int
    fitted: bool


def cases(device: str) -> list[Case]:
    if device == "cpu":
        return [
            *(Case("starter", t, c, True) for t in LADDER for c in (2048, 8192)),
            *(Case("estimate-check", t, c, False) for t in ("F16", "Q4_K_M") for c in (2048, 8192, 32768)),
            *(Case("qwen2.5-0.5b", "Q4_K_M", c, False) for c in (2048, 8192)),
            Case("gemma-2-2b", "Q4_K_M", 2048, False),
        ]
    return [
        *(Case(m, "Q4_K_M", c, True) for m in ("llama-3.2-1b", "llama-3-8b") for c in (2048, 8192, 32768)),
        *(Case(m, "Q4_K_M", c, False) for m in ("qwen2.5-7b", "gemma-2-9b", "mistral-7b")
          for c in (2048, 8192, 32768)),
        *(Case("llama-3-8b", t, 8192, False) for t in ("Q8_0", "F16")),
        # float matrices on the GPU go through cuBLAS (more VRAM and RSS): shapes no constant was fitted on
        *(Case("llama-3.2-1b", "F16", c, False) for c in (2048, 8192, 32768)),
        Case("mistral-7b", "F16", 8192, False),
    ]


def model_file(case: Case, folder: Path, tokenizer: Path | None) -> Path:
    path = folder / f"{case.model}-{case.file_type}.gguf"
    if path.exists():
        return path
    if case.model == "starter":
        from app.core.models.library import starter_model_path
        from app.core.quantize.expand import expand_to_f16
        from app.core.quantize.quantizer import quantize_file

        f16 = folder / "starter-F16.gguf"
        if not f16.exists():
            expand_to_f16(starter_model_path(), f16)
        if case.file_type != "F16":
            quantize_file(f16, path, case.file_type)
        return path
    from tests.bench.random_model import SHAPES, read_tokenizer, write_model

    if tokenizer is None:
        from app.core.models.library import starter_model_path

        tokenizer = starter_model_path()
    write_model(SHAPES[case.model], read_tokenizer(tokenizer), path, case.file_type)
    return path


def case_facts(case: Case, folder: Path | None) -> ModelFacts:
    """The header facts of a case's file: read from the file where it is still there, else rebuilt from its
    shape (random_model.shape_facts: the same tensors and types, without writing the file)."""
    path = folder / f"{case.model}-{case.file_type}.gguf" if folder else None
    if path is not None and path.exists():
        return read_gguf_facts(path)
    from tests.bench.random_model import SHAPES, shape_facts

    return shape_facts(SHAPES[case.model], case.file_type)


def rescore(rows: list[dict[str, object]], folder: Path | None, device: str) -> list[dict[str, object]]:
    """The rows of an earlier run (its measurements) with the estimate recomputed by the current code."""
    repack = repacked_types(("AVX2",))
    out = []
    for r in rows:
        case = Case(str(r["model"]), str(r["type"]), int(r["n_ctx"]), bool(r["fitted"]))  # type: ignore[call-overload]
        est = estimate_file(case_facts(case, folder), case.n_ctx, -1 if device == "gpu" else 0, repack=repack)
        new = dict(r, est_cpu=est.cpu.total, est_gpu=est.gpu.total,
                   est_terms_cpu=[est.cpu.weights, est.cpu.kv_cache, est.cpu.compute, est.cpu.overhead],
                   est_terms_gpu=[est.gpu.weights, est.gpu.kv_cache, est.gpu.compute, est.gpu.overhead])
        measured = r["vram_process"] if device == "gpu" else r["rss_growth"]
        new["error"] = error(est.gpu.total if device == "gpu" else est.cpu.total, measured)  # type: ignore[arg-type]
        new["rss_error"] = error(est.cpu.total, r["rss_growth"])  # type: ignore[arg-type]
        out.append(new)
    return out


def error(est: int, measured: int | None) -> float | None:
    return None if not measured else (est - measured) / measured


def row(case: Case, est: MemoryEstimate, m: Measured, device: str) -> dict[str, object]:
    data: dict[str, object] = {
        "model": case.model, "type": case.file_type, "n_ctx": case.n_ctx, "fitted": case.fitted,
        "context_tokens": m.context_tokens, "est_cpu": est.cpu.total, "rss_growth": m.rss_growth,
        "est_gpu": est.gpu.total, "vram_process": m.vram_process, "vram_growth": m.vram_growth,
        "est_terms_cpu": [est.cpu.weights, est.cpu.kv_cache, est.cpu.compute, est.cpu.overhead],
        "est_terms_gpu": [est.gpu.weights, est.gpu.kv_cache, est.gpu.compute, est.gpu.overhead],
        "logged": {"model": m.model_buffers, "kv": m.kv_buffers, "compute": m.compute_buffers,
                   "output": m.output_buffers},
    }
    data["error"] = error(est.gpu.total, m.vram_process) if device == "gpu" else error(est.cpu.total, m.rss_growth)
    data["rss_error"] = error(est.cpu.total, m.rss_growth)
    return data


def worst_error(rows: list[dict[str, object]]) -> float:
    """The largest |error| of any row, the RAM side of a GPU run included."""
    errors = [r[k] for r in rows for k in ("error", "rss_error")]
    return max((abs(e) for e in errors if isinstance(e, float)), default=0.0)


def mib(n: object) -> str:
    return "–" if not isinstance(n, int) else f"{n / MIB:,.1f}"


def pct(x: object) -> str:
    return "–" if not isinstance(x, float) else f"{x:+.1%}"


def print_tables(rows: list[dict[str, object]], device: str) -> None:
    for fitted in (True, False):
        title = "Fitted cases (the constants were fitted on these models)" if fitted else \
            "Held-out cases (no constant was fitted on these shapes or contexts)"
        print(f"\n{title}\n")
        if device == "gpu":
            print("| model | type | context | estimate VRAM (MiB) | measured VRAM (MiB) | error | estimate RAM | "
                  "measured RSS growth | error |")
            print("|---|---|---|---|---|---|---|---|---|")
        else:
            print("| model | type | context (filled) | estimate (MiB) | measured RSS growth (MiB) | error |")
            print("|---|---|---|---|---|---|")
        for r in rows:
            if r["fitted"] != fitted:
                continue
            head = f"| {r['model']} | {r['type']} | {r['n_ctx']} ({r['context_tokens']}) |"
            if device == "gpu":
                print(f"{head} {mib(r['est_gpu'])} | {mib(r['vram_process'])} | {pct(r['error'])} | "
                      f"{mib(r['est_cpu'])} | {mib(r['rss_growth'])} | {pct(r['rss_error'])} |")
            else:
                print(f"{head} {mib(r['est_cpu'])} | {mib(r['rss_growth'])} | {pct(r['error'])} |")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", choices=("cpu", "gpu"), default="cpu")
    parser.add_argument("--models", type=Path, default=None, help="folder for the model files (kept)")
    parser.add_argument("--tokenizer", type=Path, default=None, help="a GGUF with the tokenizer (default: starter)")
    parser.add_argument("--only", default="", help="run only cases whose model name contains this")
    parser.add_argument("--types", default="", help="run only cases of these file types (comma-separated)")
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--delete", action="store_true", help="delete each model file after its last case")
    parser.add_argument("--from-json", type=Path, default=None,
                        help="print an earlier run's measurements against the current estimate (measures nothing)")
    args = parser.parse_args()
    if args.from_json:
        rows = rescore(json.loads(args.from_json.read_text()), args.models, args.device)
        print_tables(rows, args.device)
        worst = worst_error(rows)
        print(f"\nworst |error| {worst:.2%} (limit {LIMIT:.0%})")
        return 0 if worst <= LIMIT else 1
    folder = args.models or Path(tempfile.mkdtemp(prefix="quantdesk-estimate-"))
    folder.mkdir(parents=True, exist_ok=True)
    repack = repacked_types(read_cpu().features)
    gpu_layers = -1 if args.device == "gpu" else 0
    types = {t.strip().upper() for t in args.types.split(",") if t.strip()}
    todo = [c for c in cases(args.device) if args.only in c.model and (not types or c.file_type in types)]
    rows: list[dict[str, object]] = []
    started = time.perf_counter()
    for i, case in enumerate(todo):
        path = model_file(case, folder, args.tokenizer)
        facts = read_gguf_facts(path)
        est = estimate_file(facts, case.n_ctx, gpu_layers, repack=repack)
        m = measure(str(path), case.n_ctx, None, gpu_layers)
        rows.append(row(case, est, m, args.device))
        print(f"{case}: error {pct(rows[-1]['error'])} (RSS {pct(rows[-1]['rss_error'])}), "
              f"{time.perf_counter() - started:.0f} s", file=sys.stderr, flush=True)
        if args.json:
            args.json.write_text(json.dumps(rows, indent=1))
        later = todo[i + 1:]
        if args.delete and case.model != "starter" and not any(
                (c.model, c.file_type) == (case.model, case.file_type) for c in later):
            path.unlink()
    print_tables(rows, args.device)
    worst = worst_error(rows)
    print(f"\nworst |error| {worst:.2%} (limit {LIMIT:.0%}); {time.perf_counter() - started:.0f} s")
    return 0 if worst <= LIMIT else 1


if __name__ == "__main__":
    sys.exit(main())
