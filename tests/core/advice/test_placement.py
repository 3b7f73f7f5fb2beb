"""The chat loads a model where it fits: the estimate's placement decides the GPU layers."""

from __future__ import annotations

import dataclasses

from app.core.advice.placement import plan_load
from app.core.machine.hardware import BackendInfo, GpuInfo, read_hardware
from app.core.models.library import starter_model_path

GIB = 1024**3


def _with_gpu(free_bytes: int, offload: bool = True):  # type: ignore[no-untyped-def]
    real = read_hardware()
    gpu = GpuInfo(0, "NVIDIA GeForce RTX 3060", "NVIDIA", free_bytes + GIB // 2, GIB // 2, free_bytes, "580",
                  "8.6")
    return dataclasses.replace(real, gpus=(gpu,), backend=BackendInfo(offload, "CUDA : ARCHS = 860", "0.3.36"))


def test_a_cpu_only_build_loads_on_the_processor() -> None:
    plan = plan_load(starter_model_path(), 2048, _with_gpu(8 * GIB, offload=False))
    assert (plan.n_gpu_layers, plan.placement) == (0, "cpu")


def test_a_model_that_fits_goes_whole_onto_the_gpu() -> None:
    plan = plan_load(starter_model_path(), 2048, _with_gpu(8 * GIB))
    assert plan.placement == "gpu" and plan.n_gpu_layers == 31  # 30 blocks + the output layer


def test_a_card_just_too_small_gets_part_of_the_layers() -> None:
    # find the smallest free VRAM that takes the whole model, then offer a little less
    low, high = 0, 8 * GIB
    while high - low > 1024 * 1024:
        mid = (low + high) // 2
        if plan_load(starter_model_path(), 2048, _with_gpu(mid)).placement == "gpu":
            high = mid
        else:
            low = mid
    plan = plan_load(starter_model_path(), 2048, _with_gpu(high - 8 * 1024 * 1024))
    assert plan.placement == "partial"
    assert 0 < plan.n_gpu_layers < 31


def test_an_unreadable_file_is_left_to_llama_cpp(tmp_path) -> None:  # type: ignore[no-untyped-def]
    bad = tmp_path / "bad.gguf"
    bad.write_bytes(b"nope")
    plan = plan_load(bad, 2048, _with_gpu(8 * GIB))
    assert plan.n_gpu_layers == 0


def test_every_plan_says_where_and_why_with_the_estimate() -> None:
    plan = plan_load(starter_model_path(), 2048, _with_gpu(8 * GIB))
    assert plan.reason.startswith("Runs entirely on the NVIDIA GeForce RTX 3060: it fits.")
    assert "Needs about" in plan.reason and plan.estimate is not None and plan.estimate.gpu.total > 0
    cpu = plan_load(starter_model_path(), 2048, _with_gpu(8 * GIB, offload=False))
    assert cpu.reason.startswith("Runs on the processor: llama.cpp here runs on the processor only.")
    assert cpu.estimate is not None and cpu.estimate.gpu.total == 0


def test_a_person_can_override_the_placement() -> None:
    hardware = _with_gpu(8 * GIB)
    cpu = plan_load(starter_model_path(), 2048, hardware, choice="cpu")
    assert (cpu.n_gpu_layers, cpu.placement) == (0, "cpu") and "as you chose" in cpu.reason
    some = plan_load(starter_model_path(), 2048, hardware, choice="12")
    assert (some.n_gpu_layers, some.placement) == (12, "partial")
    assert some.reason.startswith("12 of its 31 layers on the NVIDIA GeForce RTX 3060, as you chose.")
    whole = plan_load(starter_model_path(), 2048, _with_gpu(10 * 1024 * 1024), choice="gpu")
    assert whole.n_gpu_layers == 31 and "does not fit there" in whole.reason  # told, not refused
    none = plan_load(starter_model_path(), 2048, _with_gpu(8 * GIB, offload=False), choice="gpu")
    assert none.n_gpu_layers == 0 and "you chose the graphics card, but" in none.reason
