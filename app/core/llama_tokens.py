"""Text to token ids through llama.cpp's own tokenizer: the one loop both the engine and the evaluation use.

llama_tokenize writes into a buffer the caller sizes and answers with minus the size it needed when the
buffer was short; a UTF-8 byte count plus a little is almost always enough, so a second try is the rare case.
Runs where llama.cpp is loaded (the engine, the evaluation's child process).
"""

from __future__ import annotations

from typing import Any


class TokenizeFailed(Exception):
    """llama_tokenize refused the text; `code` is what it returned."""

    def __init__(self, code: int) -> None:
        super().__init__(f"llama_tokenize returned {code}")
        self.code = code


def tokenize(vocab: Any, text: str, add_special: bool, parse_special: bool) -> list[int]:
    """The token ids of `text` (`add_special`: the model's BOS/EOS as its vocabulary says; `parse_special`:
    control tokens written as text, such as a chat template's markers, become those tokens)."""
    import llama_cpp as L

    data = text.encode("utf-8")
    capacity = len(data) + 16
    n = 0
    for _ in range(2):
        tokens = (L.llama_token * capacity)()
        n = L.llama_tokenize(vocab, data, len(data), tokens, capacity, add_special, parse_special)
        if n >= 0:
            return list(tokens[:n])
        capacity = -n
    raise TokenizeFailed(n)
