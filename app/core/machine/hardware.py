"""What the machine has: CPU, RAM, GPUs, and what the installed llama.cpp can use.

NVIDIA GPUs come from NVML; Apple Silicon's GPU shares the RAM (unified memory) and Metal lets it use only
part of it; other GPUs (AMD, Intel) are named from Linux's sysfs where visible. Every readout is a frozen
dataclass. Nothing here raises for missing hardware or drivers: a machine without an NVIDIA driver simply
has no NVIDIA GPUs in the report.
"""

from __future__ import annotations

import contextlib
import logging
import os
import platform
import re
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import psutil

from app.core.machine.llama_build import BackendInfo, read_backend
from app.core.machine.rpc_backend import RemoteDevice

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
    process_used_bytes: int | None = None  # VRAM this process (or the one asked about) holds, where NVML says
    unified_memory: bool = False  # shares the system RAM (Apple Silicon)
    working_set_limit_bytes: int | None = None  # how much of it Metal lets the GPU use (unified memory)
    usable_by_llama: bool = True  # False for GPUs the installed llama.cpp has no backend for
    limit_bytes: int | None = None  # the person's cap on what QuantDesk may use (settings: gpu_memory_limit_gb)

    @property
    def usable_bytes(self) -> int:
        """What a model may take on this GPU: free VRAM, or Metal's working-set limit on unified memory,
        within the person's cap."""
        usable = self.free_bytes
        if self.unified_memory and self.working_set_limit_bytes is not None:
            usable = self.working_set_limit_bytes
        return usable if self.limit_bytes is None else min(usable, self.limit_bytes)

    @property
    def planned_total_bytes(self) -> int:
        """The card's size as plans see it: the cap stands in for a smaller card."""
        return self.total_bytes if self.limit_bytes is None else min(self.total_bytes, self.limit_bytes)


@dataclass(frozen=True)
class HardwareReport:
    cpu: CpuInfo
    memory: MemoryInfo
    gpus: tuple[GpuInfo, ...]
    backend: BackendInfo | None
    os: str
    warnings: tuple[str, ...] = field(default_factory=tuple)
    # devices of other machines added through llama.cpp's RPC backend (read by a child: rpc_backend.py)
    remote_devices: tuple[RemoteDevice, ...] = ()

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        for gpu, raw in zip(self.gpus, data["gpus"], strict=True):
            raw["usable_bytes"] = gpu.usable_bytes
        return data


_SIMD_FLAGS = {
    "avx": "AVX",
    "avx2": "AVX2",
    "fma": "FMA",
    "f16c": "F16C",
    "avx512f": "AVX512F",
    "avx512_vnni": "AVX512_VNNI",
    "avx512_bf16": "AVX512_BF16",
    "amx_int8": "AMX_INT8",
    "asimd": "NEON",
    "sve": "SVE",
}


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
    if platform.system() == "Darwin":
        name = _sysctl("machdep.cpu.brand_string") or name  # "Apple M2 Pro"
    return CpuInfo(
        name=name,
        physical_cores=psutil.cpu_count(logical=False) or os.cpu_count() or 1,
        logical_cores=psutil.cpu_count(logical=True) or os.cpu_count() or 1,
        features=tuple(features),
    )


def _sysctl(key: str) -> str:
    import subprocess

    try:
        done = subprocess.run(["sysctl", "-n", key], capture_output=True, text=True, timeout=5, check=False)
    except (OSError, subprocess.SubprocessError):
        return ""
    return done.stdout.strip()


def read_memory() -> MemoryInfo:
    vm = psutil.virtual_memory()
    return MemoryInfo(total_bytes=int(vm.total), available_bytes=int(vm.available))


def read_nvidia_gpus(pid: int | None = None) -> tuple[GpuInfo, ...]:
    """NVIDIA GPUs through NVML; an empty tuple when there is no driver or no GPU.

    `pid`: whose VRAM to report as process_used_bytes (default: this process).
    """
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
            gpus.append(
                GpuInfo(
                    i,
                    _text(pynvml.nvmlDeviceGetName(handle)),
                    "NVIDIA",
                    int(mem.total),
                    int(mem.used),
                    int(mem.free),
                    driver,
                    cc,
                    _process_vram(pynvml, handle, os.getpid() if pid is None else pid),
                )
            )
    except Exception as error:
        log.warning("NVML readout failed: %s", error)
    finally:
        with contextlib.suppress(Exception):
            pynvml.nvmlShutdown()
    return tuple(gpus)


def _process_vram(pynvml: Any, handle: Any, pid: int) -> int | None:
    """VRAM `pid` holds on this GPU; None where NVML does not say (no permission, WSL, MIG)."""
    try:
        processes = list(pynvml.nvmlDeviceGetComputeRunningProcesses(handle))
    except Exception as error:
        log.debug("NVML process list unavailable: %s", error)
        return None
    for process in processes:
        if int(process.pid) == pid:
            used = getattr(process, "usedGpuMemory", None)
            return int(used) if used is not None else None
    return 0  # the process holds no memory on this GPU


# Metal's default limit on the GPU's share of unified memory (recommendedMaxWorkingSetSize): about two
# thirds of RAM up to 36 GB and three quarters above, as Apple's Metal reports on M-series Macs (llama.cpp
# prints it at load as "recommendedMaxWorkingSetSize"). Without Metal bindings QuantDesk uses this rule.
APPLE_WORKING_SET_SMALL = 2 / 3
APPLE_WORKING_SET_LARGE = 3 / 4
APPLE_LARGE_RAM = 36 * 1024**3


def apple_working_set_limit(total_ram: int) -> int:
    share = APPLE_WORKING_SET_LARGE if total_ram > APPLE_LARGE_RAM else APPLE_WORKING_SET_SMALL
    return int(total_ram * share)


def read_apple_gpu(system: str, machine: str, cpu_name: str, memory: MemoryInfo) -> tuple[GpuInfo, ...]:
    """Apple Silicon's GPU: it shares the RAM, of which Metal lets it use a working set below the total."""
    if system != "Darwin" or machine != "arm64":
        return ()
    return (
        GpuInfo(
            0,
            f"{cpu_name} GPU",
            "Apple",
            memory.total_bytes,
            memory.used_bytes,
            memory.available_bytes,
            unified_memory=True,
            working_set_limit_bytes=apple_working_set_limit(memory.total_bytes),
        ),
    )


_PCI_VENDORS = {"0x1002": "AMD", "0x8086": "Intel", "0x10de": "NVIDIA", "0x1ed5": "Moore Threads"}


def read_sysfs_gpus(
    drm: Path = Path("/sys/class/drm"), skip_vendors: tuple[str, ...] = ("NVIDIA",), first_index: int = 0
) -> tuple[GpuInfo, ...]:
    """Other GPUs by name where Linux shows them (AMD's driver also reports VRAM); NVIDIA comes from NVML."""
    gpus: list[GpuInfo] = []
    if not drm.is_dir():
        return ()
    for card in sorted(drm.glob("card[0-9]*")):
        if "-" in card.name:  # connectors (card0-HDMI-A-1), not devices
            continue
        device = card / "device"
        vendor = _PCI_VENDORS.get(_read(device / "vendor"), "")
        if not vendor or vendor in skip_vendors:
            continue
        name = _read(device / "product_name") or f"{vendor} GPU (device {_read(device / 'device') or '?'})"
        total = _read_int(device / "mem_info_vram_total")
        used = _read_int(device / "mem_info_vram_used")
        gpus.append(
            GpuInfo(
                first_index + len(gpus),
                name,
                vendor,
                total,
                used,
                max(total - used, 0),
                usable_by_llama=False,
            )
        )
    return tuple(gpus)


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace").strip()
    except OSError:
        return ""


def _read_int(path: Path) -> int:
    text = _read(path)
    return int(text) if text.isdigit() else 0


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def build_warnings(gpus: tuple[GpuInfo, ...], backend: BackendInfo | None) -> tuple[str, ...]:
    warnings: list[str] = []
    nvidia = [g for g in gpus if g.vendor == "NVIDIA"]
    if backend is None:
        warnings.append(
            "llama.cpp (llama-cpp-python) is not installed, so no model can run. "
            "Run `python3 bootstrap.py setup`."
        )
    elif any(g.driver for g in nvidia) and not backend.has_gpu:
        warnings.append(
            "You have an NVIDIA GPU, but the installed llama.cpp was built for the CPU only, so models "
            "will run slowly on the processor. To use the GPU, rebuild it with CUDA: "
            'CMAKE_ARGS="-DGGML_CUDA=on" python3 bootstrap.py setup (needs the CUDA toolkit).'
        )
    elif any(g.vendor == "Apple" for g in gpus) and not backend.has_gpu:
        warnings.append(
            "Your Mac's GPU could run models much faster, but the installed llama.cpp was built for the CPU "
            'only. Rebuild it with Metal: CMAKE_ARGS="-DGGML_METAL=on" python3 bootstrap.py setup.'
        )
    if any(not g.driver for g in nvidia):
        warnings.append(
            "An NVIDIA GPU is installed but its driver is not working (NVML cannot reach it), so models will "
            "run on the processor. Install or update the NVIDIA driver, then restart."
        )
    return tuple(warnings)


def gpu_limit_bytes() -> int | None:
    """The cap from the settings (gpu_memory_limit_gb), or None for no cap."""
    from app.core.settings import get_setting

    value = get_setting("gpu_memory_limit_gb")
    if isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0:
        return int(value * 1e9)
    return None


def read_hardware() -> HardwareReport:
    cpu = read_cpu()
    memory = read_memory()
    backend = read_backend()
    offload = backend is not None and backend.has_gpu
    limit = gpu_limit_bytes()
    nvidia = tuple(replace(g, usable_by_llama=offload, limit_bytes=limit) for g in read_nvidia_gpus())
    apple = tuple(
        replace(g, usable_by_llama=offload, limit_bytes=limit)
        for g in read_apple_gpu(platform.system(), platform.machine(), cpu.name, memory)
    )
    # NVIDIA cards appear by name from sysfs only when NVML could not reach them (no driver)
    others = read_sysfs_gpus(skip_vendors=("NVIDIA",) if nvidia else (), first_index=len(nvidia) + len(apple))
    gpus = nvidia + apple + others
    return HardwareReport(
        cpu=cpu,
        memory=memory,
        gpus=gpus,
        backend=backend,
        os=f"{platform.system()} {platform.release()} ({platform.machine()})",
        warnings=build_warnings(gpus, backend),
    )


@dataclass(frozen=True)
class MemorySnapshot:
    """One live readout: the system's RAM, one process's (the engine's) memory, and the NVIDIA GPUs'."""

    system_used_bytes: int
    system_total_bytes: int
    process_rss_bytes: int | None
    process_vram_bytes: int | None = None  # on NVIDIA GPUs, where NVML lists the process; None elsewhere
    gpu_used_bytes: int | None = None  # all NVIDIA GPUs together (NVML); None without one or without with_vram
    gpu_total_bytes: int | None = None
    taken_at: float = 0.0  # time.monotonic() when read
    # the process's VRAM per GPU, as (NVML index, bytes), for every GPU where it holds memory
    process_vram_per_gpu: tuple[tuple[int, int], ...] = ()


def read_memory_snapshot(pid: int | None, with_vram: bool = False) -> MemorySnapshot:
    """RAM now, and `pid`'s resident memory; with_vram also asks NVML (slower: call it off the GUI thread)."""
    import time

    vm = psutil.virtual_memory()
    rss: int | None = None
    vram: int | None = None
    gpu_used = gpu_total = None
    if pid is not None:
        try:
            rss = int(psutil.Process(pid).memory_info().rss)
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            rss = None
    per_gpu: tuple[tuple[int, int], ...] = ()
    if with_vram:
        gpus = read_nvidia_gpus(pid)
        if gpus:
            gpu_used, gpu_total = sum(g.used_bytes for g in gpus), sum(g.total_bytes for g in gpus)
        held = [(g.index, g.process_used_bytes) for g in gpus if g.process_used_bytes is not None]
        vram = sum(b for _, b in held) if held and pid is not None else None
        per_gpu = tuple((i, b) for i, b in held if b > 0) if pid is not None else ()
    return MemorySnapshot(int(vm.total - vm.available), int(vm.total), rss, vram, gpu_used, gpu_total,
                          time.monotonic(), per_gpu)
