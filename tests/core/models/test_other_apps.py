"""Models other apps downloaded, found where they lie: LM Studio, GPT4All, Ollama (manifests name the blobs)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from app.core.advice.sources import read_model_facts
from app.core.errors import InvalidModelFileError
from app.core.models.library import add_model_file, list_models, starter_model_path
from app.core.models.other_apps import (
    GPT4ALL,
    LM_STUDIO,
    OLLAMA,
    gpt4all_models,
    lm_studio_models,
    ollama_models,
    ollama_name,
    other_apps_models,
)
from tests.fixtures.hub_models import tiny_gguf_bytes

GGUF = tiny_gguf_bytes()


def put(path: Path, data: bytes = GGUF) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def ollama_manifest(store: Path, name: tuple[str, ...], layers: list[dict[str, object]]) -> None:
    manifest = store / "manifests" / Path(*name)
    manifest.parent.mkdir(parents=True, exist_ok=True)
    manifest.write_text(json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.docker.distribution."
                                    "manifest.v2+json", "layers": layers}))


def model_layer(digest: str) -> dict[str, object]:
    return {"mediaType": "application/vnd.ollama.image.model", "digest": f"sha256:{digest}", "size": 1}


def test_lm_studio_folders_old_new_and_moved(tmp_path: Path) -> None:
    home = tmp_path / "home"
    put(home / ".lmstudio/models/lmstudio-community/Qwen2.5-0.5B-Instruct-GGUF/Qwen2.5-0.5B-Instruct-Q4_K_M.gguf")
    put(home / ".cache/lm-studio/models/TheBloke/old-GGUF/old.Q8_0.gguf")
    moved = tmp_path / "big disk" / "lms"
    put(moved / "bartowski/Llama-3.2-1B-Instruct-GGUF/Llama-3.2-1B-Instruct-Q8_0.gguf")
    put(home / ".lmstudio/settings.json", json.dumps({"downloadsFolder": str(moved)}).encode())
    titles = [e.title for e in lm_studio_models(home)]
    assert titles == ["bartowski/Llama-3.2-1B-Instruct-GGUF · Llama-3.2-1B-Instruct-Q8_0.gguf",
                      "lmstudio-community/Qwen2.5-0.5B-Instruct-GGUF · Qwen2.5-0.5B-Instruct-Q4_K_M.gguf",
                      "TheBloke/old-GGUF · old.Q8_0.gguf"]
    assert {e.source for e in lm_studio_models(home)} == {LM_STUDIO}


@pytest.mark.parametrize("platform", ["linux", "darwin", "win32"])
def test_gpt4all_data_folder_and_model_path(tmp_path: Path, platform: str) -> None:
    home = tmp_path / "home"
    env = {"LOCALAPPDATA": str(home / "AppData/Local"), "APPDATA": str(home / "AppData/Roaming")}
    data = {"linux": home / ".local/share", "darwin": home / "Library/Application Support",
            "win32": home / "AppData/Local"}[platform]
    config = {"linux": home / ".config", "darwin": home / ".config", "win32": home / "AppData/Roaming"}[platform]
    put(data / "nomic.ai/GPT4All/Meta-Llama-3-8B-Instruct.Q4_0.gguf")
    put(data / "nomic.ai/GPT4All/localdocs_v2.db", b"SQLite format 3\0")  # not a model
    custom = tmp_path / "models elsewhere"
    put(custom / "Phi-3-mini-4k-instruct.Q4_0.gguf")
    put(config / "nomic.ai/GPT4All.ini", f"[General]\nmodelPath={custom}\n".encode())
    found = gpt4all_models(home, platform, env)
    assert [e.title for e in found] == ["Phi-3-mini-4k-instruct.Q4_0.gguf", "Meta-Llama-3-8B-Instruct.Q4_0.gguf"]
    assert {e.source for e in found} == {GPT4ALL}


def test_ollama_names_come_from_manifests_and_blobs_are_gguf(tmp_path: Path) -> None:
    home = tmp_path / "home"
    store = home / ".ollama/models"
    a, b, c = "a" * 64, "b" * 64, "c" * 64
    put(store / f"blobs/sha256-{a}")
    put(store / f"blobs/sha256-{b}")
    put(store / f"blobs/sha256-{c}", b'{"template": "not a model"}')
    ollama_manifest(store, ("registry.ollama.ai", "library", "llama3.2", "3b"),
                    [model_layer(a), {"mediaType": "application/vnd.ollama.image.template", "digest": f"sha256:{c}"}])
    ollama_manifest(store, ("registry.ollama.ai", "library", "llama3.2", "latest"), [model_layer(a)])  # same blob
    ollama_manifest(store, ("registry.ollama.ai", "someone", "tiny", "q8"), [model_layer(b)])
    ollama_manifest(store, ("hf.co", "bartowski", "Qwen2.5-0.5B-Instruct-GGUF", "Q4_K_M"), [model_layer(b)])
    ollama_manifest(store, ("registry.ollama.ai", "library", "gone", "1b"), [model_layer("d" * 64)])  # no blob
    ollama_manifest(store, ("registry.ollama.ai", "library", "notgguf", "1b"), [model_layer(c)])
    (store / "manifests/registry.ollama.ai/library/broken").mkdir(parents=True)
    (store / "manifests/registry.ollama.ai/library/broken/x").write_text("{not json")
    found = {e.title: e for e in ollama_models(home, env={})}
    assert set(found) == {"llama3.2:3b", "llama3.2:latest", "someone/tiny:q8",
                          "hf.co/bartowski/Qwen2.5-0.5B-Instruct-GGUF:Q4_K_M"}
    assert found["llama3.2:3b"].path == store / f"blobs/sha256-{a}" and found["llama3.2:3b"].source == OLLAMA
    # the store as a whole: one entry per blob (the first name wins), nothing copied
    assert [e.title for e in other_apps_models(home) if e.source == OLLAMA] == [
        "hf.co/bartowski/Qwen2.5-0.5B-Instruct-GGUF:Q4_K_M", "llama3.2:3b"]
    assert sorted(p.name for p in (store / "blobs").iterdir()) == [f"sha256-{a}", f"sha256-{b}", f"sha256-{c}"]


def test_ollama_models_env_moves_the_store(tmp_path: Path) -> None:
    store = tmp_path / "ollama-store"
    put(store / f"blobs/sha256-{'e' * 64}")
    ollama_manifest(store, ("registry.ollama.ai", "library", "qwen2.5", "0.5b"), [model_layer("e" * 64)])
    assert [e.title for e in ollama_models(tmp_path / "home", env={"OLLAMA_MODELS": str(store)})] == ["qwen2.5:0.5b"]
    manifests = store / "manifests"
    assert ollama_name(manifests / "registry.ollama.ai/library/qwen2.5/0.5b", manifests) == "qwen2.5:0.5b"


def test_an_ollama_blob_is_a_model_llama_cpp_reads(tmp_path: Path) -> None:
    """The blob has no .gguf extension; its header reads as the model it is (the starter, linked in)."""
    store = tmp_path / "home/.ollama/models"
    blob = store / f"blobs/sha256-{'f' * 64}"
    blob.parent.mkdir(parents=True)
    blob.symlink_to(starter_model_path())
    ollama_manifest(store, ("registry.ollama.ai", "library", "smollm2", "135m"), [model_layer("f" * 64)])
    (entry,) = ollama_models(tmp_path / "home", env={})
    facts = read_model_facts(str(entry.path))
    assert entry.title == "smollm2:135m" and facts.architecture == "llama" and facts.n_layers == 30


def test_the_library_lists_other_apps_after_its_own(data_dir: Path, tmp_path: Path) -> None:
    home = tmp_path / "home"
    put(home / ".lmstudio/models/pub/repo-GGUF/repo-Q4_K_M.gguf")
    entries = list_models(home=home)
    assert entries[0].is_starter and entries[-1].source == LM_STUDIO


def test_an_added_file_is_remembered_and_a_non_gguf_refused(data_dir: Path, tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QUANTDESK_CONFIG_DIR", str(tmp_path / "config"))
    model = put(tmp_path / "downloads" / "my-model-Q4_K_M.gguf")
    add_model_file(model)
    add_model_file(model)  # twice is once
    assert [e.path for e in list_models(home=tmp_path) if e.source == "Added by you"] == [model]
    with pytest.raises(InvalidModelFileError) as caught:
        add_model_file(put(tmp_path / "notes.txt", b"hello"))
    assert "not a GGUF model file" in caught.value.message
    model.unlink()  # a file moved away is no longer listed
    assert not [e for e in list_models(home=tmp_path) if e.source == "Added by you"]
