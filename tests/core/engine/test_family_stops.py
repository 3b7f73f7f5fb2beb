"""Where a reply ends, per chat family: llama.cpp's own session on tiny stand-ins with each family's special
tokens and real template (tests/fixtures/family_models.py).

Random weights answer nonsense, so the reply is steered with llama.cpp's own samplers: a logit bias makes
chosen tokens the most likely, and a huge repeat penalty pushes each one down once it has been written.
With biases falling 60, 55, 50... greedy decoding writes the biased tokens in that order: the test decides
what the model "says" and checks where the engine ends the reply and what reaches the screen.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from app.core.engine.llama_session import LlamaSession
from app.core.engine.protocol import ChatMessage, LoadModel, SamplingSettings
from app.core.llama_log import LlamaLogCapture
from tests.fixtures.family_models import FAMILIES, make_family_model

CHAT_FAMILIES = ["chatml", "llama3", "gemma", "phi3", "mistral"]


@pytest.fixture(scope="module")
def sessions(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, LlamaSession]]:
    folder = tmp_path_factory.mktemp("families")
    log = LlamaLogCapture(echo=False)
    log.install()
    opened = {name: LlamaSession(LoadModel(str(make_family_model(f, folder / f"{name}.gguf")), n_ctx=256), log)
              for name, f in FAMILIES.items()}
    yield opened
    for session in opened.values():
        session.close()


def steer(session: LlamaSession, pieces: list[int]) -> SamplingSettings:
    """Greedy sampling that writes `pieces` in order (see the module docstring)."""
    bias = tuple((token, 60.0 - 5 * i) for i, token in enumerate(pieces))
    return SamplingSettings(temperature=0.0, repeat_penalty=1000.0, repeat_last_n=len(pieces), logit_bias=bias)


def special(session: LlamaSession, text: str) -> int:
    (token,) = session.tokenize(text, add_special=False)
    return token


def words(session: LlamaSession, text: str) -> list[int]:
    import llama_cpp as L

    data = text.encode()
    out = (L.llama_token * 64)()
    n = L.llama_tokenize(session.vocab, data, len(data), out, 64, False, False)  # spelled out, not special
    return list(out[:n])


def reply(session: LlamaSession, sampling: SamplingSettings, max_tokens: int = 20) -> tuple[str, str, str, str]:
    shown: list[str] = []
    text, reason, _stats, end = session.generate([ChatMessage("user", "Hi")], max_tokens, sampling,
                                                 lambda t, _n: shown.append(t), lambda: False)
    return text, "".join(shown), reason, end


@pytest.mark.parametrize("name", CHAT_FAMILIES)
def test_the_models_own_template_and_bos_once(sessions: dict[str, LlamaSession], name: str) -> None:
    session, family = sessions[name], FAMILIES[name]
    assert session.info.chat_format == "template"
    assert (session.info.bos_token, session.info.eos_token) == (family.bos, family.eos)
    tokens = session.tokenize_prompt(session.format_chat([ChatMessage("system", "Be brief."),
                                                          ChatMessage("user", "Hi")]))
    bos = special(session, family.bos)
    # templates that write BOS themselves (Llama 3, Gemma, Mistral) must not get a second one from the tokenizer
    assert tokens.count(bos) == (1 if family.add_bos else 0)
    assert (tokens[0] == bos) == family.add_bos


@pytest.mark.parametrize("name", CHAT_FAMILIES)
def test_reply_ends_at_the_familys_end_of_turn_token(sessions: dict[str, LlamaSession], name: str) -> None:
    session, family = sessions[name], FAMILIES[name]
    hello = words(session, "Hello")
    text, shown, reason, end = reply(session, steer(session, [*hello, special(session, family.end_of_turn)]))
    assert (text, shown, reason, end) == ("Hello", "Hello", "end_of_text", family.end_of_turn)


@pytest.mark.parametrize("name", CHAT_FAMILIES)
def test_a_new_turn_marker_ends_the_reply_too(sessions: dict[str, LlamaSession], name: str) -> None:
    session, family = sessions[name], FAMILIES[name]
    hello = words(session, "Hello")
    text, _shown, reason, end = reply(session, steer(session, [*hello, special(session, family.turn_start)]))
    assert (text, reason, end) == ("Hello", "end_of_text", family.turn_start)


@pytest.mark.parametrize("name", CHAT_FAMILIES)
def test_a_marker_spelled_out_in_ordinary_tokens_never_reaches_the_screen(
        sessions: dict[str, LlamaSession], name: str) -> None:
    # a grammar makes the reply's text exactly this, and the bias bars the marker's own control token, so
    # the model has to spell the marker out piece by piece, as a base model or a confused one does
    session, family = sessions[name], FAMILIES[name]
    assert len(words(session, family.end_of_turn)) > 1
    sampling = SamplingSettings(temperature=0.0, grammar=f'root ::= "Hi there{family.end_of_turn} and more"',
                                logit_bias=((special(session, family.end_of_turn), -1000.0),))
    text, shown, reason, end = reply(session, sampling)
    assert (text, shown, reason, end) == ("Hi there", "Hi there", "end_of_text", family.end_of_turn)


def test_a_model_without_a_template_continues_text(sessions: dict[str, LlamaSession]) -> None:
    session = sessions["base"]
    assert session.info.chat_format == "text"
    assert "base model" in session.info.chat_format_note and "continues text" in session.info.chat_format_note
    prompt = session.format_chat([ChatMessage("system", "ignored"), ChatMessage("user", "Once upon a time")])
    assert prompt == "Once upon a time"  # no ChatML, no markup: the text as written
    # in text mode only end-of-generation tokens end it: written-out markers are just text
    text, _shown, reason, end = reply(session, steer(session, [*words(session, " there"),
                                                               special(session, "<eos>")]))
    assert (text, reason, end) == (" there", "end_of_text", "<eos>")


def test_a_format_can_be_chosen_by_name(sessions: dict[str, LlamaSession]) -> None:
    session = sessions["base"]
    assert session.format_chat([ChatMessage("user", "Hi")], "chatml") == (
        "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n")
    assert session.format_chat([ChatMessage("user", "Hi")], "text") == "Hi"


def test_model_path_is_kept(sessions: dict[str, LlamaSession]) -> None:
    assert Path(sessions["chatml"].info.path).name == "chatml.gguf"


