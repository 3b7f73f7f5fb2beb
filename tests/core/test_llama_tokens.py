"""The one tokenizer loop, on the starter's real vocabulary."""

from __future__ import annotations

import os

import llama_cpp as L

from app.core.llama_tokens import tokenize
from app.core.models.library import starter_model_path


def test_control_tokens_are_read_only_when_asked_and_bos_follows_the_vocabulary() -> None:
    params = L.llama_model_default_params()
    params.vocab_only = True
    model = L.llama_model_load_from_file(os.fsencode(str(starter_model_path())), params)
    assert model
    try:
        vocab = L.llama_model_get_vocab(model)
        marker = "<|im_start|>user"
        parsed = tokenize(vocab, marker, add_special=False, parse_special=True)
        as_text = tokenize(vocab, marker, add_special=False, parse_special=False)
        assert parsed[0] == L.llama_vocab_bos(vocab)  # SmolLM2's BOS is <|im_start|>: one control token
        assert len(as_text) > len(parsed) and L.llama_vocab_bos(vocab) not in as_text
        long_text = "naïve café " * 500  # multi-byte text, many tokens
        assert len(tokenize(vocab, long_text, add_special=False, parse_special=False)) > 1000
    finally:
        L.llama_model_free(model)
