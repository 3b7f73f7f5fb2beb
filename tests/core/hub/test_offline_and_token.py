"""Offline mode (no network call at all, remembered); gated repos with a token in huggingface_hub's store."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

import pytest
from huggingface_hub import HfApi, constants, get_token
from huggingface_hub import errors as hf_errors

from app.core.errors import GatedModelError, InvalidTokenError, OfflineModeError
from app.core.hub.connection import forget_token, has_token, save_token
from app.core.hub.download import download_model, plan_download
from app.core.hub.inspect import inspect_repo
from app.core.hub.search import SearchQuery, search_models
from app.core.offline import is_offline, set_offline
from app.core.settings import SCHEMA_VERSION, settings_path
from tests.fixtures.fake_hub import FakeHub
from tests.fixtures.hub_fixtures import *  # noqa: F403 (fixtures)
from tests.fixtures.hub_fixtures import GRANTED_TOKEN, VALID_TOKEN


def test_offline_mode_makes_no_network_call(fake_hub: FakeHub) -> None:
    assert not is_offline()
    fake_hub.clear_log()
    assert set_offline(True)
    for call in (lambda: search_models(SearchQuery()), lambda: inspect_repo("tester/tiny-GGUF"),
                 lambda: download_model("tester/tiny-GGUF"), lambda: save_token(GRANTED_TOKEN)):
        with pytest.raises(OfflineModeError) as info:
            call()
        assert "Offline mode is on" in info.value.message
    # huggingface_hub's own client refuses too, so code that bypasses ours can't reach the network either
    with pytest.raises(hf_errors.OfflineModeIsEnabled):
        HfApi(endpoint=fake_hub.url).model_info("tester/tiny-GGUF")
    assert fake_hub.requests == []
    # remembered in the versioned settings file
    saved = json.loads(settings_path().read_text())
    assert saved["offline"] is True and saved["version"] == SCHEMA_VERSION
    assert not set_offline(False) and not constants.HF_HUB_OFFLINE
    assert search_models(SearchQuery()).results


def test_hf_hub_offline_environment_counts_as_offline(fake_hub: FakeHub,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert is_offline()
    with pytest.raises(OfflineModeError):
        plan_download("tester/tiny-GGUF")
    assert fake_hub.requests == []


def test_damaged_settings_file_falls_back_to_defaults(fake_hub: FakeHub) -> None:
    settings_path().write_text("{not json")
    assert not is_offline()
    set_offline(True)  # and writing repairs it
    assert json.loads(settings_path().read_text())["offline"] is True


def test_gated_repo_without_token(fake_hub: FakeHub) -> None:
    with pytest.raises(GatedModelError) as info:
        download_model("gated-org/gated-GGUF")
    assert "token" in info.value.message and "gated" in info.value.message


def test_token_not_granted_access(fake_hub: FakeHub) -> None:
    save_token(VALID_TOKEN)
    with pytest.raises(GatedModelError):
        download_model("gated-org/gated-GGUF", include=["*.gguf"])


def test_token_in_the_store_unlocks_gated_repo_and_is_never_logged(
        fake_hub: FakeHub, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    assert not has_token()
    assert save_token(f"  {GRANTED_TOKEN}\n") == "quantdesk-tester"
    # kept where huggingface_hub keeps it (HF_HOME/token), so other tools use it too
    assert (tmp_path / "hf_home" / "token").read_text().strip() == GRANTED_TOKEN
    assert get_token() == GRANTED_TOKEN and has_token()
    result = download_model("gated-org/gated-GGUF", include=["*.gguf"])
    assert result.files[0].transferred > 0
    gets = fake_hub.downloads_of(".gguf")
    assert gets and all(g.request.authorization for g in gets)
    assert GRANTED_TOKEN not in caplog.text
    forget_token()
    assert not has_token()


def test_invalid_token_is_refused_and_not_stored(fake_hub: FakeHub, tmp_path: Path) -> None:
    with pytest.raises(InvalidTokenError) as info:
        save_token("hf_wrong")
    assert "hf_wrong" not in info.value.message + info.value.detail
    assert not (tmp_path / "hf_home" / "token").exists()
    with pytest.raises(InvalidTokenError):
        save_token("   ")


def test_the_setting_wins_over_hf_hub_offline_0(fake_hub: FakeHub, monkeypatch: pytest.MonkeyPatch) -> None:
    """HF_HUB_OFFLINE=0 in a person's environment is only the library's default spelled out. With offline mode
    on, the environment (which child processes inherit) says offline too; switched off, the person's value is
    back."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    assert set_offline(True)
    assert os.environ["HF_HUB_OFFLINE"] == "1" and constants.HF_HUB_OFFLINE
    assert not set_offline(False)
    assert os.environ["HF_HUB_OFFLINE"] == "0" and not constants.HF_HUB_OFFLINE
