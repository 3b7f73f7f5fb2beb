"""Which model a person means, read without loading it: a GGUF file, a Hugging Face folder, a Hub repo id, or
`starter`. The one place that turns such a name into ModelFacts (the CLI's `recommend`, the "Which quant?"
page). A GGUF file needs no network code at all; a repo id goes through the Hub's inspection, which is the
only door to the network.
"""

from __future__ import annotations

import re
from pathlib import Path

from app.core.errors import ModelInfoError
from app.core.models.facts import ModelFacts, read_gguf_facts
from app.core.models.library import STARTER_NAME, starter_model_path

_REPO_ID = re.compile(r"^[A-Za-z0-9][\w.\-]*/[\w.\-]+$")


def looks_like_repo_id(text: str) -> bool:
    return bool(_REPO_ID.match(text)) and not text.endswith((".gguf", ".json", ".safetensors"))


def read_model_facts(model: str) -> ModelFacts:
    """Facts for a GGUF file, a Hugging Face folder, a Hub repo id ("owner/name") or `starter`."""
    path = starter_model_path() if model == STARTER_NAME else Path(model).expanduser()
    if path.is_file():
        return read_gguf_facts(path)
    if path.is_dir():
        from app.core.convert.predict import read_folder_facts  # numpy and the converter: only for folders

        return read_folder_facts(path)
    if path.suffix.lower() == ".gguf" or path.is_absolute():
        raise ModelInfoError(f"There is no model file or folder at {path}.", f"not found: {path}")
    if looks_like_repo_id(model):
        from app.core.advice.repo import repo_facts  # huggingface_hub: only for a repo id

        return repo_facts(model)
    raise ModelInfoError(
        f"{model} is not a model file, a model folder or a Hugging Face repo name.",
        f"no file or folder at {path}, and {model!r} is not of the form owner/name",
    )
