from __future__ import annotations

from pathlib import Path

import pytest

from app.core.errors import ModelNotFoundError
from app.core.models.library import list_models, resolve_model, starter_model_path


def test_starter_model_is_installed_without_its_llm_dependency() -> None:
    path = starter_model_path()
    assert path.name == "SmolLM2-135M-Instruct.Q4_1.gguf"
    assert path.read_bytes()[:4] == b"GGUF"
    assert path.stat().st_size > 90_000_000


def test_library_lists_starter_first_then_models_folder(data_dir: Path) -> None:
    made = data_dir / "models" / "mine-Q8_0.gguf"
    made.parent.mkdir(parents=True)
    made.write_bytes(b"GGUF")
    (data_dir / "models" / "mine-Q2_K.part.gguf").write_bytes(b"GGUF")  # unfinished: not listed
    entries = list_models()
    assert entries[0].is_starter
    assert [e.path.name for e in entries[1:]] == ["mine-Q8_0.gguf"]


def test_resolve_model_names_the_missing_path(tmp_path: Path) -> None:
    assert resolve_model("starter") == starter_model_path()
    with pytest.raises(ModelNotFoundError) as info:
        resolve_model(str(tmp_path / "nope.gguf"))
    assert "nope.gguf" in info.value.message


def test_gguf_files_in_the_hugging_face_cache_are_listed(
    data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = tmp_path / "hf" / "hub"
    repo = cache / "models--bartowski--SmolLM2-135M-Instruct-GGUF"
    blob = repo / "blobs" / "abc123"
    blob.parent.mkdir(parents=True)
    blob.write_bytes(b"GGUF" + b"\0" * 100)
    for commit in ("c1", "c2"):  # the same blob in two snapshots is one model
        snap = repo / "snapshots" / commit
        snap.mkdir(parents=True)
        (snap / "SmolLM2-135M-Instruct-Q4_K_M.gguf").symlink_to(blob)
    (repo / "snapshots" / "c2" / "gone-Q2_K.gguf").symlink_to(repo / "blobs" / "missing")  # dangling
    (repo / "blobs" / "def.incomplete").write_bytes(b"GG")
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    titles = [e.title for e in list_models()]
    assert titles[1:] == ["bartowski/SmolLM2-135M-Instruct-GGUF · SmolLM2-135M-Instruct-Q4_K_M.gguf"]
