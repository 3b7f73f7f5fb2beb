"""The sampler chain: a repetition penalty sits behind a top-k that leaves it every candidate it can change
(sampling.penalty_candidates), so the chain can start in llama.cpp's graph; the tokens drawn must be exactly
those of llama.cpp's own order (penalty over the whole vocabulary first), on the real starter model."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import llama_cpp as L
import pytest

from app.core.engine.llama_session import LlamaSession
from app.core.engine.protocol import LoadModel, SamplingSettings
from app.core.engine.sampling import build_chain, penalty_candidates
from app.core.llama_log import LlamaLogCapture
from app.core.models.library import starter_model_path

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def session() -> Iterator[LlamaSession]:
    log = LlamaLogCapture(echo=False)
    log.install()
    opened = LlamaSession(LoadModel(str(starter_model_path()), n_ctx=512, n_threads=2), log)
    yield opened
    opened.close()


def penalty_first(s: SamplingSettings, vocab: L.llama_vocab_p) -> L.llama_sampler_p:
    """llama.cpp's own order (common/sampling.cpp): the penalty over every token, then the rest."""
    chain = L.llama_sampler_chain_init(L.llama_sampler_chain_default_params())
    parts: list[Callable[[], L.llama_sampler_p]] = [
        lambda: L.llama_sampler_init_penalties(L.llama_vocab_n_tokens(vocab), s.repeat_last_n, s.repeat_penalty,
                                               s.frequency_penalty, s.presence_penalty)]
    if s.temperature <= 0:
        parts.append(L.llama_sampler_init_greedy)
    else:
        parts += [lambda: L.llama_sampler_init_top_k(s.top_k), lambda: L.llama_sampler_init_top_p(s.top_p, 1),
                  lambda: L.llama_sampler_init_min_p(s.min_p, 1), lambda: L.llama_sampler_init_temp(s.temperature),
                  lambda: L.llama_sampler_init_dist(s.seed)]
    for make in parts:
        L.llama_sampler_chain_add(chain, make())
    return chain


def draw(session: LlamaSession, chain: L.llama_sampler_p, n: int = 48) -> list[int]:
    """n tokens sampled with `chain` after the same prompt, each one evaluated before the next is drawn."""
    L.llama_memory_seq_rm(L.llama_get_memory(session.ctx), 0, -1, -1)
    session.cached.clear()
    prompt = session.tokenize("Once upon a time, in a small town by the sea,")
    session._decode(prompt)
    out = []
    for _ in range(n):
        token = L.llama_sampler_sample(chain, session.ctx, -1)
        out.append(token)
        session._one[0] = token
        assert L.llama_decode(session.ctx, session._batch_one) == 0
    L.llama_sampler_free(chain)
    return out


@pytest.mark.parametrize("settings", [
    SamplingSettings(temperature=1.0, top_k=40, top_p=0.95, min_p=0.02, seed=7, repeat_penalty=1.5, repeat_last_n=16),
    SamplingSettings(temperature=0.7, top_k=20, top_p=0.9, min_p=0.05, seed=42, repeat_penalty=1.1, repeat_last_n=64),
    SamplingSettings(temperature=1.0, top_k=5, top_p=1.0, min_p=0.0, seed=3, repeat_penalty=3.0, repeat_last_n=32),
    SamplingSettings(temperature=0.0, repeat_penalty=3.0, repeat_last_n=8),
    SamplingSettings(temperature=0.8, top_k=8, seed=11, frequency_penalty=1.5, presence_penalty=1.0),
], ids=["strong penalty, short window", "the chat's Balanced preset", "top-5 under a heavy penalty", "greedy",
        "OpenAI's frequency and presence penalties"])
def test_the_candidates_ahead_of_the_penalty_change_no_token(session: LlamaSession, settings: SamplingSettings) -> None:
    ours = draw(session, build_chain(settings, session.vocab))
    reference = draw(session, penalty_first(settings, session.vocab))
    assert ours == reference
    assert len(set(ours)) > 10  # a real reply, not one token repeated: the penalty and the draw were at work


def test_the_penalty_sees_everything_when_it_could_raise_a_token() -> None:
    base = SamplingSettings(top_k=40, repeat_penalty=1.1, repeat_last_n=64)
    assert penalty_candidates(base) == 104
    assert penalty_candidates(SamplingSettings(temperature=0.0, repeat_penalty=1.1, repeat_last_n=64)) == 65
    assert penalty_candidates(SamplingSettings(repeat_penalty=0.9, repeat_last_n=64)) is None  # raises
    assert penalty_candidates(SamplingSettings(repeat_penalty=1.1, repeat_last_n=-1)) is None  # the whole context
    assert penalty_candidates(SamplingSettings(top_k=0, repeat_penalty=1.1)) is None  # no top-k to bound it
    assert penalty_candidates(SamplingSettings(repeat_penalty=1.1, grammar='root ::= "a"')) is None
    assert penalty_candidates(SamplingSettings(frequency_penalty=0.5)) == 104
    assert penalty_candidates(SamplingSettings(presence_penalty=-0.5)) is None  # raises what was used


def test_a_presence_penalty_changes_a_greedy_reply(session: LlamaSession) -> None:
    plain = draw(session, build_chain(SamplingSettings(temperature=0.0), session.vocab))
    penalized = draw(session, build_chain(SamplingSettings(temperature=0.0, presence_penalty=2.0), session.vocab))
    assert plain != penalized
    assert len(set(penalized[:32])) > len(set(plain[:32]))  # fewer repeats: the penalty did its work


def test_a_chain_in_the_graph_keeps_the_penalty_first() -> None:
    """Attached to the context (as on a GPU, forced here on the processor), the chain keeps llama.cpp's order:
    its graph-run top-k hands the processor's samplers wrong candidates (an empty greedy reply, then an abort).
    In a child process: an abort must fail this test, not end the run."""
    probe = (
        "from app.core.engine.llama_session import LlamaSession\n"
        "from app.core.engine.protocol import ChatMessage, LoadModel, SamplingSettings\n"
        "from app.core.llama_log import LlamaLogCapture\n"
        "from app.core.models.library import starter_model_path\n"
        "log = LlamaLogCapture(echo=False)\n"
        "log.install()\n"
        "s = LlamaSession(LoadModel(str(starter_model_path()), n_ctx=512, n_threads=2), log)\n"
        "assert s.settings.backend_sampling\n"
        "ask = [ChatMessage('user', 'What is the capital of France? Answer in one word.')]\n"
        "chains = (SamplingSettings(temperature=0.0, repeat_penalty=1.1),\n"
        "          SamplingSettings(seed=1, repeat_penalty=1.1))\n"
        "for st in chains:\n"
        "    text = s.generate(ask, 24, st, lambda t, n: None, lambda: False)[0]\n"
        "    print(repr(text), s.sampler.on_backend)\n"
        "s.close()\n"
    )
    env = {**os.environ, "QUANTDESK_BACKEND_SAMPLING": "on"}
    done = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=180)
    assert done.returncode == 0, done.stderr[-2000:]
    greedy, sampled = done.stdout.strip().splitlines()
    assert "Paris" in greedy and greedy.endswith("True")  # attached, and still the right answer
    assert sampled.endswith("True") and len(sampled) > len("'' True")
