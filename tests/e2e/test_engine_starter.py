"""The engine process with the real starter model: real answers, Stop, bad files, crashes."""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.core.engine.client import EngineClient
from app.core.engine.protocol import (
    GREEDY,
    ChatMessage,
    GenerationDone,
    LoadModel,
    SamplingSettings,
    TextDelta,
)
from app.core.engine.server import DELTA_SECONDS
from app.core.errors import EngineCrashedError, EngineNotReadyError, ModelLoadError
from app.core.models.library import starter_model_path

FRANCE = "What is the capital of France? Answer in one word."
GERMANY = "What is the capital of Germany? Answer in one word."


@pytest.fixture(scope="module")
def engine() -> Iterator[EngineClient]:
    client = EngineClient()
    client.load_model(LoadModel(str(starter_model_path()), n_ctx=2048))
    yield client
    client.close()


@pytest.fixture(autouse=True)
def no_leftover_processes_or_threads() -> Iterator[None]:
    # The module-scoped engine outlives single tests on purpose; the module fixture closes it.
    yield


def test_one_thread_per_physical_core(engine: EngineClient) -> None:
    import psutil

    # llama.cpp's own default is a fixed 4, which oversubscribes a 2-core machine and starves a big one
    assert engine.loaded is not None
    assert engine.loaded.info.n_threads == (psutil.cpu_count(logical=False) or 1)


def test_greedy_answer_is_paris(engine: EngineClient) -> None:
    done = engine.complete([ChatMessage("user", FRANCE)], max_tokens=32, sampling=GREEDY)
    assert "Paris" in done.text
    assert done.stop_reason == "end_of_text"
    assert done.stats.generated_tokens > 0 and done.stats.tokens_per_second > 0


def test_second_question_reuses_nothing_stale(engine: EngineClient) -> None:
    # A different conversation after the first must not be polluted by the cached tokens.
    done = engine.complete([ChatMessage("user", GERMANY)], max_tokens=32, sampling=GREEDY)
    assert "Berlin" in done.text


def test_follow_up_turn_reuses_the_cached_prefix(engine: EngineClient) -> None:
    first = engine.complete([ChatMessage("user", FRANCE)], max_tokens=32, sampling=GREEDY)
    follow = engine.complete(
        [ChatMessage("user", FRANCE), ChatMessage("assistant", first.text), ChatMessage("user", GERMANY)],
        max_tokens=32, sampling=GREEDY)
    assert follow.stats.prompt_tokens_reused >= first.stats.prompt_tokens - 1
    assert "Berlin" in follow.text


def test_stream_arrives_in_deltas_that_add_up(engine: EngineClient) -> None:
    events = list(engine.generate([ChatMessage("user", FRANCE)], 32, GREEDY))
    deltas = [e for e in events if isinstance(e, TextDelta)]
    done = events[-1]
    assert isinstance(done, GenerationDone)
    # the first piece is sent at once; later ones gather up to DELTA_SECONDS of tokens each
    assert len(deltas) >= 2
    assert "".join(d.text for d in deltas) == done.text
    assert deltas[-1].n_generated == done.stats.generated_tokens
    assert [d.n_generated for d in deltas] == sorted({d.n_generated for d in deltas})


def test_same_seed_same_reply(engine: EngineClient) -> None:
    sampling = SamplingSettings(temperature=0.9, seed=1234)
    prompt = [ChatMessage("user", "Write one sentence about the sea.")]
    a = engine.complete(prompt, 24, sampling)
    b = engine.complete(prompt, 24, sampling)
    assert a.text == b.text and a.text


def test_stop_takes_effect_within_one_token(engine: EngineClient) -> None:
    stream = engine.generate([ChatMessage("user", "Tell me a long story about a dragon.")], 400,
                             SamplingSettings(temperature=0.8, seed=7))
    seen_at_stop = 0
    done: GenerationDone | None = None
    for event in stream:
        if isinstance(event, TextDelta):
            if not seen_at_stop and event.n_generated >= 5:
                seen_at_stop = event.n_generated
                engine.stop_generation()
        elif isinstance(event, GenerationDone):
            done = event
    assert done is not None and done.stop_reason == "stopped"
    # The engine checks for Stop after every token. Text is sent at most DELTA_SECONDS late, so the engine
    # may be that far past what the window has seen when the Stop arrives, plus the token decoding then.
    unsent = math.ceil(done.stats.tokens_per_second * DELTA_SECONDS)
    assert done.stats.generated_tokens <= seen_at_stop + unsent + 1
    # And the engine is ready for the next request at once.
    again = engine.complete([ChatMessage("user", FRANCE)], 32, GREEDY)
    assert "Paris" in again.text


def test_missing_file_names_the_file() -> None:
    client = EngineClient()
    try:
        with pytest.raises(ModelLoadError) as info:
            client.load_model(LoadModel("/nonexistent/model.gguf"))
        assert "/nonexistent/model.gguf" in info.value.message
    finally:
        client.close()


def test_corrupt_file_gets_llama_cpps_reason(tmp_path: Path) -> None:
    bad = tmp_path / "broken.gguf"
    bad.write_bytes(b"GGUF" + b"\x03\x00\x00\x00" + b"\xff" * 64)
    client = EngineClient()
    try:
        with pytest.raises(ModelLoadError) as info:
            client.load_model(LoadModel(str(bad)))
        assert "broken.gguf" in info.value.message
        assert "damaged" in info.value.message
        # llama.cpp's own words are in the detail (captured from its log, not /dev/null)
        assert "failed to read header" in info.value.detail
        # The engine survived the bad file and still serves.
        client.load_model(LoadModel(str(starter_model_path()), n_ctx=512))
        assert "Paris" in client.complete([ChatMessage("user", FRANCE)], 32, GREEDY).text
    finally:
        client.close()


def test_truncated_model_is_refused_cleanly(tmp_path: Path) -> None:
    source = starter_model_path().read_bytes()
    cut = tmp_path / "cut.gguf"
    cut.write_bytes(source[: len(source) // 2])
    client = EngineClient()
    try:
        with pytest.raises(ModelLoadError) as info:
            client.load_model(LoadModel(str(cut)))
        assert "cut.gguf" in info.value.message and "incomplete" in info.value.message
        assert "not within the file bounds" in info.value.detail
    finally:
        client.close()


def test_not_a_gguf_file(tmp_path: Path) -> None:
    text = tmp_path / "notes.gguf"
    text.write_text("hello, this is not a model\n")
    client = EngineClient()
    try:
        with pytest.raises(ModelLoadError) as info:
            client.load_model(LoadModel(str(text)))
        assert "not a GGUF model file" in info.value.message
        assert "invalid magic" in info.value.detail
    finally:
        client.close()


def test_generate_before_load_is_a_plain_error() -> None:
    client = EngineClient()
    client.start()
    try:
        with pytest.raises(EngineNotReadyError):
            client.complete([ChatMessage("user", "hi")], 4)
    finally:
        client.close()


def test_crash_is_reported_and_restart_recovers() -> None:
    client = EngineClient()
    try:
        client.load_model(LoadModel(str(starter_model_path()), n_ctx=512))
        client.kill()
        with pytest.raises(EngineCrashedError) as info:
            client.complete([ChatMessage("user", FRANCE)], 8)
        assert "restart" in info.value.message.lower()
        assert "SIGKILL" in info.value.detail
        client.restart()
        client.load_model(LoadModel(str(starter_model_path()), n_ctx=512))
        assert "Paris" in client.complete([ChatMessage("user", FRANCE)], 32, GREEDY).text
    finally:
        client.close()
