"""The recommendation: headroom rules, placement, the choice rules and the one sentence."""

from __future__ import annotations

from dataclasses import replace

import pytest

from app.core.advice.recommend import (
    RAM_RESERVE_MIN,
    budget_for,
    choose,
    gpu_budget,
    ram_budget,
    recommend,
)
from app.core.advice.split import GPU_RESERVE_MIN
from app.core.machine.hardware import BackendInfo, CpuInfo, GpuInfo, HardwareReport, MemoryInfo
from tests.fixtures.model_shapes import llama3_8b_facts

GB = 1024**3


def machine(
    ram_free: float,
    gpu_free: float | None = None,
    gpu_name: str = "NVIDIA GeForce RTX 3060",
    offload: bool = True,
    cores: int = 8,
) -> HardwareReport:
    gpus: tuple[GpuInfo, ...] = ()
    if gpu_free is not None:
        total = int(max(gpu_free + 0.5, 12) * GB)
        gpus = (
            GpuInfo(
                0,
                gpu_name,
                "NVIDIA",
                total,
                total - int(gpu_free * GB),
                int(gpu_free * GB),
                "550.1",
                "8.6",
                usable_by_llama=offload,
            ),
        )
    return HardwareReport(
        CpuInfo("Test CPU", cores, cores * 2, ("AVX", "AVX2")),
        MemoryInfo(int(max(ram_free * 1.25, 16) * GB), int(ram_free * GB)),
        gpus,
        BackendInfo(offload, "", "0.3.36"),
        "Test OS",
    )


def test_headroom_rules() -> None:
    assert ram_budget(8 * GB, 16 * GB) == 8 * GB - int(1.6 * GB)  # 10 % of 16 GB is more than 1 GB
    assert ram_budget(4 * GB, 8 * GB) == 3 * GB  # at least 1 GB kept
    assert RAM_RESERVE_MIN == GB and GPU_RESERVE_MIN == 512 * 1024**2
    card = GpuInfo(0, "X", "NVIDIA", 24 * GB, 4 * GB, 20 * GB)
    assert gpu_budget(card) == 20 * GB - int(0.05 * 24 * GB)
    small = GpuInfo(0, "X", "NVIDIA", 4 * GB, 0, 4 * GB)
    assert gpu_budget(small) == 4 * GB - GPU_RESERVE_MIN
    apple = GpuInfo(
        0,
        "Apple M2 GPU",
        "Apple",
        16 * GB,
        4 * GB,
        12 * GB,
        unified_memory=True,
        working_set_limit_bytes=int(16 * GB * 2 / 3),
    )
    assert apple.usable_bytes == int(16 * GB * 2 / 3)


def test_big_gpu_runs_q8_whole_and_says_why_not_f16() -> None:
    rec = recommend(
        llama3_8b_facts(), machine(ram_free=24, gpu_free=23.5, gpu_name="NVIDIA GeForce RTX 4090"), 8192
    )
    assert rec.recommended == "Q8_0" and rec.option("Q8_0").placement == "gpu"
    assert rec.option("F16").placement == "gpu"  # it fits, but is never the recommendation
    assert "fits entirely in your NVIDIA GeForce RTX 4090" in rec.sentence and "F16" in rec.sentence


def test_gpu_gets_the_best_level_that_fits_whole() -> None:
    rec = recommend(llama3_8b_facts(), machine(ram_free=24, gpu_free=9.0), 8192)
    q8, q6 = rec.option("Q8_0"), rec.option("Q6_K")
    assert q8.placement == "partial" and q6.placement == "gpu"
    assert rec.recommended == "Q6_K"
    assert rec.sentence.startswith("Q6_K fits entirely in your NVIDIA GeForce RTX 3060 with")
    assert "Q8_0 would not fit entirely on the GPU with a context of 8192 tokens" in rec.sentence


def test_small_gpu_prefers_q4_partly_offloaded_to_q2_whole() -> None:
    rec = recommend(llama3_8b_facts(), machine(ram_free=24, gpu_free=5.0), 4096)
    assert rec.option("Q2_K").placement == "gpu"
    chosen = rec.option(rec.recommended or "")
    assert rec.recommended in ("Q8_0", "Q6_K", "Q5_K_M", "Q4_K_M") and chosen.placement == "partial"
    assert 0 < chosen.n_gpu_layers < 33


def test_cpu_only_build_ignores_the_gpu() -> None:
    rec = recommend(llama3_8b_facts(), machine(ram_free=24, gpu_free=23.5, offload=False), 4096)
    assert all(o.placement in ("cpu", "none") for o in rec.options)
    assert budget_for(machine(ram_free=24, gpu_free=23.5, offload=False)).gpu is None


def test_cpu_speed_rule_picks_a_faster_level() -> None:
    rec = recommend(llama3_8b_facts(), machine(ram_free=24, cores=8), 4096)
    assert all(o.placement == "cpu" for o in rec.options)
    chosen = rec.option(rec.recommended or "")
    slower = [o for o in rec.options[: [o.type for o in rec.options].index(chosen.type)] if o.type != "F16"]
    assert all((o.tokens_per_second or 0) < 8 for o in slower)  # every better level is below reading speed
    assert "runs on your processor" in rec.sentence and "tokens/s" in rec.sentence


def test_never_recommends_what_does_not_fit() -> None:
    rec = recommend(llama3_8b_facts(), machine(ram_free=7), 8192)
    fitting = {o.type for o in rec.options if o.placement != "none"}
    assert (
        rec.recommended in fitting and "Q4_K_M" not in fitting
    )  # below the floor only when nothing better fits
    nothing = recommend(llama3_8b_facts(), machine(ram_free=2), 8192)
    assert nothing.recommended is None and all(o.placement == "none" for o in nothing.options)
    assert nothing.sentence.startswith("Nothing fits: even Q2_K needs")
    assert choose(nothing.options) is None


def test_context_length_changes_the_answer() -> None:
    short = recommend(llama3_8b_facts(), machine(ram_free=24, gpu_free=9.5), 2048)
    long = recommend(llama3_8b_facts(), machine(ram_free=24, gpu_free=9.5), 8192)
    assert long.option("Q6_K").memory.total > short.option("Q6_K").memory.total
    order = [o.type for o in short.options]
    assert order.index(long.recommended or "") >= order.index(short.recommended or "")


def test_unified_memory_must_fit_ram_too() -> None:
    apple = GpuInfo(
        0,
        "Apple M2 Pro GPU",
        "Apple",
        16 * GB,
        8 * GB,
        8 * GB,
        unified_memory=True,
        working_set_limit_bytes=int(16 * GB * 2 / 3),
    )
    hw = replace(machine(ram_free=6), gpus=(apple,))
    rec = recommend(llama3_8b_facts(), hw, 4096)
    for o in rec.options:
        if o.placement in ("gpu", "partial"):
            assert o.memory.total <= ram_budget(6 * GB, hw.memory.total_bytes)


def test_json_shape_for_a_gguf_file() -> None:
    from app.core.models.facts import read_gguf_facts
    from app.core.models.library import starter_model_path

    rec = recommend(read_gguf_facts(starter_model_path()), machine(ram_free=8), 2048)
    data = rec.to_json()
    assert data["recommended"] == rec.recommended and data["this_file"]["type"] == "Q4_1"
    for option in [*data["options"], data["this_file"]]:
        assert set(option) >= {"type", "file_bytes", "memory", "placement", "n_gpu_layers"}
        assert set(option["memory"]) >= {"weights", "kv_cache", "compute", "total"}
    assert data["options"][1]["quality"]["source"] == "measured on Llama-3-8B by llama.cpp"
    assert data["this_file"]["file_bytes"] == starter_model_path().stat().st_size


@pytest.mark.parametrize("ctx", [512, 8192])
def test_options_cover_every_level_in_quality_order(ctx: int) -> None:
    rec = recommend(llama3_8b_facts(), machine(ram_free=24), ctx)
    assert [o.type for o in rec.options] == ["F16", "Q8_0", "Q6_K", "Q5_K_M", "Q4_K_M", "Q3_K_M", "Q2_K"]
    sizes = [o.file_bytes for o in rec.options]
    assert sizes == sorted(sizes, reverse=True)


def test_partial_placement_by_bisection_matches_the_layer_by_layer_answer() -> None:
    from app.core.advice.estimate import estimate_memory
    from app.core.advice.recommend import place
    from app.core.quants import quant_type

    facts = llama3_8b_facts()
    q8 = quant_type("Q8_0")
    budget = budget_for(machine(ram_free=40, gpu_free=6))

    def make(layers: int):  # type: ignore[no-untyped-def]
        return estimate_memory(facts, q8, 4096, n_gpu_layers=layers)

    placement, est, _ = place(facts, (), make, budget)
    assert placement == "partial"
    fitting = [k for k in range(1, facts.n_layers + 1) if make(k).gpu.total <= (budget.gpu or 0)]
    assert est.n_gpu_layers == max(fitting)


def test_a_header_claiming_thousands_of_layers_places_in_a_dozen_estimates() -> None:
    from app.core.advice.estimate import estimate_memory
    from app.core.advice.recommend import place
    from app.core.quants import quant_type

    facts = replace(llama3_8b_facts(), n_layers=5000, swa_layers=(False,) * 5000)
    asked: list[int] = []

    def make(layers: int):  # type: ignore[no-untyped-def]
        asked.append(layers)
        return estimate_memory(llama3_8b_facts(), quant_type("Q4_K_M"), 4096, n_gpu_layers=min(layers, 20))

    place(facts, (), make, budget_for(machine(ram_free=40, gpu_free=4)))
    assert len(asked) <= 15  # the full model, then a bisection over 5000 layer counts


def test_vram_cap_stands_in_for_a_smaller_card() -> None:
    big = machine(ram_free=64, gpu_free=80, gpu_name="NVIDIA H100 80GB HBM3")
    capped = replace(big, gpus=tuple(replace(g, limit_bytes=4 * 10**9) for g in big.gpus))
    assert budget_for(capped).gpu == 4 * 10**9 - GPU_RESERVE_MIN  # 5 % of 4 GB is less than 512 MiB
    facts = llama3_8b_facts()
    free, small = recommend(facts, big).option("Q8_0"), recommend(facts, capped).option("Q8_0")
    assert free.placement == "gpu" and small.placement == "partial"
    assert small.memory.gpu.total <= (budget_for(capped).gpu or 0)
