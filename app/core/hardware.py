"""What the machine has: CPU, RAM, NVIDIA GPUs (through NVML), and what the installed llama.cpp can use.

Every readout is a frozen dataclass. Nothing here raises for missing hardware or drivers: a machine
without an NVIDIA driver simply has no NVIDIA GPUs in the report.
"""

from __future__ import annotations

import contextlib
import logging
import os
import platform
import re
from dataclasses import dataclass, field
from pathlib import Path

import psutil

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CpuInfo:
    name: str
    physical_cores: int
    logical_cores: int
    features: tuple[str, ...]  # the SIMD features llama.cpp cares about: AVX2, AVX512F, NEON...


@dataclass(frozen=True)
class MemoryInfo:
    total_bytes: int
    available_bytes: int

    @property
    def used_bytes(self) -> int:
        return self.total_bytes - self.available_bytes


@dataclass(frozen=True)
class GpuInfo:
    index: int
    name: str
    vendor: str
    total_bytes: int
    used_bytes: int
    free_bytes: int
    driver: str = ""
    compute_capability: str = ""


@dataclass(frozen=True)
class BackendInfo:
    """What the installed llama.cpp was built with."""

    gpu_offload: bool
    system_info: str
    version: str


@dataclass(frozen=True)
class HardwareReport:
    cpu: CpuInfo
    memory: MemoryInfo
    gpus: tuple[GpuInfo, ...]
    backend: BackendInfo | None
    os: str
    warnings: tuple[str, ...] = field(default_factory=tuple)


_SIMD_FLAGS = {"avx": "AVX", "avx2": "AVX2", "fma": "FMA", "f16c": "F16C", "avx512f": "AVX512F",
               "avx512_vnni": "AVX512_VNNI", "avx512_bf16": "AVX512_BF16", "amx_int8": "AMX_INT8",
               "asimd": "NEON", "sve": "SVE"}


def read_cpu() -> CpuInfo:
    name = platform.processor() or platform.machine()
    features: list[str] = []
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        text = cpuinfo.read_text(encoding="utf-8", errors="replace")
        m = re.search(r"^model name\s*:\s*(.+)$", text, re.MULTILINE)
        if m:
            name = m.group(1).strip()
        flags = re.search(r"^(?:flags|Features)\s*:\s*(.+)$", text, re.MULTILINE)
        if flags:
            present = set(flags.group(1).split())
            features = [label for flag, label in _SIMD_FLAGS.items() if flag in present]
    elif platform.machine() in ("arm64", "aarch64"):
        features = ["NEON"]
    return CpuInfo(
        name=name,
        physical_cores=psutil.cpu_count(logical=False) or os.cpu_count() or 1,
        logical_cores=psutil.cpu_count(logical=True) or os.cpu_count() or 1,
        features=tuple(features),
    )


def read_memory() -> MemoryInfo:
    vm = psutil.virtual_memory()
    return MemoryInfo(total_bytes=int(vm.total), available_bytes=int(vm.available))


def read_nvidia_gpus() -> tuple[GpuInfo, ...]:
    """NVIDIA GPUs through NVML; an empty tuple when there is no driver or no GPU."""
    try:
        import pynvml
    except ImportError:
        return ()
    try:
        pynvml.nvmlInit()
    except Exception as error:  # NVMLError_LibraryNotFound, DriverNotLoaded...: no NVIDIA GPU to use
        log.debug("NVML unavailable: %s", error)
        return ()
    gpus: list[GpuInfo] = []
    try:
        driver = _text(pynvml.nvmlSystemGetDriverVersion())
        for i in range(pynvml.nvmlDeviceGetCount()):
            handle = pynvml.nvmlDeviceGetHandleByIndex(i)
            mem = pynvml.nvmlDeviceGetMemoryInfo(handle)
            try:
                major, minor = pynvml.nvmlDeviceGetCudaComputeCapability(handle)
                cc = f"{major}.{minor}"
            except Exception:
                cc = ""
            gpus.append(GpuInfo(i, _text(pynvml.nvmlDeviceGetName(handle)), "NVIDIA", int(mem.total),
                                int(mem.used), int(mem.free), driver, cc))
    except Exception as error:
        log.warning("NVML readout failed: %s", error)
    finally:
        with contextlib.suppress(Exception):
            pynvml.nvmlShutdown()
    return tuple(gpus)


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def read_backend() -> BackendInfo | None:
    """What llama.cpp offers here; None if llama-cpp-python is missing."""
    try:
        import llama_cpp
    except ImportError:
        return None
    return BackendInfo(
        gpu_offload=bool(llama_cpp.llama_supports_gpu_offload()),
        system_info=llama_cpp.llama_print_system_info().decode("utf-8", errors="replace").strip(),
        version=getattr(llama_cpp, "__version__", "?"),
    )


def build_warnings(gpus: tuple[GpuInfo, ...], backend: BackendInfo | None) -> tuple[str, ...]:
    warnings: list[str] = []
    if backend is None:
        warnings.append("llama.cpp (llama-cpp-python) is not installed, so no model can run. "
                        "Run `python3 bootstrap.py setup`.")
    elif any(g.vendor == "NVIDIA" for g in gpus) and not backend.gpu_offload:
        warnings.append(
            "You have an NVIDIA GPU, but the installed llama.cpp was built for the CPU only, so models "
            "will run slowly on the processor. To use the GPU, rebuild it with CUDA: "
            "CMAKE_ARGS=\"-DGGML_CUDA=on\" python3 bootstrap.py setup (needs the CUDA toolkit)."
        )
    return tuple(warnings)


def read_hardware() -> HardwareReport:
    gpus = read_nvidia_gpus()
    backend = read_backend()
    return HardwareReport(
        cpu=read_cpu(),
        memory=read_memory(),
        gpus=gpus,
        backend=backend,
        os=f"{platform.system()} {platform.release()} ({platform.machine()})",
        warnings=build_warnings(gpus, backend),
    )


@dataclass(frozen=True)
class MemorySnapshot:
    """One live readout for the status bar: the system's RAM and one process's (the engine's) memory."""

    system_used_bytes: int
    system_total_bytes: int
    process_rss_bytes: int | None


def read_memory_snapshot(pid: int | None) -> MemorySnapshot:
    vm = psutil.virtual_memory()
    rss: int | None = None
    if pid is not None:
        try:
            rss = int(psutil.Process(pid).memory_info().rss)
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            rss = None
    return MemorySnapshot(int(vm.total - vm.available), int(vm.total), rss)
