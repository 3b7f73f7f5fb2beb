"""SentencePiece tokenizers (tokenizer.model) → GGUF's "llama" vocabulary: pieces, scores, token types.

Read with the `sentencepiece` library (no transformers). Tokens the model added on top of the
SentencePiece model (added_tokens.json, tokenizer_config.json's added_tokens_decoder and, for Phi-3,
tokenizer.json's added_tokens) overwrite their slots as llama.cpp's converter does; ids the tokenizer
leaves empty up to the model's vocab_size become unused [PADn] tokens.
"""

from __future__ import annotations

from typing import Any

import gguf

from app.core.convert.tokenizer_bpe import _looks_special, add_special_tokens
from app.core.errors import InvalidModelFolderError
from app.core.models.hf_folder import HfFolder

NORMAL, UNKNOWN, CONTROL, USER_DEFINED, UNUSED, BYTE = (
    gguf.TokenType.NORMAL,
    gguf.TokenType.UNKNOWN,
    gguf.TokenType.CONTROL,
    gguf.TokenType.USER_DEFINED,
    gguf.TokenType.UNUSED,
    gguf.TokenType.BYTE,
)


def spm_vocab(
    folder: HfFolder, vocab_size: int | None, phi3_rules: bool = False
) -> tuple[list[bytes], list[float], list[int]]:
    """(tokens, scores, types). `phi3_rules`: Phi-3's converter variant (no pre-normalizing of spaces,
    tokenizer.json's added tokens applied too, ids past the end padded the same way)."""
    from sentencepiece import SentencePieceProcessor  # imported here: only conversion needs it

    path = folder.path / "tokenizer.model"
    if not path.is_file():
        raise InvalidModelFolderError(
            "The model folder has no tokenizer (tokenizer.model is missing), so the model could not read "
            "or write text. Download the whole model folder again.",
            f"missing {path}",
        )
    processor = SentencePieceProcessor()
    try:
        processor.LoadFromFile(str(path))
    except (OSError, RuntimeError) as error:
        raise InvalidModelFolderError(
            "The model's tokenizer (tokenizer.model) could not be read.", f"{path}: {error}"
        ) from None
    size = int(vocab_size) if vocab_size else processor.vocab_size()
    tokens = [f"[PAD{i}]".encode() for i in range(size)]
    scores = [-10000.0] * size
    types: list[int] = [UNUSED] * size
    for i in range(min(size, processor.vocab_size())):
        tokens[i] = processor.IdToPiece(i).encode("utf-8")
        scores[i] = processor.GetScore(i)
        types[i] = (
            UNKNOWN
            if processor.IsUnknown(i)
            else CONTROL
            if processor.IsControl(i)
            else UNUSED
            if processor.IsUnused(i)
            else BYTE
            if processor.IsByte(i)
            else NORMAL
        )

    def put(token_id: int, text: str, kind: int) -> None:
        if 0 <= token_id < size:
            tokens[token_id], scores[token_id], types[token_id] = text.encode("utf-8"), -1000.0, kind

    for text, token_id in _whole_numbers(folder, "added_tokens.json", folder.read_json("added_tokens.json")):
        put(token_id, text, USER_DEFINED)
    decoder = folder.read_json("tokenizer_config.json").get("added_tokens_decoder") or {}
    for token_id, text, special in added_tokens(folder, "tokenizer_config.json", _entries(decoder)):
        if phi3_rules:
            put(token_id, text, CONTROL if special else USER_DEFINED)
        elif special or _looks_special(text):
            put(token_id, text, CONTROL)
        else:
            put(token_id, text.replace("\u2581", " "), USER_DEFINED)
    if phi3_rules:
        listed = folder.read_json("tokenizer.json").get("added_tokens") or []
        for token_id, text, special in added_tokens(folder, "tokenizer.json", listed):
            put(token_id, text, CONTROL if special else USER_DEFINED)
    return tokens, scores, types


def _damaged(folder: HfFolder, name: str, what: object) -> InvalidModelFolderError:
    return InvalidModelFolderError(
        f"The model's tokenizer file {name} is damaged: its added tokens make no sense.",
        f"{folder.path / name}: {str(what)[:200]}",
    )


def _whole_numbers(folder: HfFolder, name: str, table: dict[str, Any]) -> list[tuple[str, int]]:
    """(text, id) pairs of a table of token ids, all of them whole numbers."""
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in table.values()):
        raise _damaged(folder, name, table)
    return list(table.items())


def _entries(decoder: Any) -> list[Any]:
    """tokenizer_config.json's added_tokens_decoder ({"id": {"content": ...}}) as added_tokens entries."""
    if not isinstance(decoder, dict):
        return [decoder]
    return [{**entry, "id": key} if isinstance(entry, dict) else entry for key, entry in decoder.items()]


def added_tokens(folder: HfFolder, name: str, entries: Any) -> list[tuple[int, str, bool]]:
    """(id, text, special) of each {"id": ..., "content": ..., "special": ...} entry, checked."""
    out = []
    for entry in entries if isinstance(entries, list) else [entries]:
        token_id = entry.get("id") if isinstance(entry, dict) else None
        if isinstance(token_id, str) and token_id.isdecimal():
            token_id = int(token_id)
        if not isinstance(token_id, int) or isinstance(token_id, bool) or not isinstance(entry.get("content"), str):
            raise _damaged(folder, name, entry)
        out.append((token_id, entry["content"], bool(entry.get("special"))))
    return out


def write_spm_vocab(
    w: gguf.GGUFWriter, folder: HfFolder, vocab_size: int | None, phi3_rules: bool = False
) -> int:
    """Write the vocabulary; return its size (Gemma 3 trims its embedding to it)."""
    tokens, scores, types = spm_vocab(folder, vocab_size, phi3_rules)
    w.add_tokenizer_model("llama")
    w.add_tokenizer_pre("default")
    w.add_token_list(tokens)
    w.add_token_scores(scores)
    w.add_token_types(types)
    add_special_tokens(w, folder, n_vocab=len(tokens))
    return len(tokens)
