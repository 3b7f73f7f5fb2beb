"""The API server's life: bind the socket (127.0.0.1 unless told otherwise), run uvicorn on it, stop it.

The socket is bound here, before uvicorn starts, so a taken port is a plain-words ServeError at once rather
than a log line from a background thread, and port 0 (any free port, for tests) reports the port it got.
In the window the server runs on a thread of its own with its own event loop; `run()` serves on the calling
thread for the command line, where uvicorn turns Ctrl+C into a clean stop. uvicorn is given no logging
config of its own (it would replace the app's) and opens no socket besides this one.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Callable

import uvicorn

from app.core.errors import ServeError
from app.core.serve.address import DEFAULT_HOST, DEFAULT_PORT, ServerAddress, is_this_computer_only
from app.core.serve.api_routes import build_app
from app.core.serve.shared_engine import SharedEngine

log = logging.getLogger(__name__)

_GRACE_SECONDS = 2


def bind(host: str, port: int) -> socket.socket:
    """A listening socket on host:port, or a ServeError that says why not."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # a port in TIME_WAIT after a restart
        sock.bind((host, port))
        sock.listen(128)
    except OSError as error:
        sock.close()
        if error.errno in (98, 48, 10048):  # EADDRINUSE on Linux, macOS, Windows
            raise ServeError(f"Port {port} is already in use by another program. Choose another port for the "
                             "API server.", f"bind({host!r}, {port}): {error}") from error
        raise ServeError(f"The API server could not listen on {host}:{port}.",
                         f"bind({host!r}, {port}): {error}") from error
    return sock


class ApiServer:
    def __init__(self, engine: SharedEngine, key: Callable[[], str], host: str = DEFAULT_HOST,
                 port: int = DEFAULT_PORT) -> None:
        self.engine = engine
        self.host = "127.0.0.1" if host == "localhost" else host
        self.port = port
        self._key = key
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._socket: socket.socket | None = None

    @property
    def address(self) -> ServerAddress:
        return ServerAddress(self.host, self.port)

    @property
    def running(self) -> bool:
        return self._server is not None and self._server.started and not self._server.should_exit

    def _prepare(self) -> tuple[uvicorn.Server, socket.socket]:
        if not is_this_computer_only(self.host):
            log.warning("the API server listens on %s: other computers on the network can reach it", self.host)
        sock = bind(self.host, self.port)
        self.port = sock.getsockname()[1]
        config = uvicorn.Config(build_app(self.engine, self._key), log_config=None, log_level="warning",
                                access_log=False, lifespan="off", http="h11", ws="none", loop="asyncio",
                                timeout_graceful_shutdown=_GRACE_SECONDS)
        server = uvicorn.Server(config)
        self._server, self._socket = server, sock
        return server, sock

    def start(self, timeout: float = 10.0) -> ServerAddress:
        """Serve on a background thread; returns once the server accepts connections."""
        if self.running:
            return self.address
        server, sock = self._prepare()
        self._thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name="api-server",
                                        daemon=True)
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise ServeError("The API server did not start.", f"uvicorn did not start within {timeout} s")
            time.sleep(0.01)
        log.info("API server listening on %s", self.address.base_url)
        return self.address

    def run(self, on_ready: Callable[[ServerAddress], None] | None = None) -> None:
        """Serve on this thread until Ctrl+C (or stop() from another thread)."""
        server, sock = self._prepare()
        if on_ready is not None:
            on_ready(self.address)
        try:
            server.run(sockets=[sock])
        finally:
            self.engine.cancel_all()
            self._server = None

    def stop(self, timeout: float = 5.0) -> None:
        """End every request (the engine stops within a token) and close the socket."""
        server, thread = self._server, self._thread
        self.engine.cancel_all()
        if server is not None:
            server.should_exit = True
        if thread is not None:
            thread.join(timeout)
        if self._socket is not None:
            self._socket.close()
        self._server, self._thread, self._socket = None, None, None
        log.info("API server stopped")
