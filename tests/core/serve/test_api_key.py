"""The key: made once, kept owner-only in the data folder, chosen from --api-key / the environment / the file."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from app.core.serve.api_key import ENV_VAR, choose_key, kept_key, key_matches, key_path, replace_key


def test_the_kept_key_is_made_once_and_kept(data_dir: Path) -> None:
    key = kept_key()
    assert key.startswith("qd-") and len(key) > 40
    assert kept_key() == key
    assert key_path().read_text().strip() == key
    assert stat.S_IMODE(key_path().stat().st_mode) == 0o600  # other users of the computer cannot read it
    assert not list(data_dir.glob(".*part"))
    assert replace_key() != key and kept_key() != key


def test_the_key_comes_from_the_option_then_the_environment_then_the_file(data_dir: Path,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENV_VAR, raising=False)
    assert choose_key(None) == kept_key()
    monkeypatch.setenv(ENV_VAR, " from-env ")
    assert choose_key(None) == "from-env"
    assert choose_key("given") == "given"


def test_only_the_right_bearer_key_matches() -> None:
    assert key_matches("Bearer sesame", "sesame")
    assert key_matches("bearer  sesame ", "sesame")
    assert not key_matches("Bearer sesame2", "sesame")
    assert not key_matches("Basic sesame", "sesame")
    assert not key_matches("", "sesame") and not key_matches(None, "sesame")
