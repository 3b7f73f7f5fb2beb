"""Models other apps already downloaded: LM Studio's and GPT4All's model folders and Ollama's store.

They are listed where they lie, never copied: llama.cpp loads a GGUF file from any path. Each finder takes
the home folder (and the environment) as arguments, so tests give them a made-up home. Where each app keeps
its models (and how a person moves them) is the app's own convention, noted beside each finder.

Ollama keeps models as content-addressed blobs (`blobs/sha256-<hex>`, no file extension) named by manifests
(`manifests/<registry>/<namespace>/<model>/<tag>`, JSON, an OCI image manifest): the layer whose media type
is `application/vnd.ollama.image.model` is the GGUF file. Its name for people is "model:tag", with the
namespace when it is not "library" and the registry when it is not registry.ollama.ai.
"""

from __future__ import annotations

import configparser
import json
import logging
import os
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path

from app.core.disk import is_partial
from app.core.models.entry import ModelEntry

log = logging.getLogger(__name__)

GGUF_MAGIC = b"GGUF"
OLLAMA_MODEL_LAYER = "application/vnd.ollama.image.model"
OLLAMA_REGISTRY = "registry.ollama.ai"
MAX_MANIFEST_BYTES = 1 << 20
LM_STUDIO = "LM Studio"
GPT4ALL = "GPT4All"
OLLAMA = "Ollama"


def is_gguf(path: Path) -> bool:
    """Whether the file starts with GGUF's magic bytes (Ollama's blobs have no extension to go by)."""
    try:
        with open(path, "rb") as f:
            return f.read(4) == GGUF_MAGIC
    except OSError:
        return False


def _gguf_files(folder: Path) -> Iterator[Path]:
    try:
        found = sorted(folder.rglob("*.gguf"))
    except OSError:
        return
    for path in found:
        if path.is_file() and not is_partial(path):
            yield path


# ---- LM Studio: ~/.lmstudio/models/<publisher>/<repo>/<file>.gguf (before 0.3: ~/.cache/lm-studio/models) ----


def lm_studio_folders(home: Path) -> list[Path]:
    folders = [home / ".lmstudio" / "models", home / ".cache" / "lm-studio" / "models"]
    # a folder moved in LM Studio's settings ("My Models" → models directory) is kept in its settings file
    for settings in (home / ".lmstudio" / "settings.json", home / ".cache" / "lm-studio" / "settings.json"):
        try:
            chosen = json.loads(settings.read_text(encoding="utf-8")).get("downloadsFolder")
        except (OSError, ValueError, AttributeError):
            continue
        if isinstance(chosen, str) and chosen:
            folders.insert(0, Path(chosen).expanduser())
    return folders


def lm_studio_models(home: Path) -> list[ModelEntry]:
    entries = []
    for folder in lm_studio_folders(home):
        for path in _gguf_files(folder):
            rel = path.relative_to(folder)
            # publisher/repo/file.gguf: people know the model by its repo, as on the Hub
            title = f"{rel.parts[0]}/{rel.parts[1]} · {path.name}" if len(rel.parts) >= 3 else path.name
            entries.append(ModelEntry(title, path, path.stat().st_size, source=LM_STUDIO))
    return entries


# ---- GPT4All: the GGUF files in its data folder, or the folder set in GPT4All.ini (modelPath) --------------


def gpt4all_folders(home: Path, platform: str = sys.platform, env: Mapping[str, str] = os.environ) -> list[Path]:
    if platform == "darwin":
        data, config = home / "Library" / "Application Support", home / ".config"
    elif platform == "win32":
        data = Path(env.get("LOCALAPPDATA") or home / "AppData" / "Local")
        config = Path(env.get("APPDATA") or home / "AppData" / "Roaming")
    else:
        data = Path(env.get("XDG_DATA_HOME") or home / ".local" / "share")
        config = Path(env.get("XDG_CONFIG_HOME") or home / ".config")
    folders = [data / "nomic.ai" / "GPT4All"]
    ini = configparser.ConfigParser(interpolation=None)
    try:
        ini.read(config / "nomic.ai" / "GPT4All.ini", encoding="utf-8")
        chosen = ini.get("General", "modelPath", fallback="") or ini.defaults().get("modelpath", "")
    except (configparser.Error, OSError, UnicodeDecodeError):
        chosen = ""
    if chosen:
        folders.insert(0, Path(chosen).expanduser())
    return folders


def gpt4all_models(home: Path, platform: str = sys.platform, env: Mapping[str, str] = os.environ) -> list[ModelEntry]:
    entries = []
    for folder in gpt4all_folders(home, platform, env):
        try:
            files = sorted(p for p in folder.glob("*.gguf") if p.is_file())
        except OSError:
            continue
        entries += [ModelEntry(p.name, p, p.stat().st_size, source=GPT4ALL) for p in files]
    return entries


# ---- Ollama: OLLAMA_MODELS, else ~/.ollama/models; the Linux service keeps /usr/share/ollama/.ollama/models ----


def ollama_folders(home: Path, env: Mapping[str, str] = os.environ) -> list[Path]:
    if env.get("OLLAMA_MODELS"):
        return [Path(env["OLLAMA_MODELS"]).expanduser()]
    return [home / ".ollama" / "models", Path("/usr/share/ollama/.ollama/models")]


def ollama_name(manifest: Path, manifests: Path) -> str:
    """"llama3.2:3b" for manifests/registry.ollama.ai/library/llama3.2/3b; "user/model:tag" for another
    namespace; "host/namespace/model:tag" for another registry."""
    parts = manifest.relative_to(manifests).parts
    if len(parts) < 4:
        return "/".join(parts)
    registry, namespace, model, tag = parts[0], parts[1], "/".join(parts[2:-1]), parts[-1]
    name = f"{model}:{tag}" if namespace == "library" else f"{namespace}/{model}:{tag}"
    return name if registry == OLLAMA_REGISTRY else f"{registry}/{name}"


def _model_blob(manifest: Path, store: Path) -> Path | None:
    try:
        if manifest.stat().st_size > MAX_MANIFEST_BYTES:
            return None
        data = json.loads(manifest.read_text(encoding="utf-8"))
        layers = data.get("layers") if isinstance(data, dict) else None
    except (OSError, ValueError, UnicodeDecodeError):
        return None
    for layer in layers if isinstance(layers, list) else []:
        if isinstance(layer, dict) and layer.get("mediaType") == OLLAMA_MODEL_LAYER:
            digest = str(layer.get("digest", ""))
            if digest.startswith("sha256:") and all(c in "0123456789abcdef" for c in digest[7:]):
                return store / "blobs" / digest.replace(":", "-")
    return None


def ollama_models(home: Path, env: Mapping[str, str] = os.environ) -> list[ModelEntry]:
    entries = []
    for store in ollama_folders(home, env):
        manifests = store / "manifests"
        try:
            found = sorted(p for p in manifests.rglob("*") if p.is_file())
        except OSError:
            continue
        for manifest in found:
            blob = _model_blob(manifest, store)
            if blob is None or not is_gguf(blob):
                continue  # a manifest without a model layer (an adapter, a projector) or a missing blob
            entries.append(ModelEntry(ollama_name(manifest, manifests), blob, blob.stat().st_size, source=OLLAMA))
    return entries


def other_apps_models(home: Path | None = None) -> list[ModelEntry]:
    """Everything LM Studio, GPT4All and Ollama keep on this computer; a blob shared by two names is listed once."""
    home = home or Path.home()
    entries: list[ModelEntry] = []
    seen: set[Path] = set()
    for finder in (lm_studio_models, gpt4all_models, ollama_models):
        try:
            found = finder(home)
        except OSError as error:  # an unreadable folder hides that app's models, never the others'
            log.info("%s: %s", finder.__name__, error)
            continue
        for entry in found:
            key = entry.path.resolve()
            if key not in seen:
                seen.add(key)
                entries.append(entry)
    return entries
