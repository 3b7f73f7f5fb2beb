"""GPU readouts: NVML faked at its module boundary (a fake `pynvml` in sys.modules), Apple unified memory,
other GPUs from a sysfs tree, and the warnings when hardware and the llama.cpp build disagree."""

from __future__ import annotations

import types
from pathlib import Path

import pytest

from app.core.machine import hardware
from app.core.machine.hardware import (
    BackendInfo,
    MemoryInfo,
    apple_working_set_limit,
    build_warnings,
    read_apple_gpu,
    read_nvidia_gpus,
    read_sysfs_gpus,
)

GB = 1024**3


class NVMLError(Exception):
    pass


def fake_pynvml(
    gpus: list[dict[str, object]], init_error: bool = False, processes_error: bool = False, my_pid: int = 4242
) -> types.ModuleType:
    """A stand-in for nvidia-ml-py's `pynvml` module with the calls hardware.py makes."""
    mod = types.ModuleType("pynvml")
    state = {"init": 0, "shutdown": 0}

    def init() -> None:
        if init_error:
            raise NVMLError("NVML Shared Library Not Found")
        state["init"] += 1

    mod.nvmlInit = init  # type: ignore[attr-defined]
    mod.nvmlShutdown = lambda: state.__setitem__("shutdown", state["shutdown"] + 1)  # type: ignore[attr-defined]
    mod.nvmlSystemGetDriverVersion = lambda: b"550.54.15"  # type: ignore[attr-defined]
    mod.nvmlDeviceGetCount = lambda: len(gpus)  # type: ignore[attr-defined]
    mod.nvmlDeviceGetHandleByIndex = lambda i: gpus[i]  # type: ignore[attr-defined]
    mod.nvmlDeviceGetName = lambda h: h["name"]  # type: ignore[attr-defined]
    mod.nvmlDeviceGetMemoryInfo = lambda h: types.SimpleNamespace(  # type: ignore[attr-defined]
        total=h["total"], used=h["used"], free=h["total"] - h["used"]
    )  # type: ignore[operator]
    mod.nvmlDeviceGetCudaComputeCapability = lambda h: (9, 0)  # type: ignore[attr-defined]

    def processes(h: dict[str, object]) -> list[types.SimpleNamespace]:
        if processes_error:
            raise NVMLError("Not Supported")
        return [types.SimpleNamespace(pid=pid, usedGpuMemory=used) for pid, used in h["procs"].items()]  # type: ignore[attr-defined]

    mod.nvmlDeviceGetComputeRunningProcesses = processes  # type: ignore[attr-defined]
    mod.state = state  # type: ignore[attr-defined]
    return mod


H100 = {
    "name": "NVIDIA H100 80GB HBM3",
    "total": 80 * GB,
    "used": 5 * GB,
    "procs": {4242: 3 * GB, 99: 2 * GB},
}


def test_nvml_readout_with_this_process_vram(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = fake_pynvml([H100])
    monkeypatch.setitem(__import__("sys").modules, "pynvml", fake)
    (gpu,) = read_nvidia_gpus(pid=4242)
    assert (gpu.name, gpu.vendor, gpu.driver, gpu.compute_capability) == (
        "NVIDIA H100 80GB HBM3",
        "NVIDIA",
        "550.54.15",
        "9.0",
    )
    assert (gpu.total_bytes, gpu.used_bytes, gpu.free_bytes) == (80 * GB, 5 * GB, 75 * GB)
    assert gpu.process_used_bytes == 3 * GB and gpu.usable_bytes == 75 * GB
    assert read_nvidia_gpus(pid=7)[0].process_used_bytes == 0  # a process with nothing on the GPU
    assert fake.state["shutdown"] == fake.state["init"] == 2


def test_nvml_without_process_list_still_reads(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(__import__("sys").modules, "pynvml", fake_pynvml([H100], processes_error=True))
    (gpu,) = read_nvidia_gpus()
    assert gpu.process_used_bytes is None and gpu.total_bytes == 80 * GB


def test_no_driver_means_no_gpu_and_no_crash(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(__import__("sys").modules, "pynvml", fake_pynvml([H100], init_error=True))
    assert read_nvidia_gpus() == ()


def test_cpu_only_build_with_nvidia_gpu_warns_with_the_fix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(__import__("sys").modules, "pynvml", fake_pynvml([H100]))
    gpus = read_nvidia_gpus()
    (warning,) = build_warnings(gpus, BackendInfo(False, "CPU : AVX2 = 1", "0.3.36"))
    assert "built for the CPU only" in warning and "GGML_CUDA=on" in warning
    assert build_warnings(gpus, BackendInfo(True, "CUDA", "0.3.36")) == ()


def test_read_hardware_marks_gpus_unusable_for_a_cpu_only_build(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(__import__("sys").modules, "pynvml", fake_pynvml([H100]))
    monkeypatch.setattr(hardware, "read_backend", lambda: BackendInfo(False, "CPU", "0.3.36"))
    report = hardware.read_hardware()
    assert [g.usable_by_llama for g in report.gpus if g.vendor == "NVIDIA"] == [False]
    assert any("CPU only" in w for w in report.warnings)
    assert report.to_json()["gpus"][0]["usable_bytes"] == 75 * GB


def test_apple_silicon_unified_memory_and_working_set() -> None:
    mem = MemoryInfo(16 * GB, 10 * GB)
    (gpu,) = read_apple_gpu("Darwin", "arm64", "Apple M2 Pro", mem)
    assert gpu.unified_memory and gpu.vendor == "Apple" and gpu.name == "Apple M2 Pro GPU"
    assert gpu.working_set_limit_bytes == apple_working_set_limit(16 * GB) < 16 * GB
    assert gpu.usable_bytes == gpu.working_set_limit_bytes
    assert apple_working_set_limit(64 * GB) == 48 * GB  # three quarters above 36 GB
    assert read_apple_gpu("Linux", "x86_64", "AMD", mem) == ()
    assert read_apple_gpu("Darwin", "x86_64", "Intel", mem) == ()  # Intel Macs: no unified memory GPU


def _card(root: Path, name: str, vendor: str, **files: str) -> None:
    device = root / name / "device"
    device.mkdir(parents=True)
    (device / "vendor").write_text(vendor + "\n")
    for key, value in files.items():
        (device / key).write_text(value + "\n")


def test_other_gpus_by_name_from_sysfs(tmp_path: Path) -> None:
    _card(
        tmp_path,
        "card0",
        "0x1002",
        product_name="AMD Radeon RX 7900 XTX",
        mem_info_vram_total=str(24 * GB),
        mem_info_vram_used=str(GB),
    )
    _card(tmp_path, "card1", "0x8086", device="0x56a0")
    _card(tmp_path, "card2", "0x10de")
    (tmp_path / "card0-HDMI-A-1").mkdir()
    gpus = read_sysfs_gpus(tmp_path)
    assert [(g.vendor, g.name) for g in gpus] == [
        ("AMD", "AMD Radeon RX 7900 XTX"),
        ("Intel", "Intel GPU (device 0x56a0)"),
    ]
    assert gpus[0].total_bytes == 24 * GB and gpus[0].free_bytes == 23 * GB
    assert not any(g.usable_by_llama for g in gpus)
    no_driver = read_sysfs_gpus(tmp_path, skip_vendors=())
    assert any(g.vendor == "NVIDIA" and not g.driver for g in no_driver)
    assert any("driver is not working" in w for w in build_warnings(no_driver, BackendInfo(False, "", "")))
    assert read_sysfs_gpus(tmp_path / "missing") == ()


def test_memory_snapshot_reports_the_engine_vram(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    from app.core.machine.hardware import read_memory_snapshot

    me = os.getpid()
    gpu = dict(H100, procs={me: 3 * GB, 99: 2 * GB})
    monkeypatch.setitem(__import__("sys").modules, "pynvml", fake_pynvml([gpu, dict(gpu, procs={me: GB})]))
    snap = read_memory_snapshot(me, with_vram=True)
    assert snap.process_vram_bytes == 4 * GB  # summed over both GPUs
    assert snap.process_rss_bytes is not None and snap.process_rss_bytes > 0
    assert read_memory_snapshot(me).process_vram_bytes is None  # NVML only when asked
    monkeypatch.setitem(__import__("sys").modules, "pynvml", fake_pynvml([H100], init_error=True))
    assert read_memory_snapshot(me, with_vram=True).process_vram_bytes is None  # no driver: no figure


def test_gpu_memory_limit_setting_caps_what_plans_use(monkeypatch: pytest.MonkeyPatch) -> None:
    from app.core.settings import set_setting

    monkeypatch.setitem(__import__("sys").modules, "pynvml", fake_pynvml([H100]))
    monkeypatch.setattr(hardware, "read_backend", lambda: BackendInfo(True, "CUDA", "0.3.36", ("NVIDIA H100",)))
    set_setting("gpu_memory_limit_gb", 8)
    try:
        (gpu,) = [g for g in hardware.read_hardware().gpus if g.vendor == "NVIDIA"]
    finally:
        set_setting("gpu_memory_limit_gb", 0)
    assert gpu.limit_bytes == 8 * 10**9 and gpu.usable_bytes == 8 * 10**9 and gpu.planned_total_bytes == 8 * 10**9
    assert gpu.free_bytes == 75 * GB  # the readout itself stays true


def test_a_build_with_only_rpc_has_no_gpu(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(__import__("sys").modules, "pynvml", fake_pynvml([H100]))
    rpc_only = BackendInfo(True, "CPU : AVX2 = 1", "0.3.36", gpus=())  # llama_supports_gpu_offload() says yes
    monkeypatch.setattr(hardware, "read_backend", lambda: rpc_only)
    assert not rpc_only.has_gpu
    assert [g.usable_by_llama for g in hardware.read_hardware().gpus if g.vendor == "NVIDIA"] == [False]


def test_live_readout_has_each_cards_share(monkeypatch: pytest.MonkeyPatch) -> None:
    """A model split across two cards: the snapshot gives the engine's VRAM on each (NVML's process lists)."""
    from app.core.machine.hardware import read_memory_snapshot

    pid = __import__("os").getpid()
    cards = [{"name": "NVIDIA H200", "total": 140 * GB, "used": 5 * GB, "procs": {pid: 3 * GB, 99: GB}},
             {"name": "NVIDIA H200", "total": 140 * GB, "used": 4 * GB, "procs": {pid: 2 * GB}}]
    monkeypatch.setitem(__import__("sys").modules, "pynvml", fake_pynvml(cards))
    snap = read_memory_snapshot(pid, with_vram=True)
    assert snap.process_vram_bytes == 5 * GB
    assert snap.process_vram_per_gpu == ((0, 3 * GB), (1, 2 * GB))
    assert read_memory_snapshot(pid).process_vram_per_gpu == ()  # without NVML asked: RAM only
