"""Where the server listens, and whether that keeps it to this computer (a small module: the window reads it at
start-up without loading the HTTP stack)."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8642


def is_this_computer_only(host: str) -> bool:
    """Whether listening on `host` keeps the server to programs on this computer (a loopback address)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class ServerAddress:
    host: str
    port: int

    @property
    def base_url(self) -> str:
        """What an OpenAI client's base_url is set to."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/v1"
