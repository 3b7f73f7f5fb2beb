"""llama.cpp's RPC backend, reached through ggml's device registry: other machines' devices (a computer running
`python main.py rpc-server`, or llama.cpp's own rpc-server) join this process's device list, and this process
can serve its own devices to others.

Everything here calls into llama.cpp (ctypes on the bindings' library, which loaded ggml) and belongs in a child
process: ggml aborts the whole process when a server cannot be reached or stops answering (GGML_ABORT "Failed
to connect", "Remote RPC server crashed"), so callers check a host with `probe` first and run the rest where an
abort is an error message (the engine, a job child), never in the window's process.
"""

from __future__ import annotations

import ctypes
import socket
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from app.core.errors import RpcHostError

DEFAULT_PORT = 50052  # llama.cpp's rpc-server default
GGML_DEVICE_CPU, GGML_DEVICE_GPU, GGML_DEVICE_IGPU, GGML_DEVICE_ACCEL = 0, 1, 2, 3  # ggml_backend_dev_type


@dataclass(frozen=True)
class Endpoint:
    host: str
    port: int

    def __str__(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


@dataclass(frozen=True)
class RemoteDevice:
    """One device a RPC server offers (a GPU, or its CPU), as this machine sees it."""

    endpoint: str  # "host:port"
    index: int  # the device's number on that server
    name: str  # ggml's name in this process's device list ("RPC0")
    free_bytes: int
    total_bytes: int


def parse_endpoint(text: str) -> Endpoint:
    """'host:port' (port optional: 50052), '[v6 address]:port'; raises RpcHostError in plain words."""
    text = text.strip()
    host, port_text = text, ""
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        port_text = rest.removeprefix(":")
    elif text.count(":") == 1:
        host, _, port_text = text.partition(":")
    if not host or any(c.isspace() for c in host):
        raise RpcHostError(f"“{text}” is not a machine address. Write it as host:port, e.g. 192.168.1.20:50052.",
                           f"cannot parse RPC endpoint {text!r}")
    if not port_text:
        return Endpoint(host, DEFAULT_PORT)
    if not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise RpcHostError(f"“{port_text}” is not a port number (1–65535).", f"bad port in {text!r}")
    return Endpoint(host, int(port_text))


def parse_endpoints(text: str | Sequence[str]) -> tuple[Endpoint, ...]:
    """A comma-separated list (the CLI's --rpc) or a list of addresses, without repeats, in order."""
    parts = text.split(",") if isinstance(text, str) else list(text)
    found: list[Endpoint] = []
    for part in parts:
        if part.strip() and (endpoint := parse_endpoint(part)) not in found:
            found.append(endpoint)
    return tuple(found)


def probe(endpoint: Endpoint, timeout: float = 3.0) -> None:
    """Raise RpcHostError unless something accepts a connection at `endpoint` (ggml would abort instead)."""
    try:
        with socket.create_connection((endpoint.host, endpoint.port), timeout=timeout):
            pass
    except OSError as error:
        raise RpcHostError(
            f"The machine at {endpoint} did not answer. Check that `python main.py rpc-server` (or llama.cpp's "
            "rpc-server) runs there, and that its address and port are right.",
            f"connect to {endpoint}: {error}",
        ) from error


# ---- ggml's registry through ctypes -------------------------------------------------------------------


def _lib() -> ctypes.CDLL:
    import llama_cpp

    lib: ctypes.CDLL = llama_cpp.llama_cpp._lib
    return lib


def _fn(name: str, restype: object, *argtypes: object) -> Any:
    fn = getattr(_lib(), name)
    fn.restype, fn.argtypes = restype, list(argtypes)
    return fn


def _rpc_reg() -> int:
    reg = _fn("ggml_backend_reg_by_name", ctypes.c_void_p, ctypes.c_char_p)(b"RPC")
    if not reg:
        raise RpcHostError("This llama.cpp was built without its RPC backend, so it cannot use other machines. "
                           "Rebuild it: python3 bootstrap.py setup (the build turns GGML_RPC on).",
                           "ggml_backend_reg_by_name('RPC') returned NULL")
    return int(reg)


def _proc(name: str) -> int:
    address = _fn("ggml_backend_reg_get_proc_address", ctypes.c_void_p, ctypes.c_void_p, ctypes.c_char_p)(
        _rpc_reg(), name.encode())
    if not address:
        raise RpcHostError("This llama.cpp's RPC backend lacks a function QuantDesk needs.", f"no {name}")
    return int(address)


def has_rpc() -> bool:
    try:
        _rpc_reg()
    except (RpcHostError, AttributeError, ImportError):
        return False
    return True


def device_memory(device: int) -> tuple[int, int]:
    free, total = ctypes.c_size_t(), ctypes.c_size_t()
    _fn("ggml_backend_dev_memory", None, ctypes.c_void_p, ctypes.POINTER(ctypes.c_size_t),
        ctypes.POINTER(ctypes.c_size_t))(device, ctypes.byref(free), ctypes.byref(total))
    return int(free.value), int(total.value)


def device_name(device: int) -> str:
    name = _fn("ggml_backend_dev_name", ctypes.c_char_p, ctypes.c_void_p)(device)
    return (name or b"?").decode("utf-8", errors="replace")


_added: dict[Endpoint, tuple[int, ...]] = {}


def add_servers(endpoints: Sequence[Endpoint]) -> tuple[int, ...]:
    """Join each server's devices to this process's device list (once per server); returns their handles in
    order. Each server is probed first: ggml aborts on one that does not answer."""
    add = ctypes.CFUNCTYPE(ctypes.c_void_p, ctypes.c_char_p)(_proc("ggml_backend_rpc_add_server"))
    register = _fn("ggml_backend_register", None, ctypes.c_void_p)
    count = _fn("ggml_backend_reg_dev_count", ctypes.c_size_t, ctypes.c_void_p)
    get = _fn("ggml_backend_reg_dev_get", ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t)
    devices: list[int] = []
    for endpoint in endpoints:
        if endpoint not in _added:
            probe(endpoint)
            reg = add(str(endpoint).encode())
            if not reg:
                raise RpcHostError(f"The machine at {endpoint} offers no devices.", "rpc_add_server: 0 devices")
            register(reg)
            _added[endpoint] = tuple(int(get(reg, i)) for i in range(count(reg)))
        devices.extend(_added[endpoint])
    return tuple(devices)


def describe_servers(endpoints: Sequence[Endpoint]) -> tuple[RemoteDevice, ...]:
    """Every device of every server, with its memory as the server reports it."""
    found: list[RemoteDevice] = []
    for endpoint in endpoints:
        for index, device in enumerate(add_servers([endpoint])):
            free, total = device_memory(device)
            found.append(RemoteDevice(str(endpoint), index, device_name(device), free, total))
    return tuple(found)


def local_gpu_devices() -> tuple[int, ...]:
    """This process's own GPUs in ggml's device list (not the CPU, not RPC devices), in ggml's order: the
    order llama.cpp uses them in when it picks devices itself."""
    count = _fn("ggml_backend_dev_count", ctypes.c_size_t)
    get = _fn("ggml_backend_dev_get", ctypes.c_void_p, ctypes.c_size_t)
    kind = _fn("ggml_backend_dev_type", ctypes.c_int, ctypes.c_void_p)
    reg_of = _fn("ggml_backend_dev_backend_reg", ctypes.c_void_p, ctypes.c_void_p)
    reg_name = _fn("ggml_backend_reg_name", ctypes.c_char_p, ctypes.c_void_p)
    devices = [int(get(i)) for i in range(count())]
    return tuple(d for d in devices if kind(d) in (GGML_DEVICE_GPU, GGML_DEVICE_IGPU)
                 and reg_name(reg_of(d)) != b"RPC")


def device_description(device: int) -> str:
    text = _fn("ggml_backend_dev_description", ctypes.c_char_p, ctypes.c_void_p)(device)
    return (text or b"").decode("utf-8", errors="replace")


def pick_devices(device_names: Sequence[str] = ()) -> tuple[int, ...]:
    """The devices to serve, by ggml name (e.g. CUDA0); none named: every GPU, else the CPU (as llama.cpp's
    rpc-server picks)."""
    by_name = _fn("ggml_backend_dev_by_name", ctypes.c_void_p, ctypes.c_char_p)
    devices: list[int] = []
    for name in device_names:
        device = by_name(name.encode())
        if not device:
            raise RpcHostError(f"There is no device called {name} here.", f"ggml_backend_dev_by_name({name!r})")
        devices.append(int(device))
    if not devices:
        devices = list(local_gpu_devices())
    if not devices:
        devices = [int(_fn("ggml_backend_dev_by_type", ctypes.c_void_p, ctypes.c_int)(GGML_DEVICE_CPU))]
    return tuple(devices)


def serve_devices(endpoint: Endpoint, devices: Sequence[int], threads: int = 1) -> None:
    """Serve `devices` at `endpoint` until the process ends: llama.cpp's RPC server, the function its own
    rpc-server tool calls. Returns only if the server could not start (ggml says why on stderr)."""
    start = ctypes.CFUNCTYPE(None, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_size_t, ctypes.c_size_t,
                             ctypes.POINTER(ctypes.c_void_p))(_proc("ggml_backend_rpc_start_server"))
    array = (ctypes.c_void_p * len(devices))(*devices)
    start(str(endpoint).encode(), None, max(1, threads), len(devices), array)
