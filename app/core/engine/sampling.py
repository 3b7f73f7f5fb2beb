"""The sampler chain of a reply, built from SamplingSettings, and attached to the context so llama.cpp
samples inside its own graph ("backend sampling").

Attached, the chain's first part runs where the model's output layer runs: on the GPU the vocabulary's logits
never travel back to the processor. That part is the top-k that leaves every token the chain can still draw
(`candidate_cut`); `graph_end` ends it, and the rest (penalty, top-p, min-p, temperature, the draw) runs on the
processor over those few candidates. On an H200 (1B model, docs/benchmarks/gpu.md) this split ran the default
chain at 0.95–0.99 of llama-bench's speed, against 0.92–0.96 with the whole chain in the graph, whose two
dozen small kernels per token cost more than the processor's work on 40 candidates; greedy is a top-k of 1
for the same reason. The draw's random numbers then come from the processor's generator, so a fixed seed gives
the same reply attached or not. Samplers llama.cpp cannot run in the graph (a grammar, for one) end the part
that runs there as well. Attaching makes llama.cpp re-plan its graph once, so the chain is kept while the
settings stay the same (reset between replies, which also restarts a fixed seed) and replaced when they
change. Runs inside the engine process only.
"""

from __future__ import annotations

import ctypes

import llama_cpp as L

from app.core.engine.protocol import SamplingSettings
from app.core.errors import QuantDeskError


class _SamplerInterface(ctypes.Structure):
    """llama_sampler_i with every member as a plain pointer: ctypes warns of a leak when a Python callback
    returns a char pointer, and here the name is a static buffer's address."""

    _fields_ = [(field[0], ctypes.c_void_p) for field in L.llama_sampler_i._fields_]


_GRAPH_END_NAME = ctypes.create_string_buffer(b"quantdesk-graph-end")
_graph_end_name = ctypes.CFUNCTYPE(ctypes.c_void_p, ctypes.c_void_p)(lambda _smpl: ctypes.addressof(_GRAPH_END_NAME))
# only a name: no backend_init, so llama.cpp's graph takes the chain up to here and no further; no apply, so the
# processor's part of the chain steps over it (llama_sampler_chain_apply skips a sampler without one)
_GRAPH_END = _SamplerInterface(name=ctypes.cast(_graph_end_name, ctypes.c_void_p))


def graph_end() -> L.llama_sampler_p:
    """A sampler that does nothing but end the part of a chain that runs in llama.cpp's graph."""
    return L.llama_sampler_init(ctypes.cast(ctypes.byref(_GRAPH_END), ctypes.POINTER(L.llama_sampler_i)), None)


def has_penalty(s: SamplingSettings) -> bool:
    """Whether the settings ask for any repetition penalty (llama.cpp's repeat, frequency or presence)."""
    return s.repeat_last_n != 0 and (s.repeat_penalty != 1.0 or s.frequency_penalty != 0.0
                                     or s.presence_penalty != 0.0)


def penalty_candidates(s: SamplingSettings) -> int | None:
    """How many of the most likely tokens the repetition penalty needs to see: top-k + repeat_last_n, or None
    when it must see the whole vocabulary.

    llama.cpp's penalty sampler looks up every token of the vocabulary (128k for Llama 3), and a top-k after it
    sorts them all. A penalty of 1 or more only lowers the logits of at most repeat_last_n distinct tokens, so
    the k most likely tokens after it are among the k + repeat_last_n most likely before it: a top-k of that
    size ahead of the penalty leaves the chain's result unchanged, draws included
    (tests/core/engine/test_sampling.py); so do frequency and presence penalties of 0 or more. Not so for a
    penalty that raises (a repeat penalty below 1, a negative frequency or presence penalty), a penalty over the
    whole context (-1), no top-k, or a grammar (it may refuse every likely token)."""
    raises = s.repeat_penalty < 1.0 or s.frequency_penalty < 0.0 or s.presence_penalty < 0.0
    if s.grammar or raises or s.repeat_last_n <= 0:
        return None
    keep = 1 if s.temperature <= 0 else s.top_k
    return keep + s.repeat_last_n if keep > 0 else None


def candidate_cut(s: SamplingSettings, in_graph: bool) -> int | None:
    """The top-k the chain starts with: the fewest most likely tokens among which every token it can draw is,
    or None when there is no such bound (no top-k, a grammar, a penalty that may raise a token). Greedy needs no
    cut on the processor (its own pass finds the top token), but in the graph a top-k of 1 is cheaper than
    llama.cpp's argmax over the vocabulary (measured on an H200, tests/bench/chain_variants.py)."""
    if s.grammar:
        return None
    if has_penalty(s):
        return penalty_candidates(s)
    if s.temperature <= 0:
        return 1 if in_graph else None
    return s.top_k if s.top_k > 0 else None


def build_chain(s: SamplingSettings, vocab: L.llama_vocab_p, in_graph: bool = False) -> L.llama_sampler_p:
    """llama.cpp's sampler chain for these settings: the logit biases, the top-k cut (`candidate_cut`), the
    repetition penalty and the grammar asked for, then greedy for temperature <= 0, else top-k, top-p, min-p,
    temperature and a random draw (the order llama.cpp's own tools use). `in_graph`: the chain will be attached
    to the context, and the graph's part ends after the cut (`graph_end`). QuantDeskError for a grammar
    llama.cpp cannot read."""
    chain = L.llama_sampler_chain_init(L.llama_sampler_chain_default_params())
    n_vocab = L.llama_vocab_n_tokens(vocab)
    if s.logit_bias:
        biases = (L.llama_logit_bias * len(s.logit_bias))()
        for i, (token, bias) in enumerate(s.logit_bias):
            biases[i].token, biases[i].bias = token, bias  # type: ignore[assignment]
        L.llama_sampler_chain_add(chain, L.llama_sampler_init_logit_bias(n_vocab, len(biases), biases))
    cut = candidate_cut(s, in_graph)
    if cut is not None:
        L.llama_sampler_chain_add(chain, L.llama_sampler_init_top_k(cut))
        if in_graph:
            L.llama_sampler_chain_add(chain, graph_end())
    if has_penalty(s):
        L.llama_sampler_chain_add(chain, L.llama_sampler_init_penalties(
            n_vocab, s.repeat_last_n, s.repeat_penalty, s.frequency_penalty, s.presence_penalty))
    if s.grammar:
        grammar = L.llama_sampler_init_grammar(vocab, s.grammar.encode("utf-8"), b"root")
        if not grammar:
            L.llama_sampler_free(chain)
            raise QuantDeskError("The reply's grammar could not be read.", s.grammar[:500])
        L.llama_sampler_chain_add(chain, grammar)
    if s.temperature <= 0:
        L.llama_sampler_chain_add(chain, L.llama_sampler_init_greedy())
        return chain
    if cut != s.top_k:  # the cut was wider (a penalty's candidates) or there was none
        L.llama_sampler_chain_add(chain, L.llama_sampler_init_top_k(s.top_k))
    L.llama_sampler_chain_add(chain, L.llama_sampler_init_top_p(s.top_p, 1))
    L.llama_sampler_chain_add(chain, L.llama_sampler_init_min_p(s.min_p, 1))
    L.llama_sampler_chain_add(chain, L.llama_sampler_init_temp(s.temperature))
    L.llama_sampler_chain_add(chain, L.llama_sampler_init_dist(s.seed))
    return chain


class ContextSampler:
    """The chain in use on one context: built on first use, kept across replies with the same settings."""

    def __init__(self, ctx: L.llama_context_p, backend: bool, vocab: L.llama_vocab_p) -> None:
        self._ctx = ctx
        self._vocab = vocab
        self._backend = backend
        self._settings: SamplingSettings | None = None
        self.chain: L.llama_sampler_p | None = None
        self.on_backend = False  # whether llama.cpp took the chain into its graph
        self._attached = False  # whether the chain was offered to the graph

    def prepare(self, settings: SamplingSettings, in_graph: bool = True) -> L.llama_sampler_p:
        """The chain for a reply with `settings`, in its initial state; call before evaluating the prompt, so
        the prompt's last token is already sampled in the graph. `in_graph=False` keeps it out of the graph
        for this reply (a reply whose token probabilities are read from the logits needs them on the processor)."""
        attach = self._backend and in_graph
        if self.chain is not None and settings == self._settings and attach == self._attached:
            L.llama_sampler_reset(self.chain)
            return self.chain
        self.release()
        chain = build_chain(settings, self._vocab, in_graph=attach)
        self.chain, self._settings, self._attached = chain, settings, attach
        if attach:
            self.on_backend = bool(L.llama_set_sampler(self._ctx, 0, chain))
        return chain

    def release(self) -> None:
        """Detach the chain from the context (before freeing either) and free it."""
        if self.chain is None:
            return
        if self._attached:
            L.llama_set_sampler(self._ctx, 0, None)
        L.llama_sampler_free(self.chain)
        self.chain, self._settings, self.on_backend, self._attached = None, None, False, False
