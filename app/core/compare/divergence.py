"""Where two replies to the same prompt first part ways, token by token, and what each model thought there.

With the same seed and sampling, two quant levels of one model write the same reply until their
probabilities differ enough to change a choice; the first differing token is the place to look.
Tokens are compared by their bytes, so files with different vocabularies can be compared too.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from app.core.engine.protocol import GeneratedToken, TokenChoice

END_OF_REPLY = "(end of reply)"


def token_text(token: GeneratedToken | TokenChoice) -> str:
    """A token as a person reads it: its text, or that the reply ended there."""
    if token.end:
        return END_OF_REPLY
    return token.piece.decode("utf-8", errors="replace")


def reply_text(tokens: Sequence[GeneratedToken]) -> str:
    return b"".join(t.piece for t in tokens).decode("utf-8", errors="replace")


@dataclass(frozen=True)
class PartingPoint:
    """The first position where the replies differ. A side is None when its reply ended before it
    (it was cut at the token limit or stopped)."""

    index: int
    a: GeneratedToken | None
    b: GeneratedToken | None


def _same(x: GeneratedToken, y: GeneratedToken) -> bool:
    return x.end == y.end and x.piece == y.piece


def first_difference(a: Sequence[GeneratedToken], b: Sequence[GeneratedToken]) -> PartingPoint | None:
    """None when the replies are the same token for token (or a side has no tokens to compare)."""
    if not a or not b:
        return None
    for i, (x, y) in enumerate(zip(a, b, strict=False)):
        if not _same(x, y):
            return PartingPoint(i, x, y)
    if len(a) == len(b):
        return None
    i = min(len(a), len(b))
    return PartingPoint(i, a[i] if i < len(a) else None, b[i] if i < len(b) else None)


def split_at(tokens: Sequence[GeneratedToken], index: int) -> tuple[str, str, str]:
    """The reply's text before the token at `index`, that token's text, and the text after it."""
    before = reply_text(tokens[:index])
    if index >= len(tokens):
        return before, "", ""
    token = tokens[index]
    return before, "" if token.end else token_text(token), reply_text(tokens[index + 1:])
