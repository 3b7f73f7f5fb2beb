"""What the model thought at each token of a reply: the chosen token's probability and the most likely ones.

Asked for with Generate.top_logprobs (the comparison page: where two quant levels first part ways, and
what each would have said there). Read from llama.cpp's logits right after sampling, before the next
decode overwrites them; probabilities are the model's own (softmax at temperature 1), whatever the sampler
then did with them. Runs inside the engine process; costs about 0.2 ms a token with a 50,000-token
vocabulary, and nothing when not asked for.
"""

from __future__ import annotations

import ctypes
from typing import Any

import numpy as np

from app.core.engine.protocol import GeneratedToken, TokenChoice


class TokenRecorder:
    """Called with each sampled token (LlamaSession.generate's on_token); `tokens` holds what was seen."""

    def __init__(self, session: Any, top_n: int) -> None:
        import llama_cpp as L

        self._L = L
        self._session = session
        self._n_vocab = int(L.llama_vocab_n_tokens(session.vocab))
        self.top_n = max(1, min(top_n, self._n_vocab))
        self.tokens: list[GeneratedToken] = []

    def __call__(self, token: int, ends_turn: bool | None = None) -> None:
        """`ends_turn`: the engine's own decision that this token ends the reply (an end-of-generation token
        or a turn marker of the chat format); when not given, llama.cpp's end-of-generation flag decides."""
        L, session = self._L, self._session
        pointer = ctypes.cast(L.llama_get_logits_ith(session.ctx, -1), ctypes.POINTER(ctypes.c_float))
        logits = np.ctypeslib.as_array(pointer, shape=(self._n_vocab,))
        exps = np.exp(logits - logits.max(), dtype=np.float64)
        total = float(exps.sum())
        top = np.argpartition(logits, -self.top_n)[-self.top_n:]
        top = top[np.argsort(-logits[top], kind="stable")]
        choices = tuple(self._choice(int(t), float(exps[t]) / total) for t in top)
        chosen = self._choice(int(token), float(exps[token]) / total)
        end = chosen.end if ends_turn is None else ends_turn
        piece = b"" if end else chosen.piece
        self.tokens.append(GeneratedToken(chosen.token, piece, chosen.probability, choices, end))

    def _choice(self, token: int, probability: float) -> TokenChoice:
        end = bool(self._L.llama_vocab_is_eog(self._session.vocab, token))
        return TokenChoice(token, b"" if end else self._session.token_bytes(token), probability, end)
