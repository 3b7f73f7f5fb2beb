"""What the installed llama.cpp was built with, and who is asked: this process, or (in the window's process)
an engine process, through the reader the GUI sets."""

from __future__ import annotations

import ctypes
from collections.abc import Callable
from dataclasses import dataclass

GGML_DEVICE_GPU, GGML_DEVICE_IGPU = 1, 2  # enum ggml_backend_dev_type (ggml-backend.h)


@dataclass(frozen=True)
class BackendInfo:
    """What the installed llama.cpp was built with."""

    gpu_offload: bool
    system_info: str
    version: str
    gpus: tuple[str, ...] | None = None  # the GPUs llama.cpp sees ("NVIDIA H200"); None: not known

    @property
    def has_gpu(self) -> bool:
        """llama.cpp can offload to a GPU here (a build with only the RPC backend says it could, but has none)."""
        return self.gpu_offload and (self.gpus is None or bool(self.gpus))


# Who answers read_backend(). By default this process, by importing llama.cpp; the GUI sets a reader that asks
# an engine process instead (app/ui/__init__.py), so the window's process never loads llama.cpp or
# initialises CUDA (a native crash once seen at window start-up was plausibly llama_cpp imported on one of its
# background threads).
_backend_reader: Callable[[], BackendInfo | None] | None = None


def set_backend_reader(reader: Callable[[], BackendInfo | None] | None) -> None:
    global _backend_reader
    _backend_reader = reader


def read_backend() -> BackendInfo | None:
    """What llama.cpp offers here; None if llama-cpp-python is missing."""
    if _backend_reader is not None:
        return _backend_reader()
    return read_backend_here()


def read_backend_here() -> BackendInfo | None:
    """read_backend() answered in this process (it imports llama_cpp)."""
    try:
        import llama_cpp
    except ImportError:
        return None
    return BackendInfo(
        gpu_offload=bool(llama_cpp.llama_supports_gpu_offload()),
        system_info=llama_cpp.llama_print_system_info().decode("utf-8", errors="replace").strip(),
        version=getattr(llama_cpp, "__version__", "?"),
        gpus=ggml_gpu_devices(llama_cpp.llama_cpp._lib),
    )


def ggml_gpu_devices(lib: ctypes.CDLL) -> tuple[str, ...] | None:
    """The GPUs in ggml's device list (CUDA, Metal, Vulkan...): llama_supports_gpu_offload() also says yes for
    a build that only has the RPC backend, with no GPU at all. ggml's functions are reached through libllama,
    which loaded libggml (the bindings do not wrap them)."""
    try:
        count, get, kind, describe = (lib.ggml_backend_dev_count, lib.ggml_backend_dev_get,
                                      lib.ggml_backend_dev_type, lib.ggml_backend_dev_description)
    except AttributeError:
        return None
    count.restype, get.restype, get.argtypes = ctypes.c_size_t, ctypes.c_void_p, [ctypes.c_size_t]
    kind.restype, kind.argtypes = ctypes.c_int, [ctypes.c_void_p]
    describe.restype, describe.argtypes = ctypes.c_char_p, [ctypes.c_void_p]
    devices = [get(i) for i in range(count())]
    try:  # other machines' devices (RPC, once added) are GPUs to ggml, but not this computer's
        reg_of, reg_name = lib.ggml_backend_dev_backend_reg, lib.ggml_backend_reg_name
        reg_of.restype, reg_of.argtypes = ctypes.c_void_p, [ctypes.c_void_p]
        reg_name.restype, reg_name.argtypes = ctypes.c_char_p, [ctypes.c_void_p]
        devices = [d for d in devices if reg_name(reg_of(d)) != b"RPC"]
    except AttributeError:  # a ggml without the registry calls has no RPC devices either: every GPU is ours
        pass
    return tuple((describe(d) or b"GPU").decode("utf-8", errors="replace") for d in devices
                 if kind(d) in (GGML_DEVICE_GPU, GGML_DEVICE_IGPU))
