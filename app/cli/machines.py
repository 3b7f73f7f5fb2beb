"""The `--rpc HOST:PORT[,HOST:PORT]` option of `chat` and `recommend`: other machines' devices, read and recorded."""

from __future__ import annotations

import argparse
from dataclasses import replace

from app.core.machine.hardware import HardwareReport, read_hardware

RPC_HELP = ("other machines running `rpc-server`, as HOST:PORT[,HOST:PORT]: plan and load the model across their "
            "devices and this computer's GPUs (contacted even in offline mode: you named them)")


def add_rpc_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--rpc", default="", metavar="HOST:PORT[,HOST:PORT]", help=RPC_HELP)


def hardware_with_machines(rpc: str) -> HardwareReport:
    """This computer's hardware, with the named machines' devices (each host recorded in the connection list
    first, with why)."""
    if not rpc:
        return read_hardware()
    from app.core.engine.machines import RPC_PURPOSE, read_remote_devices
    from app.core.hub.network_log import record
    from app.core.machine.rpc_backend import parse_endpoints

    for endpoint in parse_endpoints(rpc):
        record(str(endpoint), RPC_PURPOSE)
    return replace(read_hardware(), remote_devices=read_remote_devices(rpc))
