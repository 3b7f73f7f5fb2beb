"""The engine process with the real starter at every context length: batches that follow the context's own
n_batch, the oldest turns dropped when a conversation outgrows the context, a plain error when one message
alone is too long, load progress, and where the real model's reply ends."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from app.core.engine.client import EngineClient
from app.core.engine.protocol import (
    GREEDY,
    ChatMessage,
    GenerationDone,
    LoadModel,
    PromptReady,
    TextDelta,
)
from app.core.errors import ContextFullError
from app.core.models.library import starter_model_path

FRANCE = "What is the capital of France? Answer in one word."
LONG = " ".join(["word"] * 200)  # about 200 tokens


@pytest.fixture(autouse=True)
def no_leftover_processes_or_threads() -> Iterator[None]:
    yield  # each test closes its own engine


@pytest.fixture
def engine() -> Iterator[EngineClient]:
    client = EngineClient()
    yield client
    client.close()


def test_the_starter_ends_at_im_end_and_nothing_of_it_shows(engine: EngineClient) -> None:
    progress: list[float] = []
    loaded = engine.load_model(LoadModel(str(starter_model_path()), n_ctx=2048), progress.append)
    assert progress and progress[-1] == pytest.approx(1.0) and progress == sorted(progress)
    assert loaded.info.chat_format == "template" and loaded.info.eos_token == "<|im_end|>"
    events = list(engine.generate([ChatMessage("user", FRANCE)], 64, GREEDY))
    done = events[-1]
    assert isinstance(done, GenerationDone)
    assert done.text == "The capital of France is Paris."
    assert done.end_token == "<|im_end|>" and done.stop_reason == "end_of_text"
    shown = "".join(e.text for e in events if isinstance(e, TextDelta))
    assert shown == done.text and "<|" not in shown
    ready = [e for e in events if isinstance(e, PromptReady)]
    assert len(ready) == 1 and ready[0].prompt_tokens == done.stats.prompt_tokens
    assert 0 < done.stats.first_token_seconds < 60


@pytest.mark.parametrize("n_ctx", [64, 100, 300, 513])
def test_every_context_length_takes_a_200_token_prompt_without_aborting(engine: EngineClient, n_ctx: int) -> None:
    # llama.cpp caps the context's n_batch at n_ctx; evaluating 200 tokens in one 512-token batch used to
    # abort the engine in GGML_ASSERT(n_tokens_all <= cparams.n_batch)
    loaded = engine.load_model(LoadModel(str(starter_model_path()), n_ctx=n_ctx))
    assert loaded.info.n_batch <= max(n_ctx, 1)
    try:
        done = engine.complete([ChatMessage("user", LONG + " How many words?")], 8, GREEDY)
    except ContextFullError as error:  # a context smaller than the prompt says so in plain words
        assert loaded.info.n_ctx < 240
        assert "Shorten the message" in error.message
    else:
        # the whole prompt was evaluated (the model may well answer a wall of "word" with nothing)
        assert done.stats.prompt_tokens > 200 and done.stop_reason in ("end_of_text", "max_tokens")
    assert engine.is_running
    # and the engine still answers afterwards
    assert "Paris" in engine.complete([ChatMessage("user", FRANCE)], 32, GREEDY).text


def test_a_message_longer_than_the_context_is_a_plain_error_not_an_abort(engine: EngineClient) -> None:
    engine.load_model(LoadModel(str(starter_model_path()), n_ctx=64))  # llama.cpp pads this to 256
    with pytest.raises(ContextFullError) as info:
        engine.complete([ChatMessage("user", LONG + " " + LONG)], 8, GREEDY)
    assert "context of 256 tokens" in info.value.message
    assert engine.is_running and "Paris" in engine.complete([ChatMessage("user", FRANCE)], 32, GREEDY).text


def test_the_oldest_turns_are_dropped_when_the_conversation_outgrows_the_context(engine: EngineClient) -> None:
    engine.load_model(LoadModel(str(starter_model_path()), n_ctx=256))
    history: list[ChatMessage] = [ChatMessage("system", "Answer briefly.")]
    for i in range(4):
        history += [ChatMessage("user", f"Note {i}: " + " ".join(["apple"] * 40)), ChatMessage("assistant", "Noted.")]
    history.append(ChatMessage("user", FRANCE))
    events = list(engine.generate(history, 24, GREEDY))
    ready = next(e for e in events if isinstance(e, PromptReady))
    done = events[-1]
    assert isinstance(done, GenerationDone)
    assert ready.dropped_messages >= 2 and ready.dropped_messages % 2 == 0  # whole turns: question and reply
    assert done.stats.dropped_messages == ready.dropped_messages
    assert ready.prompt_tokens + min(24, 256 // 4) <= 256
    assert done.text and done.stop_reason == "end_of_text"  # a 135M model copies "Noted.": any answer
