"""Other machines' devices, read before a model is planned over them: each named server is probed, then a
short-lived child asks llama.cpp's RPC backend for its devices and their memory (ggml aborts the process that
asks a server that fails, so never this one).

An RPC server serves one client at a time: while an engine holds a model on it, a second client waits in its
queue. So the read has a deadline, and a server that is busy says so in words instead of hanging the window.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence

from app.core.errors import Cancelled, QuantDeskError, RpcHostError
from app.core.machine.rpc_backend import Endpoint, RemoteDevice, describe_servers, parse_endpoints, probe
from app.core.process.runner import run_in_child
from app.core.progress import ProgressCallback

#: Why QuantDesk connects to a machine the person added (the connection list shows it beside the host).
RPC_PURPOSE = "a machine you added: part of the model runs there (llama.cpp RPC)"


def _describe(endpoints: tuple[Endpoint, ...], on_progress: ProgressCallback) -> tuple[RemoteDevice, ...]:
    return describe_servers(endpoints)


def read_remote_devices(addresses: str | Sequence[str], timeout: float = 30.0) -> tuple[RemoteDevice, ...]:
    """Every device of every named machine, with its memory; RpcHostError in plain words on any failure."""
    endpoints = parse_endpoints(addresses)
    if not endpoints:
        return ()
    for endpoint in endpoints:
        probe(endpoint)
    cancel = threading.Event()
    timer = threading.Timer(timeout, cancel.set)
    timer.start()
    names = ", ".join(map(str, endpoints))
    try:
        devices: tuple[RemoteDevice, ...] = run_in_child(_describe, (endpoints,), cancel=cancel)
        return devices
    except Cancelled as error:
        raise RpcHostError(
            f"{names} did not describe its devices within {timeout:.0f} seconds. An RPC server serves one "
            "computer at a time: is another one (or a chat here) using it?", "timed out reading RPC devices",
        ) from error
    except RpcHostError:
        raise
    except QuantDeskError as error:
        raise RpcHostError(
            f"QuantDesk could not talk to {names}. Is it an RPC server (`python main.py rpc-server`, or llama.cpp's "
            "rpc-server) of the same llama.cpp version?", error.detail,
        ) from error
    finally:
        timer.cancel()
