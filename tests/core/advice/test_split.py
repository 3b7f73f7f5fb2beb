"""A model split across several devices: llama.cpp's layer assignment (hand-computed layer counts), the
per-device estimate and plan for a two-GPU machine whose NVML is faked at its module boundary, and the words."""

from __future__ import annotations

import sys
from dataclasses import replace

import pytest

from app.core.advice.estimate import CUDA_CONTEXT_BYTES, gpu_compute_bytes, kv_cache_bytes
from app.core.advice.quant_mix import predict_tensors
from app.core.advice.recommend import budget_for, file_option, recommend
from app.core.advice.split import GPU_RESERVE_SHARE, describe_layers, layer_devices, plan_devices, shares_for
from app.core.machine import hardware, llama_build
from app.core.machine.llama_build import BackendInfo
from app.core.machine.rpc_backend import RemoteDevice
from app.core.quants import BY_NAME
from tests.core.machine.test_hardware_gpus import fake_pynvml
from tests.fixtures.model_shapes import llama3_8b_facts

GIB = 1024**3


def test_even_split_of_every_layer() -> None:
    # 32 blocks + the output layer = 33 offloaded; split points [0.5, 1]: layer il goes to GPU 0 while il/33 < 0.5,
    # so blocks 0-16 (17 of them) on GPU 0, blocks 17-31 and the output layer on GPU 1
    placed = layer_devices(32, -1, (0.5, 0.5))
    assert placed[:17] == (0,) * 17 and placed[17:] == (1,) * 16
    words = describe_layers(32, placed, ["GPU 0", "GPU 1"])
    assert words == "layers 0–16 on GPU 0, 17–31 and the output layer on GPU 1"


def test_uneven_split_of_an_80_layer_model() -> None:
    # 81 offloaded, GPU 0 has three quarters: il/81 < 0.75 ⇔ il ≤ 60, so 61 blocks on GPU 0, 19 and the output on 1
    placed = layer_devices(80, 81, (0.75, 0.25))
    assert placed.count(0) == 61 and placed.count(1) == 20 and placed[60] == 0 and placed[61] == 1


def test_partial_offload_keeps_the_first_layers_on_the_cpu() -> None:
    # 20 of 33 offloaded: i_gpu_start = 33 - 20 = 13; of il 13..32, (il-13)/20 < 0.5 ⇔ il ≤ 22 on GPU 0
    placed = layer_devices(32, 20, (0.5, 0.5))
    assert placed[:13] == (None,) * 13
    assert placed[13:23] == (0,) * 10 and placed[23:] == (1,) * 10
    assert describe_layers(32, placed, ["GPU 0", "GPU 1"]) == (
        "layers 0–12 on the processor, 13–22 on GPU 0, 23–31 and the output layer on GPU 1")


def test_no_gpu_layers_says_the_processor() -> None:
    words = describe_layers(4, layer_devices(4, 0, (1.0,)), ["GPU 0"])
    assert words == "layers 0–3 and the output layer on the processor"


@pytest.fixture
def two_gpus(monkeypatch: pytest.MonkeyPatch) -> None:
    """A machine with two 24 GiB cards, 20 GiB and 10 GiB free, seen through a fake `pynvml`; the llama.cpp
    build is said to be a CUDA one with two devices (the build is asked of an engine process in the app)."""
    cards = [
        {"name": "NVIDIA RTX A5000", "total": 24 * GIB, "used": 4 * GIB, "procs": {}},
        {"name": "NVIDIA RTX A5000", "total": 24 * GIB, "used": 14 * GIB, "procs": {}},
    ]
    monkeypatch.setitem(sys.modules, "pynvml", fake_pynvml(cards))
    llama_build.set_backend_reader(lambda: BackendInfo(True, "CUDA : ARCHS = 860", "0.3.36", ("A5000", "A5000")))
    monkeypatch.setattr(hardware, "gpu_limit_bytes", lambda: None)
    yield
    llama_build.set_backend_reader(None)


def test_two_gpu_plan_against_hand_computed_layers(two_gpus: None) -> None:
    report = hardware.read_hardware()
    assert [(g.index, g.free_bytes) for g in report.gpus] == [(0, 20 * GIB), (1, 10 * GIB)]
    # budgets: free minus max(512 MiB, 5 % of 24 GiB = 1.2 GiB): 18.8 and 8.8 GiB → shares 0.6812 and 0.3188
    reserve = int(24 * GIB * GPU_RESERVE_SHARE)
    assert [d.budget for d in plan_devices(report)] == [20 * GIB - reserve, 10 * GIB - reserve]
    assert shares_for(plan_devices(report)) == (0.6812, 0.3188)
    facts = llama3_8b_facts()
    q4 = BY_NAME["Q4_K_M"]
    option = next(o for o in recommend(facts, report, 4096).options if o.type == "Q4_K_M")
    assert option.placement == "gpu" and option.n_gpu_layers == 33
    # il/33 < 0.6812 ⇔ il ≤ 22: blocks 0-22 (23) on GPU 0; blocks 23-31 (9) and the output layer on GPU 1
    gpu0, gpu1 = option.memory.devices
    tensors = {t.name: t.n_bytes for t in predict_tensors(facts, q4)}

    def blocks(first: int, last: int) -> int:
        return sum(n for name, n in tensors.items() if name.startswith("blk.")
                   and first <= int(name.split(".")[1]) <= last)

    assert gpu0.weights == blocks(0, 22)
    assert gpu1.weights == blocks(23, 31) + tensors["output.weight"] + tensors["output_norm.weight"]
    assert option.memory.cpu.weights == tensors["token_embd.weight"]
    assert gpu0.kv_cache == kv_cache_bytes(facts, 4096, range(0, 23))
    assert gpu1.kv_cache == kv_cache_bytes(facts, 4096, range(23, 32))
    assert gpu0.overhead == gpu1.overhead == CUDA_CONTEXT_BYTES  # each card has its own CUDA context
    # each card reserves its own compute buffer, with the pipeline's 4 copies of its inputs (every layer offloaded):
    # 4 × 512 × 4096 floats of residual stream and 3 more 4096-cell F16 masks = 32 + 12 MiB
    assert gpu0.compute == gpu1.compute == gpu_compute_bytes(facts, 4096, 512) + 44 * 2**20
    assert option.memory.gpu.total == gpu0.total + gpu1.total
    sentence = recommend(facts, report, 4096).sentence
    assert "layers 0–22 on GPU 0, 23–31 and the output layer on GPU 1" in sentence


def test_two_small_gpus_take_what_fits_and_the_rest_stays_on_the_cpu(two_gpus: None,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(hardware, "gpu_limit_bytes", lambda: 3 * 10**9)  # a 3 GB cap on each card
    report = hardware.read_hardware()
    facts = llama3_8b_facts()
    option = file_option(replace(facts, file_type="Q4_K_M", tensors=predict_tensors(facts, BY_NAME["Q4_K_M"])),
                         report, 4096)
    budgets = [d.budget for d in budget_for(report).devices]
    assert option.placement == "partial" and 0 < option.n_gpu_layers < 33
    assert all(m.total <= b for m, b in zip(option.memory.devices, budgets, strict=True))
    # one more layer would overflow a card: the plan takes as many as fit, no fewer
    from app.core.advice.estimate import estimate_file
    from app.core.advice.split import splitting

    file_facts = replace(facts, file_type="Q4_K_M", tensors=predict_tensors(facts, BY_NAME["Q4_K_M"]))
    make = splitting(file_facts, file_facts.tensors, budget_for(report).devices,
                     lambda n: estimate_file(file_facts, 4096, n))
    more = make(option.n_gpu_layers + 1)
    assert any(m.total > b for m, b in zip(more.devices, budgets, strict=True))


def test_remote_devices_come_first_and_are_planned_with_the_local_gpus(two_gpus: None) -> None:
    remote = (RemoteDevice("10.0.0.5:50052", 0, "RPC0", 40 * GIB, 48 * GIB),)
    report = replace(hardware.read_hardware(), remote_devices=remote)
    devices = plan_devices(report)
    assert [d.label for d in devices] == ["10.0.0.5:50052", "GPU 0", "GPU 1"]
    assert devices[0].remote and not devices[1].remote
    facts = llama3_8b_facts()
    option = next(o for o in recommend(facts, report, 4096).options if o.type == "Q4_K_M")
    assert len(option.memory.devices) == 3 and option.placement == "gpu"
