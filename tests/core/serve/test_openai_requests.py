"""Reading OpenAI request bodies: what is taken, what is refused with a 400 that says why."""

from __future__ import annotations

import pytest

from app.core.engine.protocol import ChatMessage, SamplingSettings
from app.core.serve.api_error import ApiError
from app.core.serve.openai_requests import parse_body, parse_chat, parse_completion

HELLO = [{"role": "user", "content": "Hello"}]


def refused(body: dict, param: str | None = None, completion: bool = False) -> str:  # type: ignore[type-arg]
    with pytest.raises(ApiError) as caught:
        (parse_completion if completion else parse_chat)(body)
    assert caught.value.status == 400
    if param is not None:
        assert caught.value.param == param
    return caught.value.message


def test_chat_messages_in_every_shape_clients_send() -> None:
    request = parse_chat({"model": "m", "messages": [
        {"role": "developer", "content": "Be brief."},
        {"role": "user", "content": [{"type": "text", "text": "Hi "}, {"type": "text", "text": "there"}]},
        {"role": "assistant", "content": None},
        {"role": "user", "content": "Again"},
    ]})
    assert request.messages == (ChatMessage("system", "Be brief."), ChatMessage("user", "Hi there"),
                                ChatMessage("assistant", ""), ChatMessage("user", "Again"))
    assert request.prompt_format == "auto" and request.max_tokens is None and not request.stream


def test_sampling_and_limits_are_read() -> None:
    request = parse_chat({"messages": HELLO, "temperature": 0, "top_p": 0.5, "max_tokens": 9, "seed": 7,
                          "stop": "END", "stream": True, "stream_options": {"include_usage": True},
                          "top_k": 0, "presence_penalty": 0.5, "frequency_penalty": -1, "user": "me", "n": 1})
    assert request.sampling.temperature == 0 and request.sampling.top_p == 0.5 and request.sampling.seed == 7
    assert request.sampling.top_k == 0
    assert request.sampling.presence_penalty == 0.5 and request.sampling.frequency_penalty == -1.0
    assert request.max_tokens == 9 and request.stop == ("END",) and request.stream and request.include_usage
    assert parse_chat({"messages": HELLO, "max_completion_tokens": 5}).max_tokens == 5
    assert parse_chat({"messages": HELLO}).sampling == SamplingSettings()  # the chat's defaults


def test_completions_continue_text_with_openai_default_length() -> None:
    request = parse_completion({"model": "m", "prompt": ["Once upon a time"]})
    assert request.messages == (ChatMessage("user", "Once upon a time"),)
    assert request.prompt_format == "text" and request.max_tokens == 16


@pytest.mark.parametrize(("body", "param", "words"), [
    ({}, "messages", "Missing required parameter"),
    ({"messages": []}, "messages", "non-empty list"),
    ({"messages": ["hi"]}, "messages[0]", "must be an object"),
    ({"messages": [{"role": "robot", "content": "x"}]}, "messages[0].role", "must be one of"),
    ({"messages": [{"role": "tool", "content": "x"}]}, "messages[0]", "not supported"),
    ({"messages": [{"role": "user", "content": [{"type": "image_url"}]}]}, "messages[0].content[0]", "only text"),
    ({"messages": HELLO, "temperature": "hot"}, "temperature", "must be a number"),
    ({"messages": HELLO, "top_p": 2}, "top_p", "between 0 and 1"),
    ({"messages": HELLO, "presence_penalty": 3}, "presence_penalty", "between -2 and 2"),
    ({"messages": HELLO, "max_tokens": 0}, "max_tokens", "at least 1"),
    ({"messages": HELLO, "max_tokens": True}, "max_tokens", "whole number"),
    ({"messages": HELLO, "stop": ["a", "b", "c", "d", "e"]}, "stop", "at most 4"),
    ({"messages": HELLO, "n": 2}, "n", "Only n=1"),
    ({"messages": HELLO, "tools": [{"type": "function"}]}, "tools", "not supported"),
    ({"messages": HELLO, "logprobs": True}, "logprobs", "not supported"),
    ({"messages": HELLO, "stream": "yes"}, "stream", "true or false"),
])
def test_malformed_chat_bodies_say_what_is_wrong(body: dict, param: str, words: str) -> None:  # type: ignore[type-arg]
    assert words in refused(body, param)


def test_malformed_completion_bodies() -> None:
    assert "Missing required parameter" in refused({}, "prompt", completion=True)
    assert "must be a string" in refused({"prompt": [1, 2, 3]}, "prompt", completion=True)
    assert "echo" in refused({"prompt": "x", "echo": True}, "echo", completion=True)


@pytest.mark.parametrize(("raw", "words"), [
    (b"", "no body"), (b"{not json", "not valid JSON"), (b"[1, 2]", "must be a JSON object, not a list"),
    (b"\xff\xfe", "not valid JSON"),
])
def test_bodies_that_are_not_json_objects(raw: bytes, words: str) -> None:
    with pytest.raises(ApiError) as caught:
        parse_body(raw)
    assert caught.value.status == 400 and words in caught.value.message
    assert caught.value.body()["error"]["type"] == "invalid_request_error"
