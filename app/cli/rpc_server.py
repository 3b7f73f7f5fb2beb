"""`rpc-server`: lend this computer's GPUs (or its processor) to QuantDesk on another machine, through
llama.cpp's RPC backend. Runs until Ctrl+C; the server is a child of this command and ends with it."""

from __future__ import annotations

import argparse
import signal
import sys
from types import FrameType

from app.cli.output import report_error
from app.core.engine.rpc_server import RpcServer, exposure_warning
from app.core.errors import QuantDeskError
from app.core.machine.rpc_backend import DEFAULT_PORT, Endpoint
from app.core.units import format_bytes


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("rpc-server", help="lend this computer's GPUs to QuantDesk on another machine (llama.cpp RPC)")
    p.add_argument("--host", default="127.0.0.1",
                   help="address to listen on (default 127.0.0.1: this computer only). Another address lets other "
                        "machines in: RPC traffic is neither encrypted nor authenticated, so trusted networks only")
    p.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"port to listen on (default {DEFAULT_PORT})")
    p.add_argument("--device", action="append", default=[],
                   help="a device to lend, by llama.cpp's name (CUDA0, Vulkan1, CPU); repeat or comma-separate; "
                        "default: every GPU, else the processor")
    p.add_argument("--threads", type=int, default=0, help="processor threads when lending the CPU (0: automatic)")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    if warning := exposure_warning(args.host):
        print(f"Warning: {warning}", file=sys.stderr)
    names = tuple(n.strip() for d in args.device for n in d.split(",") if n.strip())
    threads = args.threads
    if threads <= 0:
        from app.core.context_settings import physical_cores

        threads = physical_cores()
    server = RpcServer(Endpoint(args.host, args.port), names, threads)
    try:
        ready = server.start()
    except QuantDeskError as error:
        return report_error(error, False)

    def stop(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    print(f"Serving at {ready.endpoint}:")
    for device in ready.devices:
        print(f"  {device.name}: {device.description} — {format_bytes(device.total_bytes)} "
              f"({format_bytes(device.free_bytes)} free)")
    print(f"On the other machine: Chat → Add a machine → {ready.endpoint}, or "
          f"python main.py chat MODEL --rpc {ready.endpoint}. Ctrl+C stops the server.", flush=True)
    try:
        while server.is_alive:
            server.wait(0.5)
    except KeyboardInterrupt:
        print("Stopping.", file=sys.stderr)
        server.stop()
        return 0
    print(f"The RPC server stopped: it {server.exit_description()}.", file=sys.stderr)
    server.stop()
    return 1
