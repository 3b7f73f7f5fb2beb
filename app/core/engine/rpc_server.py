"""This computer's devices served to other machines: llama.cpp's RPC server, in a child process started by the
one runner, so it never outlives the app (or the `rpc-server` command) that started it.

llama.cpp's RPC protocol has no encryption and no authentication: whoever reaches the port can use the
devices and read what is sent. So the server binds to 127.0.0.1 unless told otherwise, and `exposure_warning`
says so in plain words for any other address.
"""

from __future__ import annotations

import socket
import time
from dataclasses import dataclass
from multiprocessing.connection import Connection

from app.core.errors import RpcHostError
from app.core.machine.rpc_backend import Endpoint
from app.core.process.runner import ChildProcess, ErrorReport

LOOPBACK = ("127.0.0.1", "localhost", "::1")


@dataclass(frozen=True)
class ServedDevice:
    name: str  # ggml's name here ("CUDA0", "CPU")
    description: str  # "NVIDIA H200"
    free_bytes: int
    total_bytes: int


@dataclass(frozen=True)
class RpcServerReady:
    endpoint: str
    devices: tuple[ServedDevice, ...]


def exposure_warning(host: str) -> str | None:
    """The warning for a server reachable from other machines; None on the loopback address."""
    if host in LOOPBACK:
        return None
    return (f"The RPC server listens on {host}, so other machines can reach it. llama.cpp's RPC traffic is "
            "neither encrypted nor authenticated: anyone who can reach this port can use these devices and see "
            "what they compute. Use it on a trusted network only, never on the open internet.")


def _check_port(endpoint: Endpoint) -> None:
    """Refuse a port that is taken before ggml tries (it only prints "Failed to create server socket")."""
    family = socket.AF_INET6 if ":" in endpoint.host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as test:
        test.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            test.bind((endpoint.host, endpoint.port))
        except OSError as error:
            raise RpcHostError(f"{endpoint} cannot be used for the RPC server: {error.strerror or error}.",
                               f"bind {endpoint}: {error}") from error


def serve_rpc(conn: Connection, endpoint: Endpoint, device_names: tuple[str, ...], threads: int) -> None:
    """The child: say which devices it serves (RpcServerReady, or an ErrorReport), then serve until ended."""
    import os

    from app.core.machine import rpc_backend

    os.dup2(2, 1)  # ggml's own messages ("Accepted client connection") go to stderr: stdout is the command's
    try:
        _check_port(endpoint)
        devices = rpc_backend.pick_devices(device_names)
        served = tuple(ServedDevice(rpc_backend.device_name(d), rpc_backend.device_description(d),
                                    *rpc_backend.device_memory(d)) for d in devices)
        conn.send(RpcServerReady(str(endpoint), served))
        rpc_backend.serve_devices(endpoint, devices, threads)
    except Exception as error:
        conn.send(ErrorReport.from_exception(error, "The RPC server could not start."))
        return
    conn.send(ErrorReport("RpcHostError", f"The RPC server at {endpoint} stopped.", "start_server returned"))


class RpcServer:
    """One RPC server child. start() returns once it serves (or raises why it cannot)."""

    def __init__(self, endpoint: Endpoint, device_names: tuple[str, ...] = (), threads: int = 1) -> None:
        self.endpoint = endpoint
        self._child = ChildProcess(serve_rpc, (endpoint, tuple(device_names), threads),
                                   name="quantdesk-rpc-server")
        self.ready: RpcServerReady | None = None

    def start(self, timeout: float = 60.0) -> RpcServerReady:
        self._child.start()
        conn = self._child.conn
        assert conn is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if conn.poll(0.1):
                message = conn.recv()
                if isinstance(message, ErrorReport):
                    self.stop()
                    raise message.to_error()
                assert isinstance(message, RpcServerReady)
                self.ready = message
                self._wait_listening(deadline)
                return message
            if not self._child.is_alive:
                break
        self.stop()
        raise RpcHostError("The RPC server did not start.", f"the server process {self._child.exit_description()}")

    def _wait_listening(self, deadline: float) -> None:
        """The child said which devices it serves just before it binds: wait until the port answers."""
        host = "127.0.0.1" if self.endpoint.host in ("0.0.0.0", "") else self.endpoint.host
        host = "::1" if host == "::" else host
        while time.monotonic() < deadline and self._child.is_alive:
            try:
                with socket.create_connection((host, self.endpoint.port), timeout=1.0):
                    return
            except OSError:
                time.sleep(0.05)
        if not self._child.is_alive:
            raise RpcHostError(f"The RPC server at {self.endpoint} stopped while starting.",
                               f"the server process {self._child.exit_description()}")

    @property
    def pid(self) -> int | None:
        return self._child.pid

    @property
    def is_alive(self) -> bool:
        return self._child.is_alive

    def exit_description(self) -> str:
        return self._child.exit_description()

    def wait(self, timeout: float | None = None) -> None:
        self._child.join(timeout)

    def kill(self) -> None:
        self._child.kill()

    def stop(self) -> None:
        self._child.stop()
        self._child.close()
