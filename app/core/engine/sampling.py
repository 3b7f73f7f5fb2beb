"""The sampler chain of a reply, built from SamplingSettings, and attached to the context so llama.cpp
samples inside its own graph ("backend sampling").

Attached, the chain runs where the model's output layer runs: on the GPU the logits never travel back to
the processor, and only the chosen token does (on the H200 this took a bare Python loop from 0.78× to
0.96× of llama-bench's speed for a 1B model). Samplers llama.cpp cannot run in the graph (a grammar, for
one) end the part that runs there; llama_sampler_sample then finishes the chain on the processor, so any
chain gives the same tokens attached or not. Attaching makes llama.cpp re-plan its graph once, so the chain
is kept while the settings stay the same (reset between replies, which also restarts a fixed seed) and
replaced when they change. Runs inside the engine process only.
"""

from __future__ import annotations

import llama_cpp as L

from app.core.engine.protocol import SamplingSettings
from app.core.errors import QuantDeskError


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


def build_chain(s: SamplingSettings, vocab: L.llama_vocab_p, in_graph: bool = False) -> L.llama_sampler_p:
    """llama.cpp's sampler chain for these settings: the logit biases, the repetition penalty (on the processor,
    behind the top-k that leaves it the candidates it can change, `penalty_candidates`) and the grammar asked
    for, then greedy for temperature <= 0, else top-k, top-p, min-p, temperature and a random draw (the order
    llama.cpp's own tools use). `in_graph`: the chain will be attached to the context. Then the penalty stays
    first: llama.cpp 0.3.36 hands a graph-run top-k's candidates to the processor's samplers wrongly (greedy
    picked an end-of-text token; a random draw failed GGML_ASSERT(ggml_nrows(a) == 1) in llama-sampler.cpp).
    QuantDeskError for a grammar llama.cpp cannot read."""
    chain = L.llama_sampler_chain_init(L.llama_sampler_chain_default_params())
    n_vocab = L.llama_vocab_n_tokens(vocab)
    if s.logit_bias:
        biases = (L.llama_logit_bias * len(s.logit_bias))()
        for i, (token, bias) in enumerate(s.logit_bias):
            biases[i].token, biases[i].bias = token, bias  # type: ignore[assignment]
        L.llama_sampler_chain_add(chain, L.llama_sampler_init_logit_bias(n_vocab, len(biases), biases))
    if has_penalty(s):
        keep = None if in_graph else penalty_candidates(s)
        if keep is not None:
            L.llama_sampler_chain_add(chain, L.llama_sampler_init_top_k(keep))
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
