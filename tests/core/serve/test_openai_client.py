"""The official openai client against the server, with the starter model answering for real."""

from __future__ import annotations

import threading
import time

import httpx2
import openai
import pytest

from app.core.errors import ServeError
from app.core.offline import set_offline
from app.core.serve.server import bind
from tests.core.serve.conftest import KEY, Served

pytestmark = pytest.mark.slow
QUESTION = "What is the capital of France? Answer in one word."


def client_for(served: Served, key: str = KEY) -> openai.OpenAI:
    return openai.OpenAI(base_url=served.base_url, api_key=key, max_retries=0, timeout=120)


def ask(question: str = QUESTION) -> list[dict[str, str]]:
    return [{"role": "user", "content": question}]


def wait_for(condition, timeout: float = 30.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def test_lists_the_loaded_model(served: Served) -> None:
    models = client_for(served).models.list()
    assert [m.id for m in models] == ["SmolLM2-135M-Instruct.Q4_1"]
    assert models.data[0].owned_by == "quantdesk"
    assert client_for(served).models.retrieve("SmolLM2-135M-Instruct.Q4_1").id == "SmolLM2-135M-Instruct.Q4_1"


def test_chat_completion_answers_with_the_chat_template(served: Served) -> None:
    reply = client_for(served).chat.completions.create(model="any", messages=ask(), temperature=0)
    assert "Paris" in (reply.choices[0].message.content or "")
    assert reply.choices[0].finish_reason == "stop"
    assert reply.object == "chat.completion" and reply.model == "SmolLM2-135M-Instruct.Q4_1"
    assert reply.usage is not None and reply.usage.completion_tokens == 7  # "The capital of France is Paris."
    assert reply.usage.prompt_tokens > 20  # the template's system turn and markers, not the bare question


def test_streamed_chat_completion(served: Served) -> None:
    stream = client_for(served).chat.completions.create(model="any", messages=ask(), temperature=0, stream=True,
                                                        stream_options={"include_usage": True})
    pieces, reasons, usage = [], [], None
    for chunk in stream:
        if chunk.usage is not None:
            usage = chunk.usage
        for choice in chunk.choices:
            if choice.delta.content:
                pieces.append(choice.delta.content)
            if choice.finish_reason:
                reasons.append(choice.finish_reason)
    assert "Paris" in "".join(pieces)
    assert len(pieces) > 3  # streamed piece by piece, not in one lump
    assert reasons == ["stop"]
    assert usage is not None and usage.completion_tokens == 7


def test_sampling_settings_reach_the_engine(served: Served) -> None:
    oc = client_for(served)
    kwargs = {"model": "any", "messages": ask("Write one sentence about the sea."), "temperature": 1.0,
              "top_p": 0.9, "max_tokens": 12, "seed": 1234}
    first = oc.chat.completions.create(**kwargs)  # type: ignore[call-overload]
    again = oc.chat.completions.create(**kwargs)  # type: ignore[call-overload]
    other = oc.chat.completions.create(**{**kwargs, "seed": 99})  # type: ignore[call-overload]
    assert first.choices[0].message.content == again.choices[0].message.content  # seed: repeatable
    assert first.choices[0].message.content != other.choices[0].message.content
    assert first.usage is not None and first.usage.completion_tokens == 12
    assert first.choices[0].finish_reason == "length"  # max_tokens


def test_stop_texts_end_the_reply(served: Served) -> None:
    reply = client_for(served).chat.completions.create(model="any", messages=ask(), temperature=0, stop=["Paris"])
    assert reply.choices[0].message.content == "The capital of France is "
    assert reply.choices[0].finish_reason == "stop"


def test_completions_continue_text(served: Served) -> None:
    reply = client_for(served).completions.create(model="any", prompt="The capital of France is", max_tokens=3,
                                                  temperature=0)
    assert reply.choices[0].text.startswith(" Paris")
    assert reply.choices[0].finish_reason == "length" and reply.usage is not None
    assert reply.usage.completion_tokens == 3
    streamed = client_for(served).completions.create(model="any", prompt="The capital of France is",
                                                     max_tokens=3, temperature=0, stream=True)
    assert "".join(c.choices[0].text for c in streamed) == reply.choices[0].text


def test_wrong_or_missing_key_is_401(served: Served) -> None:
    with pytest.raises(openai.AuthenticationError) as caught:
        client_for(served, key="qd-wrong").chat.completions.create(model="any", messages=ask())
    assert caught.value.status_code == 401
    assert "Incorrect API key" in caught.value.message
    bare = httpx2.get(served.base_url + "/models")
    assert bare.status_code == 401
    assert bare.json()["error"]["code"] == "invalid_api_key"
    assert "didn't provide an API key" in bare.json()["error"]["message"]


def test_malformed_bodies_are_400_with_a_message(served: Served) -> None:
    oc = client_for(served)
    with pytest.raises(openai.BadRequestError) as caught:
        oc.chat.completions.create(model="any", messages="hello")  # type: ignore[arg-type]
    assert "'messages' must be a non-empty list" in caught.value.message
    with pytest.raises(openai.BadRequestError) as caught:
        oc.chat.completions.create(model="any", messages=ask(), temperature=7)
    assert caught.value.param == "temperature" and "between 0 and 2" in caught.value.message
    raw = httpx2.post(served.base_url + "/chat/completions", content=b"{not json",
                      headers={"Authorization": f"Bearer {KEY}", "Content-Type": "application/json"})
    assert raw.status_code == 400
    error = raw.json()["error"]
    assert error["type"] == "invalid_request_error" and "not valid JSON" in error["message"]


def test_unknown_paths_answer_in_openai_format(served: Served) -> None:
    auth = {"Authorization": f"Bearer {KEY}"}
    missing = httpx2.get(served.base_url + "/embeddings", headers=auth)
    assert missing.status_code == 404 and "Unknown request URL" in missing.json()["error"]["message"]
    wrong_method = httpx2.get(served.base_url + "/chat/completions", headers=auth)
    assert wrong_method.status_code == 405 and "error" in wrong_method.json()


def test_client_that_leaves_mid_stream_stops_the_engine(served: Served) -> None:
    before = served.engine.activity().requests
    stream = client_for(served).completions.create(model="any", prompt="1, 2, 3, 4, 5,", max_tokens=1500,
                                                   temperature=0, stream=True)
    received = 0
    for chunk in stream:
        received += len(chunk.choices[0].text) > 0
        if received >= 5:
            break
    stream.close()  # the client hangs up
    wait_for(lambda: served.engine.activity().requests == before + 1 and not served.engine.activity().running
             and served.engine.activity().recent[-1].number == before + 1)
    record = served.engine.activity().recent[-1]
    assert record.outcome == "client left"
    assert record.stop_reason == "stopped"  # the engine's own word: it stopped generating, it did not finish
    assert 5 <= record.generated_tokens < 200
    assert served.turns.state().serving is None  # the engine is free for the next one
    reply = client_for(served).chat.completions.create(model="any", messages=ask(), temperature=0)
    assert "Paris" in (reply.choices[0].message.content or "")


def test_two_clients_at_once_are_answered_in_turn(served: Served) -> None:
    answers: dict[int, str] = {}

    def one(i: int) -> None:
        reply = client_for(served).chat.completions.create(model="any", messages=ask(), temperature=0)
        answers[i] = reply.choices[0].message.content or ""

    before = served.engine.activity().requests
    threads = [threading.Thread(target=one, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert all("Paris" in answers[i] for i in range(2)), answers
    # a request's record is closed just after its reply went out
    wait_for(lambda: len([r for r in served.engine.activity().recent if r.number > before]) == 2)
    first, second = sorted((r for r in served.engine.activity().recent if r.number > before),
                           key=lambda r: r.started_at)
    assert first.outcome == second.outcome == "answered"
    assert second.started_at >= first.ended_at  # in turn: the second began once the first was done


def test_stop_in_the_window_ends_a_running_request(served: Served) -> None:
    stream = client_for(served).completions.create(model="any", prompt="1, 2, 3, 4, 5,", max_tokens=1500,
                                                   temperature=0, stream=True)
    reasons, pieces = [], 0
    for chunk in stream:
        pieces += 1
        if pieces == 3:
            assert served.turns.cancel_serving() is not None  # what the window's Stop does
        if chunk.choices[0].finish_reason:
            reasons.append(chunk.choices[0].finish_reason)
    assert reasons == ["stop"] and pieces < 100
    wait_for(lambda: served.engine.activity().running is None)
    assert served.engine.activity().recent[-1].outcome == "stopped"


def test_offline_mode_leaves_the_server_on(served: Served) -> None:
    set_offline(True)
    try:
        reply = client_for(served).chat.completions.create(model="any", messages=ask(), temperature=0)
        assert "Paris" in (reply.choices[0].message.content or "")
    finally:
        set_offline(False)


def test_a_taken_port_is_a_plain_error(served: Served) -> None:
    with pytest.raises(ServeError, match=f"Port {served.server.port} is already in use"):
        bind("127.0.0.1", served.server.port)
