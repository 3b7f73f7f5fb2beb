"""The settings file: defaults, checks on hand-edited values, and the folders a person chose."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from app.core import paths
from app.core.settings import (
    DEFAULTS,
    SCHEMA_VERSION,
    configured_threads,
    get_setting,
    load_settings,
    set_setting,
    settings_path,
)


@pytest.fixture(autouse=True)
def own_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QUANTDESK_CONFIG_DIR", str(tmp_path / "config"))


def test_defaults_without_a_file() -> None:
    assert load_settings() == DEFAULTS
    assert get_setting("theme") == "system" and configured_threads() is None


def test_a_hand_edited_file_with_wrong_values_reads_as_defaults() -> None:
    settings_path().write_text(json.dumps({"version": SCHEMA_VERSION, "theme": "purple", "threads": -3,
                                           "offline_by_default": "yes", "data_dir": 7, "models_dir": "/m"}))
    values = load_settings()
    assert values["theme"] == "system" and values["threads"] == 0 and values["offline_by_default"] is False
    assert values["data_dir"] == "" and values["models_dir"] == "/m"


def test_set_setting_refuses_what_its_check_refuses() -> None:
    with pytest.raises(ValueError):
        set_setting("theme", "purple")
    set_setting("threads", 3)
    set_setting("theme", "dark")
    assert configured_threads() == 3 and get_setting("theme") == "dark"
    saved = json.loads(settings_path().read_text())
    assert saved["version"] == SCHEMA_VERSION and saved["threads"] == 3


def test_chosen_folders(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("QUANTDESK_DATA_DIR")
    set_setting("data_dir", str(tmp_path / "my data"))
    assert paths.data_dir() == tmp_path / "my data" and paths.data_dir().is_dir()
    assert paths.models_dir() == tmp_path / "my data" / "models"
    set_setting("models_dir", str(tmp_path / "big disk" / "models"))
    assert paths.models_dir() == tmp_path / "big disk" / "models"
    monkeypatch.setenv("QUANTDESK_DATA_DIR", str(tmp_path / "env"))  # the environment is stronger
    assert paths.data_dir() == tmp_path / "env"
