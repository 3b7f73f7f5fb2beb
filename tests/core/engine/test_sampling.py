"""The sampler chain: a repetition penalty sits behind a top-k that leaves it every candidate it can change
(sampling.penalty_candidates), so the chain can start in llama.cpp's graph; the tokens drawn must be exactly
those of llama.cpp's own order (penalty over the whole vocabulary first), on the real starter model. Attached
to the context, the graph runs that top-k and the processor the rest: the tokens must be the same again."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import llama_cpp as L
import pytest

from app.core.engine.llama_session import LlamaSession
from app.core.engine.protocol import LoadModel, SamplingSettings
from app.core.engine.sampling import build_chain, candidate_cut, penalty_candidates
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


def draw(session: LlamaSession, chain: L.llama_sampler_p, n: int = 48, free: bool = True) -> list[int]:
    """n tokens sampled with `chain` after the same prompt, each one evaluated before the next is drawn; the
    chain is freed after unless `free` is False."""
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
    if free:
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


GRAPH_CASES = {
    "greedy": SamplingSettings(temperature=0.0),
    "the default chain": SamplingSettings(seed=5),
    "the chat's Balanced preset": SamplingSettings(temperature=0.7, top_k=20, top_p=0.9, min_p=0.05, seed=42,
                                                   repeat_penalty=1.1, repeat_last_n=64),
    "greedy under a penalty": SamplingSettings(temperature=0.0, repeat_penalty=3.0, repeat_last_n=8),
    "a penalty that raises (no cut: all in the graph)": SamplingSettings(seed=9, repeat_penalty=0.9),
    "no top-k": SamplingSettings(seed=3, top_k=0, top_p=0.9),
}

# In a child process: llama.cpp aborts on a chain its graph mishandles, and that must fail the test, not end
# the run. Each case: the chain attached to the context, then the same settings' chain on the processor.
GRAPH_PROBE = """
import json, sys
import llama_cpp as L
from app.core.engine.llama_session import LlamaSession
from app.core.engine.protocol import LoadModel, SamplingSettings
from app.core.engine.sampling import build_chain
from app.core.llama_log import LlamaLogCapture
from app.core.models.library import starter_model_path
from tests.core.engine.test_sampling import GRAPH_CASES, draw
log = LlamaLogCapture(echo=False)
log.install()
s = LlamaSession(LoadModel(str(starter_model_path()), n_ctx=512, n_threads=2), log)
out = {}
for name, settings in GRAPH_CASES.items():
    chain = build_chain(settings, s.vocab, in_graph=True)
    attached = bool(L.llama_set_sampler(s.ctx, 0, chain))
    in_graph = draw(s, chain, free=False)
    L.llama_set_sampler(s.ctx, 0, None)
    L.llama_sampler_free(chain)
    out[name] = [attached, in_graph, draw(s, build_chain(settings, s.vocab))]
s.close()
print(json.dumps(out))
"""


def test_a_chain_in_the_graph_draws_what_it_draws_on_the_processor() -> None:
    """Attached to the context (as on a GPU; here on the processor, which llama.cpp also lets run a graph's
    sampling), the graph runs the chain's top-k cut and the processor the rest (sampling.graph_end): every
    case draws exactly the tokens of the same chain on the processor, seeded draws included. Before the split,
    llama.cpp 0.3.36 mishandled a graph-run top-k followed by a penalty (a wrong greedy token, then an abort)."""
    done = subprocess.run([sys.executable, "-c", GRAPH_PROBE], cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    results = json.loads(done.stdout.strip().splitlines()[-1])
    assert set(results) == set(GRAPH_CASES)
    for name, (attached, in_graph, on_processor) in results.items():
        assert attached, name
        assert in_graph == on_processor, name
        assert len(set(in_graph)) > 8, name  # a real reply, not one token over and over


def test_the_cut_leaves_every_token_the_chain_can_draw() -> None:
    assert candidate_cut(SamplingSettings(temperature=0.0), in_graph=True) == 1
    assert candidate_cut(SamplingSettings(temperature=0.0), in_graph=False) is None  # greedy's own pass is enough
    assert candidate_cut(SamplingSettings(top_k=40), in_graph=True) == 40
    assert candidate_cut(SamplingSettings(top_k=40, repeat_penalty=1.1, repeat_last_n=64), in_graph=True) == 104
    assert candidate_cut(SamplingSettings(top_k=0), in_graph=True) is None
    assert candidate_cut(SamplingSettings(top_k=40, repeat_penalty=0.9), in_graph=True) is None
    assert candidate_cut(SamplingSettings(top_k=40, grammar='root ::= "a"'), in_graph=True) is None


def test_the_graph_part_of_a_chain_ends_after_the_cut(session: LlamaSession) -> None:
    names = []
    chain = build_chain(SamplingSettings(seed=1, repeat_penalty=1.1, repeat_last_n=64), session.vocab, in_graph=True)
    for i in range(L.llama_sampler_chain_n(chain)):
        names.append(L.llama_sampler_name(L.llama_sampler_chain_get(chain, i)).decode())
    L.llama_sampler_free(chain)
    assert names == ["top-k", "quantdesk-graph-end", "penalties", "top-k", "top-p", "min-p", "temp", "dist"]
