"""Find models on the Hub: text search, sort, the two filters people need, a page at a time.

The Hub pages its /api/models answers with Link: rel="next" headers; huggingface_hub's `paginate` follows them
lazily, so a `ModelSearch` keeps that iterator and each `next_page()` costs at most one request.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from itertools import islice
from typing import Any, Literal

from huggingface_hub.hf_api import ModelInfo
from huggingface_hub.utils import build_hf_headers, paginate

from app.core.hub.connection import hub_endpoint, hub_errors, require_online

SortKey = Literal["downloads", "likes", "recent"]
#: our names → the Hub's sort field (the Hub always sorts these descending)
_SORT_FIELDS: dict[str, str] = {"downloads": "downloads", "likes": "likes", "recent": "lastModified"}
PAGE_SIZE = 20


@dataclass(frozen=True)
class SearchQuery:
    text: str = ""
    sort: SortKey = "downloads"
    gguf_only: bool = False  # repos tagged "gguf": ready-made GGUF files
    text_generation_only: bool = True  # pipeline_tag text-generation: chat / completion models
    page_size: int = PAGE_SIZE


@dataclass(frozen=True)
class ModelSummary:
    """One search hit, as a list row shows it."""

    repo_id: str
    downloads: int
    likes: int
    last_modified: datetime | None
    pipeline_tag: str | None
    has_gguf: bool
    gated: bool
    tags: tuple[str, ...]

    @classmethod
    def from_info(cls, info: ModelInfo) -> ModelSummary:
        tags = tuple(info.tags or ())
        return cls(
            repo_id=info.id,
            downloads=int(info.downloads or 0),
            likes=int(info.likes or 0),
            last_modified=info.last_modified,
            pipeline_tag=info.pipeline_tag,
            has_gguf="gguf" in tags or info.library_name == "gguf",
            gated=bool(info.gated),
            tags=tags,
        )


@dataclass(frozen=True)
class SearchPage:
    results: tuple[ModelSummary, ...]
    has_more: bool


def _params(query: SearchQuery) -> dict[str, Any]:
    params: dict[str, Any] = {"sort": _SORT_FIELDS[query.sort], "limit": query.page_size}
    if query.text.strip():
        params["search"] = query.text.strip()
    if query.gguf_only:
        params["filter"] = ["gguf"]
    if query.text_generation_only:
        params["pipeline_tag"] = "text-generation"
    return params


class ModelSearch:
    """A search in progress: call `next_page()` (on a worker thread) until `has_more` is False."""

    def __init__(self, query: SearchQuery) -> None:
        self.query = query
        self._items: Iterator[dict[str, Any]] | None = None
        self._peeked: dict[str, Any] | None = None
        self._exhausted = False
        self._lock = threading.Lock()  # one page at a time, whichever thread asks

    @property
    def has_more(self) -> bool:
        return not self._exhausted

    def next_page(self) -> SearchPage:
        require_online("search for models")
        with self._lock, hub_errors():
            if self._items is None:
                self._items = iter(paginate(f"{hub_endpoint()}/api/models", params=_params(self.query),
                                            headers=build_hf_headers()))
            rows = [self._peeked] if self._peeked is not None else []
            self._peeked = None
            rows += list(islice(self._items, self.query.page_size - len(rows)))
            # look one item ahead so "More" is only offered when there is more (may fetch the next page)
            self._peeked = next(self._items, None)
            self._exhausted = self._peeked is None
            return SearchPage(tuple(ModelSummary.from_info(ModelInfo(**row)) for row in rows), self.has_more)


def search_models(query: SearchQuery) -> SearchPage:
    """The first page of a search (the CLI's and tests' shortcut)."""
    return ModelSearch(query).next_page()
