"""Search through the real huggingface_hub client against the fake Hub: filters, sort, Link-header paging."""

from __future__ import annotations

from app.core.hub.search import ModelSearch, SearchQuery, search_models
from tests.fixtures.fake_hub import FakeHub, FakeRepo
from tests.fixtures.hub_fixtures import *  # noqa: F403 (fixtures)


def test_text_search_and_gguf_filter(fake_hub: FakeHub) -> None:
    page = search_models(SearchQuery(text="GGUF", gguf_only=True))
    assert {r.repo_id for r in page.results} == {"tester/tiny-GGUF", "gated-org/gated-GGUF"}
    assert all(r.has_gguf for r in page.results)
    gated = next(r for r in page.results if r.repo_id.startswith("gated-org"))
    assert gated.gated
    page = search_models(SearchQuery(text="tiny", gguf_only=False))
    assert {r.repo_id for r in page.results} == {"tester/tiny-GGUF", "tester/tiny-llama"}
    search = next(r for r in fake_hub.requests if r.request.path == "/api/models")
    assert search.status == 200


def test_text_generation_filter(fake_hub: FakeHub) -> None:
    fake_hub.add_repo(FakeRepo("tester/tiny-embedder", [], pipeline_tag="feature-extraction"))
    assert "tester/tiny-embedder" not in {r.repo_id for r in search_models(SearchQuery()).results}
    everything = search_models(SearchQuery(text_generation_only=False)).results
    assert "tester/tiny-embedder" in {r.repo_id for r in everything}


def test_sort_orders(fake_hub: FakeHub) -> None:
    by = {s: [r.repo_id for r in search_models(SearchQuery(sort=s)).results]
          for s in ("downloads", "likes", "recent")}
    assert by["downloads"] == ["tester/tiny-GGUF", "tester/tiny-llama", "gated-org/gated-GGUF"]
    assert by["likes"][0] == "tester/tiny-llama"  # 50 likes
    assert by["recent"][0] == "tester/tiny-llama"  # modified 2025-06
    first = search_models(SearchQuery(sort="downloads")).results[0]
    assert first.downloads == 500 and first.likes == 10


def test_paging_follows_link_headers(fake_hub: FakeHub) -> None:
    for i in range(42):
        fake_hub.add_repo(FakeRepo(f"bulk/model-{i:02d}", [], downloads=1000 - i))
    search = ModelSearch(SearchQuery(text="bulk/", page_size=20))
    pages = []
    while search.has_more:
        pages.append(search.next_page())
    assert [len(p.results) for p in pages] == [20, 20, 2]
    assert [p.has_more for p in pages] == [True, True, False]
    ids = [r.repo_id for p in pages for r in p.results]
    assert ids == [f"bulk/model-{i:02d}" for i in range(42)]  # by downloads, no repeats, none missing
    listing = [r.request for r in fake_hub.requests if r.request.path == "/api/models"]
    assert len(listing) == 3  # one request per page: the next page is the Link header's URL
