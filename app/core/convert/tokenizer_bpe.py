"""Byte-level BPE tokenizers (tokenizer.json) → GGUF's "gpt2" vocabulary, with the pre-tokenizer named.

The vocabulary and added tokens are read with the `tokenizers` library (the Rust tokenizer transformers
itself uses; no transformers, no torch), so token ids and the pre-tokenizer fingerprint are exactly what
llama.cpp's converter computes. Merges, special token ids, add_bos/add_eos and the chat template come
from gguf's SpecialVocab, as there.

llama.cpp needs `tokenizer.ggml.pre` to split text the way the original tokenizer does. It is found by
encoding a fixed text and hashing the ids (pretokenizer_hashes). A tokenizer whose hash is not in the
table (a fine-tune with extra tokens, a small test vocabulary) is identified by its pre-tokenizer
definition instead: llama.cpp implements each name as that same splitting rule.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable
from typing import Any

import gguf

from app.core.convert.pretokenizer_hashes import CHECK_TEXT, PRE_TOKENIZER_BY_HASH
from app.core.errors import ConversionError, InvalidModelFolderError
from app.core.models.hf_folder import HfFolder

log = logging.getLogger(__name__)

# Split patterns of well-known pre-tokenizers, as tokenizer.json writes them (for the fallback).
_LLAMA3_SPLIT = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*"
    r"|\s*[\r\n]+|\s+(?!\S)|\s+"
)
_QWEN2_SPLIT = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*"
    r"|\s*[\r\n]+|\s+(?!\S)|\s+"
)
_PRE_TOKENIZER_BY_RULE: dict[tuple[str, ...], str] = {
    ("split:" + _LLAMA3_SPLIT, "bytelevel"): "llama-bpe",
    ("split:" + _QWEN2_SPLIT, "bytelevel"): "qwen2",
    ("digits:individual", "bytelevel+regex"): "smollm",
    ("bytelevel+regex",): "gpt-2",
}


def _looks_special(token: str) -> bool:
    """Added tokens some models forget to mark special (llama.cpp's list)."""
    return (
        token in ("<pad>", "<mask>", "<2mass>", "[@BOS@]")
        or (token.startswith("<|") and token.endswith("|>"))
        or (token.startswith("<｜") and token.endswith("｜>"))
        or (token.startswith("<unused") and token.endswith(">"))
    )


def load_tokenizer(folder: HfFolder) -> Any:
    from tokenizers import Tokenizer  # imported here: only conversion needs it

    path = folder.path / "tokenizer.json"
    try:
        return Tokenizer.from_file(str(path))
    except Exception as error:  # the Rust side raises a bare Exception for every kind of bad file
        raise InvalidModelFolderError(
            "The model's tokenizer (tokenizer.json) could not be read.", f"{path}: {error}"
        ) from None


def pre_tokenizer_name(folder: HfFolder, tokenizer: Any) -> str:
    ids = tokenizer.encode(CHECK_TEXT).ids
    digest = hashlib.sha256(str(ids).encode()).hexdigest()
    if digest in PRE_TOKENIZER_BY_HASH:
        return PRE_TOKENIZER_BY_HASH[digest]
    definition = folder.read_json("tokenizer.json").get("pre_tokenizer")
    rule = _rule(definition)
    if rule in _PRE_TOKENIZER_BY_RULE:
        log.info("pre-tokenizer hash %s unknown; identified %s by its definition", digest, rule)
        return _PRE_TOKENIZER_BY_RULE[rule]
    raise ConversionError(
        "This model's tokenizer splits text in a way llama.cpp does not know, so the converted model "
        "would read text wrongly.",
        f"unknown BPE pre-tokenizer: hash {digest}, definition {json.dumps(definition)[:500]}",
    )


def _rule(definition: Any) -> tuple[str, ...]:
    """A pre-tokenizer definition reduced to what decides the split (ignoring offsets bookkeeping)."""
    if not isinstance(definition, dict):
        return ()
    steps = definition.get("pretokenizers", []) if definition.get("type") == "Sequence" else [definition]
    rule: list[str] = []
    for step in steps if isinstance(steps, list) else [steps]:
        if not isinstance(step, dict):
            return ()
        kind = step.get("type")
        if kind == "Split":
            pattern = _table(step.get("pattern"))
            rule.append("split:" + str(pattern.get("Regex", pattern.get("String", ""))))
        elif kind == "Digits":
            rule.append("digits:individual" if step.get("individual_digits") else "digits")
        elif kind == "ByteLevel":
            rule.append("bytelevel+regex" if step.get("use_regex", True) else "bytelevel")
        else:
            rule.append(str(kind))
    return tuple(rule)


def _require_byte_level(folder: HfFolder) -> None:
    """Only byte-level BPE belongs in GGUF's "gpt2" vocabulary. A SentencePiece-style tokenizer.json
    (Llama 2's, with byte fallback) needs the original tokenizer.model, as llama.cpp's converter
    would otherwise need transformers to rebuild it."""
    data = folder.read_json("tokenizer.json")
    model, decoder = _table(data.get("model")), _table(data.get("decoder"))
    steps = decoder.get("decoders", [decoder]) if decoder.get("type") == "Sequence" else [decoder]
    if (
        model.get("type") != "BPE"
        or model.get("byte_fallback")
        or all(_table(d).get("type") != "ByteLevel" for d in (steps if isinstance(steps, list) else [steps]))
    ):
        raise InvalidModelFolderError(
            "This model's tokenizer is the SentencePiece kind, and its tokenizer.model file is missing. "
            "Download the whole model folder again, including tokenizer.model.",
            f"tokenizer.json: model type {model.get('type')!r}, "
            f"byte_fallback {model.get('byte_fallback')!r}, decoder {decoder.get('type')!r}; "
            f"no tokenizer.model in {folder.path}",
        )


def _table(value: Any) -> dict[str, Any]:
    """A JSON object of a tokenizer file, or {} for anything else: what a tokenizer lacks is then reported
    the way a missing part is."""
    return value if isinstance(value, dict) else {}


def bpe_vocab(folder: HfFolder, vocab_size: int | None) -> tuple[list[str], list[int], str]:
    """(tokens, token types, pre-tokenizer name), padded to the model's vocab_size with [PADn]."""
    _require_byte_level(folder)
    tokenizer = load_tokenizer(folder)
    vocab: dict[str, int] = tokenizer.get_vocab(with_added_tokens=True)
    size = int(vocab_size) if vocab_size is not None else len(vocab)
    if vocab and max(vocab.values()) >= size:
        raise InvalidModelFolderError(
            "The model's tokenizer has more tokens than the model itself (config.json's vocab_size).",
            f"largest token id {max(vocab.values())} >= vocab_size {size}",
        )
    pre = pre_tokenizer_name(folder, tokenizer)
    added = tokenizer.get_added_tokens_decoder()
    by_id = {i: t for t, i in vocab.items()}
    tokens: list[str] = []
    types: list[int] = []
    for i in range(size):
        if i not in by_id:
            tokens.append(f"[PAD{i}]")
            types.append(gguf.TokenType.UNUSED)
            continue
        token = by_id[i]
        if i in added:
            if not added[i].normalized:
                # llama.cpp assumes added tokens are stored normalized: round-trip them as its converter does
                token = tokenizer.decode(
                    tokenizer.encode(token, add_special_tokens=False).ids, skip_special_tokens=False
                )
            if added[i].special or _looks_special(token):
                types.append(gguf.TokenType.CONTROL)
            else:
                token = token.replace("\u2581", " ")  # user-defined tokens with SentencePiece spaces
                types.append(gguf.TokenType.USER_DEFINED)
        else:
            types.append(gguf.TokenType.NORMAL)
        tokens.append(token)
    return tokens, types, pre


def write_bpe_vocab(w: gguf.GGUFWriter, folder: HfFolder, vocab_size: int | None) -> None:
    tokens, types, pre = bpe_vocab(folder, vocab_size)
    w.add_tokenizer_model("gpt2")
    w.add_tokenizer_pre(pre)
    w.add_token_list(tokens)
    w.add_token_types(types)
    add_special_tokens(w, folder, byte_level_defaults, load_merges=True)


def add_special_tokens(w: gguf.GGUFWriter, folder: HfFolder,
                       adjust: Callable[[gguf.SpecialVocab, HfFolder], None] | None = None, **options: Any) -> None:
    """Merges, special token ids, add_bos/add_eos and the chat template, read by gguf's SpecialVocab from the
    folder's tokenizer files and config.json. SpecialVocab takes those files as they come (a list where a
    table belongs is an AttributeError there, a negative token id a ValueError): any such failure of its is
    the folder's damage, said in plain words. `adjust` amends what it read before it is written."""
    try:
        special = gguf.SpecialVocab(folder.path, **options)
        if adjust is not None:
            adjust(special, folder)
        special.add_to_gguf(w, quiet=True)
    except (ValueError, TypeError, AttributeError, KeyError, IndexError, RecursionError) as error:
        raise InvalidModelFolderError(
            "The model's tokenizer settings (tokenizer_config.json, tokenizer.json or config.json) are damaged.",
            f"{folder.path}: gguf SpecialVocab: {error!r}"[:500],
        ) from None


def byte_level_defaults(special: gguf.SpecialVocab, folder: HfFolder) -> None:
    """A ByteLevel post-processor adds no BOS/EOS: say so (newer gguf-py's SpecialVocab does the same,
    and llama.cpp's own default for some vocabularies would otherwise add a BOS)."""
    processor = _table(folder.read_json("tokenizer.json").get("post_processor"))
    steps = processor.get("processors", [processor])
    for step in steps if isinstance(steps, list) else []:
        if isinstance(step, dict) and step.get("type") == "ByteLevel":
            special.add_special_token.setdefault("bos", False)
            special.add_special_token.setdefault("eos", False)
