"""Every request QuantDesk makes is recorded with its host and why, through the real client to the fake Hub."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from huggingface_hub.utils import get_session

from app.core.errors import OfflineModeError
from app.core.hub import network_log
from app.core.hub.connection import save_token
from app.core.hub.download import download_model
from app.core.hub.inspect import inspect_repo
from app.core.hub.search import SearchQuery, search_models
from app.core.offline import set_offline
from tests.fixtures.fake_hub import FakeFile, FakeHub, FakeRepo
from tests.fixtures.hub_fixtures import *  # noqa: F403 (fixtures)

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(autouse=True)
def empty_log() -> None:
    network_log.clear()


def whys(host: str | None = None) -> dict[str, int]:
    return {u.why: u.requests for u in network_log.connections() if host is None or u.host == host}


def test_the_shared_client_records(fake_hub: FakeHub) -> None:
    assert network_log._on_request in get_session().event_hooks["request"]


def test_search_inspect_and_download_each_say_why(fake_hub: FakeHub) -> None:
    host = fake_hub.url.split("//")[1].split(":")[0]
    search_models(SearchQuery(text="tiny"))
    inspect_repo("tester/tiny-GGUF")
    download_model("tester/tiny-GGUF")
    seen = whys(host)
    assert seen.keys() == {"search for models", "look inside tester/tiny-GGUF",
                           "read the header of tiny-Q8_0.gguf",
                           "list the files of tester/tiny-GGUF to download", "download tester/tiny-GGUF"}
    assert sum(seen.values()) == len(fake_hub.requests)  # every request the server saw, and no other
    assert network_log.NO_REASON not in whys()


def test_a_redirect_to_another_host_is_its_own_connection(fake_hub: FakeHub) -> None:
    fake_hub.add_repo(FakeRepo("tester/lfs", [FakeFile("w-Q8_0.gguf", b"GGUF" + bytes(4000), lfs=True)]))
    fake_hub.cdn_redirect = True
    download_model("tester/lfs")
    hosts = {u.host for u in network_log.connections() if u.why == "download tester/lfs"}
    assert hosts == {"127.0.0.1", "localhost"}  # the Hub, then its download server


def test_a_token_check_says_so(fake_hub: FakeHub) -> None:
    fake_hub.valid_tokens.add("hf_log_test_token_0000000000000")
    save_token("hf_log_test_token_0000000000000")
    assert set(whys()) == {"check a Hugging Face token"}


def test_offline_nothing_is_recorded(fake_hub: FakeHub) -> None:
    set_offline(True)
    try:
        with pytest.raises(OfflineModeError):
            search_models(SearchQuery(text="tiny"))
    finally:
        set_offline(False)
    assert network_log.connections() == [] and fake_hub.requests == []


def test_listeners_hear_each_request(fake_hub: FakeHub) -> None:
    heard: list[int] = []
    listener = lambda: heard.append(1)  # noqa: E731
    network_log.add_listener(listener)
    try:
        search_models(SearchQuery())
    finally:
        network_log.remove_listener(listener)
    assert len(heard) == sum(u.requests for u in network_log.connections()) >= 1


LIBRARY_FIRST = r"""
import os, sys
sys.path.insert(0, sys.argv[1])
from huggingface_hub import constants  # read before QuantDesk's door: telemetry on, huggingface.co its endpoint
from tests.fixtures.fake_hub import FakeHub
from tests.fixtures.hub_models import gguf_repo
hub = FakeHub().start()
hub.add_repo(gguf_repo())
os.environ["HF_ENDPOINT"] = hub.url
from app.core.hub import network_log
from app.core.hub.search import SearchQuery, search_models
search_models(SearchQuery(text="tiny"))
print(sorted({u.host for u in network_log.connections()}), [r.request.path for r in hub.requests])
hub.stop()
"""


def test_no_library_call_of_its_own_whatever_the_import_order(tmp_path: Path) -> None:
    """huggingface_hub with telemetry on fetches an "agent harness" list from huggingface.co by itself, at the
    first request, whatever HF_ENDPOINT says: QuantDesk's door turns telemetry off even when it comes second."""
    env = {k: v for k, v in os.environ.items() if k not in ("HF_HUB_DISABLE_TELEMETRY", "HF_HUB_OFFLINE")}
    env.update(HF_HOME=str(tmp_path / "hf"), QUANTDESK_CONFIG_DIR=str(tmp_path / "config"))
    result = subprocess.run([sys.executable, "-c", LIBRARY_FIRST, str(ROOT)], env=env, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == "['127.0.0.1'] ['/api/models']"  # no call of the library's own
