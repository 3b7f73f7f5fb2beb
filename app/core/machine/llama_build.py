"""What the installed llama.cpp was built with, and who is asked: this process, or (in the window's process)
an engine process, through the reader the GUI sets."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class BackendInfo:
    """What the installed llama.cpp was built with."""

    gpu_offload: bool
    system_info: str
    version: str


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
    )
