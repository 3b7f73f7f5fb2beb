"""The engine's context settings and generation loop with the real starter model: the settings it reports are
the ones it used, backend sampling gives the same tokens as sampling on the processor, the loop's ends."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from app.core.context_settings import context_settings
from app.core.engine.client import EngineClient
from app.core.engine.protocol import GREEDY, ChatMessage, LoadModel, SamplingSettings
from app.core.models.library import starter_model_path

FRANCE = "What is the capital of France? Answer in one word."
STORY = [ChatMessage("user", "Write one sentence about the sea.")]


def engine(monkeypatch: pytest.MonkeyPatch, backend: str, n_ctx: int = 1024) -> EngineClient:
    monkeypatch.setenv("QUANTDESK_BACKEND_SAMPLING", backend)  # the engine process inherits it at start
    client = EngineClient()
    client.load_model(LoadModel(str(starter_model_path()), n_ctx=n_ctx))
    return client


@pytest.fixture
def cpu_engine(monkeypatch: pytest.MonkeyPatch) -> Iterator[EngineClient]:
    client = engine(monkeypatch, "")
    yield client
    client.close()


def test_engine_reports_the_settings_it_loaded_with(cpu_engine: EngineClient) -> None:
    assert cpu_engine.loaded is not None
    used = cpu_engine.loaded.info.context
    assert used == context_settings(1024)  # the one place the estimate reads too
    assert cpu_engine.loaded.info.n_ctx == used.n_ctx


@pytest.mark.parametrize("sampling", [GREEDY, SamplingSettings(temperature=0.8, seed=99)])
def test_backend_sampling_picks_the_same_tokens(monkeypatch: pytest.MonkeyPatch, sampling: SamplingSettings) -> None:
    replies = []
    for backend in ("off", "on"):
        client = engine(monkeypatch, backend)
        try:
            assert client.loaded is not None and client.loaded.info.context is not None
            assert client.loaded.info.context.backend_sampling is (backend == "on")
            replies.append(client.complete(STORY, 24, sampling).text)
        finally:
            client.close()
    assert replies[0] == replies[1] and replies[0]


def test_prompt_only_and_a_full_context(monkeypatch: pytest.MonkeyPatch) -> None:
    client = engine(monkeypatch, "", n_ctx=128)
    try:
        only = client.complete([ChatMessage("user", FRANCE)], 0, GREEDY)
        assert only.stats.generated_tokens == 0 and only.text == "" and only.stats.prompt_tokens > 0
        long = client.complete([ChatMessage("user", "Tell me a very long story about a dragon.")], 1000,
                               SamplingSettings(temperature=1.0, seed=3))
        assert long.stop_reason in ("context_full", "end_of_text")
        assert client.loaded is not None
        n_ctx = client.loaded.info.n_ctx  # llama.cpp pads the context to a multiple of 256
        assert n_ctx == 256
        if long.stop_reason == "context_full":  # the last token is shown but finds no room in the cache
            assert long.stats.prompt_tokens + long.stats.generated_tokens == n_ctx + 1
        again = client.complete([ChatMessage("user", FRANCE)], 16, GREEDY)  # the cache is consistent after it
        assert "Paris" in again.text
    finally:
        client.close()
