"""Every kind of job, by the name the queue's file stores. A new kind (an evaluation) adds its line here."""

from __future__ import annotations

from typing import Any

from app.core.errors import QuantDeskError
from app.core.jobs.convert import CONVERT
from app.core.jobs.download import DOWNLOAD
from app.core.jobs.evaluate import EVALUATE
from app.core.jobs.kind import JobKind
from app.core.jobs.quantize import QUANTIZE

KINDS: dict[str, JobKind[Any, Any]] = {kind.name: kind for kind in (DOWNLOAD, CONVERT, QUANTIZE, EVALUATE)}


def kind_named(name: str) -> JobKind[Any, Any]:
    """The kind called `name`; a plain-words error for a job written by a newer QuantDesk."""
    kind = KINDS.get(name)
    if kind is None:
        raise QuantDeskError(f"This job is of a kind this version of QuantDesk does not know ({name}).",
                             f"job kind {name!r}; known: {', '.join(KINDS)}")
    return kind
