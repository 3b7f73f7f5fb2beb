"""Which devices a model loads onto, as llama.cpp's model parameters say it: the machines added through RPC
and this computer's GPUs, and the share of the layers each gets (tensor_split). Engine process only.

Without machines and without a split, llama.cpp picks the devices itself (every local GPU, split by free
memory). With either, QuantDesk names the devices in llama.cpp's own default order (RPC servers first, "to
minimise network transfers", then the local GPUs), so the plan the window showed is the one that loads, and a
machine removed from the list is not used even though this process's device registry still holds it.
"""

from __future__ import annotations

import ctypes
from dataclasses import dataclass, field

from app.core.engine.protocol import LoadModel
from app.core.errors import ModelLoadError
from app.core.machine.rpc_backend import add_servers, device_name, local_gpu_devices, parse_endpoints


@dataclass
class DeviceSetup:
    """The arrays handed to llama_model_params; they must outlive the load (llama.cpp reads them then)."""

    names: tuple[str, ...] = ()  # ggml's names of the devices used, in order ("RPC0", "CUDA0")
    devices: ctypes.Array[ctypes.c_void_p] | None = None  # NULL-terminated
    split: ctypes.Array[ctypes.c_float] | None = None
    keep: list[object] = field(default_factory=list)


def device_setup(request: LoadModel) -> DeviceSetup:
    """The devices for `request`: none named when it names no machine and no split (llama.cpp's choice)."""
    if not request.rpc_servers and not request.tensor_split:
        return DeviceSetup()
    devices = add_servers(parse_endpoints(request.rpc_servers)) + local_gpu_devices()
    if request.tensor_split and len(request.tensor_split) != len(devices):
        raise ModelLoadError(
            "The plan for this model no longer matches the devices here; plan it again.",
            f"tensor_split has {len(request.tensor_split)} shares for {len(devices)} devices "
            f"({', '.join(device_name(d) for d in devices)})",
        )
    array = (ctypes.c_void_p * (len(devices) + 1))(*devices, None)
    split = (ctypes.c_float * max(1, len(devices)))(*request.tensor_split) if request.tensor_split else None
    return DeviceSetup(tuple(device_name(d) for d in devices), array, split)


def apply(setup: DeviceSetup, model_params: object) -> None:
    """Point llama_model_params at the setup's arrays (when it names devices)."""
    if setup.devices is not None:
        model_params.devices = ctypes.cast(setup.devices, ctypes.c_void_p)  # type: ignore[attr-defined]
    if setup.split is not None:
        model_params.tensor_split = ctypes.cast(setup.split, ctypes.POINTER(ctypes.c_float))  # type: ignore[attr-defined]
