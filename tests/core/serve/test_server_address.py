"""Where the server listens: this computer only unless a person chose otherwise."""

from __future__ import annotations

from app.core.serve.address import ServerAddress, is_this_computer_only


def test_only_loopback_addresses_keep_the_server_to_this_computer() -> None:
    assert all(is_this_computer_only(h) for h in ("127.0.0.1", "localhost", "::1", "127.0.0.2"))
    assert not any(is_this_computer_only(h) for h in ("0.0.0.0", "::", "192.168.1.10", "example.org"))


def test_base_urls_clients_are_given() -> None:
    assert ServerAddress("127.0.0.1", 8642).base_url == "http://127.0.0.1:8642/v1"
    assert ServerAddress("::1", 8642).base_url == "http://[::1]:8642/v1"
