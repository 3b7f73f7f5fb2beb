"""Damaged copies of tiny Hugging Face model folders, made from a seed: the same seed gives the same cases.

A case copies one pristine folder (tests/fixtures/tiny_hf.py: real config.json keys, real safetensors, a
real tokenizer) and damages one part of it: config.json (values of the wrong type, huge or zero numbers,
missing keys, nested junk, text that is not JSON), a safetensors header (its length field, dtypes, shapes,
data offsets, the JSON itself, a cut-off file), a model.safetensors.index.json, or a tokenizer file.
"""

from __future__ import annotations

import json
import random
import shutil
import struct
from collections.abc import Callable
from pathlib import Path
from typing import Any

#: BPE and SentencePiece tokenizers, fused and split weights, Gemma 3's own vocabulary and window rules
FAMILIES = ("llama3", "mistral", "qwen2", "gemma2", "gemma3", "phi3")

#: config.json keys the converter reads (app/core/convert), whether or not the folder has them.
CONFIG_KEYS = (
    "architectures", "model_type", "hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads",
    "num_key_value_heads", "head_dim", "vocab_size", "max_position_embeddings", "rope_theta", "rms_norm_eps",
    "rope_scaling", "rope_parameters", "sliding_window", "tie_word_embeddings", "text_config",
    "original_max_position_embeddings", "partial_rotary_factor", "query_pre_attn_scalar",
    "final_logit_softcapping", "attn_logit_softcapping", "sliding_window_pattern", "rope_local_base_freq",
    "layer_types", "torch_dtype", "bos_token_id", "eos_token_id", "n_layer", "n_embd", "n_head",
)
ROPE_KEYS = ("rope_type", "type", "factor", "original_max_position_embeddings", "low_freq_factor",
             "high_freq_factor", "long_factor", "short_factor", "attention_factor", "beta_fast", "beta_slow",
             "rope_theta", "full_attention", "sliding_attention")


def junk(rng: random.Random) -> Any:
    """A JSON value of the wrong type or size for whatever key it lands on."""
    return rng.choice([
        None, True, False, 0, -1, 1, 3, 7, 2**31, 2**63, 2**64 + 1, 10**30, -(10**30), 0.5, -0.0, 1e308,
        float("nan"), float("inf"), float("-inf"), "", "64", "x" * 5000, [], [1, 2], [None], [64.5], {},
        {"a": {"b": [1]}}, [[[[]]]], "LlamaForCausalLM", {"rope_type": "yarn"}, [{"name": "default"}],
    ])


def wrong_number(rng: random.Random, original: Any) -> Any:
    """A number near or far from the original: plausible-looking values that do not fit the weights."""
    base = original if isinstance(original, int) and not isinstance(original, bool) else 64
    return rng.choice([0, 1, -1, 2, 3, base - 1, base + 1, base * 2, base * 1000, 2**31, 10**12, 0.5, 1e-30])


def deep(depth: int = 100_000) -> str:
    return "[" * depth + "]" * depth


RAW_JUNK: tuple[Callable[[random.Random], bytes], ...] = (
    lambda rng: b"",
    lambda rng: b"{",
    lambda rng: rng.randbytes(rng.choice([1, 8, 100, 5000])),
    lambda rng: deep().encode(),
    lambda rng: b'{"a":' * 50_000,
    lambda rng: b"null",
    lambda rng: b"[]",
    lambda rng: b'"a string"',
    lambda rng: b"1e999",
    lambda rng: b"\xff\xfe{}",
    lambda rng: b"\xef\xbb\xbf{}",
    lambda rng: b'{"architectures": ["LlamaForCausalLM"], "hidden_size": NaN}',
)


class HfMutator:
    """Makes damaged copies of pristine folders (family → folder)."""

    def __init__(self, pristine: dict[str, Path]) -> None:
        self.pristine = pristine

    def case(self, rng: random.Random, index: int, into: Path) -> str:
        """Copy a pristine folder to `into`, damage it, and say how."""
        family = rng.choice(sorted(self.pristine))
        shutil.copytree(self.pristine[family], into)
        kind = rng.choices(["config", "config-raw", "safetensors", "safetensors-raw", "index", "tokenizer"],
                           [38, 8, 30, 10, 6, 8])[0]
        how = getattr(self, "_" + kind.replace("-", "_"))(rng, into)
        return f"#{index} {family}: {how}"

    # ---- config.json --------------------------------------------------------------------------------

    def _config(self, rng: random.Random, folder: Path) -> str:
        config = json.loads((folder / "config.json").read_text())
        steps = [self._config_step(rng, config) for _ in range(rng.choice([1, 1, 2, 3]))]
        (folder / "config.json").write_text(json.dumps(config))
        return "config.json " + "; ".join(steps)

    def _config_step(self, rng: random.Random, config: dict[str, Any]) -> str:
        key = rng.choice(list(config) if rng.random() < 0.5 else CONFIG_KEYS)
        action = rng.choice(["delete", "junk", "number", "nested"])
        if action == "delete":
            config.pop(key, None)
            return f"{key} deleted"
        if action == "number":
            config[key] = wrong_number(rng, config.get(key))
        elif action == "nested":
            key = rng.choice(["rope_scaling", "rope_parameters", "text_config", "architectures"])
            config[key] = self._nested(rng, key)
        else:
            config[key] = junk(rng)
        return f"{key} = {json.dumps(config[key])[:60]}"

    def _nested(self, rng: random.Random, key: str) -> Any:
        if key == "architectures":
            return rng.choice([[], [junk(rng)], "LlamaForCausalLM", ["Qwen2ForCausalLM", junk(rng)], [[]]])
        inner = {k: junk(rng) for k in rng.sample(ROPE_KEYS, rng.randint(1, 4))}
        if key == "text_config":
            inner = {k: wrong_number(rng, None) for k in rng.sample(CONFIG_KEYS[2:12], 3)}
        if rng.random() < 0.5:
            inner["rope_type"] = rng.choice(["llama3", "yarn", "linear", "longrope", "su", "dynamic"])
        return inner

    def _config_raw(self, rng: random.Random, folder: Path) -> str:
        data = rng.choice(RAW_JUNK)(rng)
        (folder / "config.json").write_bytes(data)
        return f"config.json is {data[:30]!r} ({len(data)} bytes)"

    # ---- safetensors --------------------------------------------------------------------------------

    @staticmethod
    def _split(file: Path) -> tuple[dict[str, Any], bytes]:
        raw = file.read_bytes()
        (n,) = struct.unpack("<Q", raw[:8])
        return json.loads(raw[8 : 8 + n]), raw[8 + n :]

    @staticmethod
    def _join(file: Path, header: Any, data: bytes) -> None:
        text = json.dumps(header).encode()
        text += b" " * (-len(text) % 8)
        file.write_bytes(struct.pack("<Q", len(text)) + text + data)

    def _safetensors(self, rng: random.Random, folder: Path) -> str:
        file = folder / "model.safetensors"
        header, data = self._split(file)
        name = rng.choice([k for k in header if k != "__metadata__"])
        info = header[name]
        action = rng.choice(["dtype", "shape", "offsets", "offsets", "drop-key", "info", "rename", "delete",
                             "metadata", "extra"])
        if action == "dtype":
            info["dtype"] = rng.choice(["I64", "F8_E4M3", "BOOL", "F64", "U8", "XX", "bf16", junk(rng)])
        elif action == "shape":
            info["shape"] = rng.choice([[-1, 64], [0, 64], [2**40, 2**40], [64] * 9, [], [1.5], ["64"], [True, 64],
                                        [2**64], [10**30, 1], junk(rng), [info["shape"][0] + 1, *info["shape"][1:]]])
        elif action == "offsets":
            begin, end = info["data_offsets"]
            info["data_offsets"] = rng.choice([[end, begin], [begin, begin], [-8, end - begin - 8], [begin, 2**64],
                                               [begin], "0", None, [begin + 1, end + 1], [0, len(data) * 2],
                                               [begin, end - 2], [float(begin), float(end)], [begin, 10**30],
                                               junk(rng)])
        elif action == "drop-key":
            info.pop(rng.choice(["dtype", "shape", "data_offsets"]))
        elif action == "info":
            header[name] = junk(rng)
        elif action == "rename":
            header[name + ".x"] = header.pop(name)
        elif action == "delete":
            del header[name]
        elif action == "metadata":
            header["__metadata__"] = junk(rng)
        else:
            header["model.layers.99.mlp.up_proj.weight"] = {"dtype": "F32", "shape": [64, 64],
                                                            "data_offsets": [0, 64 * 64 * 4]}
        self._join(file, header, data)
        return f"model.safetensors: {action} of {name}: {json.dumps(header.get(name))[:80]}"

    def _safetensors_raw(self, rng: random.Random, folder: Path) -> str:
        file = folder / "model.safetensors"
        raw = bytearray(file.read_bytes())
        action = rng.choice(["length", "json", "cut", "empty"])
        if action == "length":
            (n,) = struct.unpack("<Q", raw[:8])
            value = rng.choice([0, 1, 7, n - 1, n + 1, n * 2, len(raw) - 8, len(raw), 2**63, 2**64 - 1])
            raw[:8] = struct.pack("<Q", value)
            return f"model.safetensors header length {n} -> {value}"
        if action == "json":
            _, data = self._split(file)
            text = rng.choice(RAW_JUNK)(rng)
            text += b" " * (-len(text) % 8)
            file.write_bytes(struct.pack("<Q", len(text)) + text + data)
            return f"model.safetensors header is {text[:30]!r}"
        if action == "cut":
            at = rng.choice([rng.randrange(0, 8), rng.randrange(8, 200), rng.randrange(0, len(raw))])
            file.write_bytes(raw[:at])
            return f"model.safetensors cut at byte {at} of {len(raw)}"
        file.write_bytes(b"")
        return "model.safetensors is empty"

    # ---- the index and the tokenizer ----------------------------------------------------------------

    def _index(self, rng: random.Random, folder: Path) -> str:
        header, _ = self._split(folder / "model.safetensors")
        names = [k for k in header if k != "__metadata__"]
        content = rng.choice([
            {"weight_map": junk(rng)},
            {"weight_map": {n: junk(rng) for n in names}},
            {"weight_map": {n: "../config.json" for n in names}},
            {"weight_map": {n: "config.json" for n in names}},
            {"weight_map": {}},
            {"weight_map": {n: "model.safetensors" for n in names[: len(names) // 2]}},
            {"metadata": {"total_size": -1}},
            junk(rng),
        ])
        (folder / "model.safetensors.index.json").write_text(json.dumps(content))
        return f"model.safetensors.index.json = {json.dumps(content)[:80]}"

    def _tokenizer(self, rng: random.Random, folder: Path) -> str:
        files = [p.name for p in folder.iterdir() if p.name.startswith("tokenizer") or p.name == "added_tokens.json"]
        name = rng.choice([*files, "added_tokens.json", "special_tokens_map.json"])
        file = folder / name
        if name.endswith(".json") and file.is_file() and rng.random() < 0.6:
            data = json.loads(file.read_text())
            if isinstance(data, dict) and data:
                key = rng.choice(sorted(data))
                data[key] = junk(rng)
                file.write_text(json.dumps(data))
                return f"{name}: {key} = {json.dumps(data[key])[:60]}"
        action = rng.choice(["raw", "cut", "delete"])
        if action == "delete" and file.is_file():
            file.unlink()
            return f"{name} deleted"
        if action == "cut" and file.is_file():
            raw = file.read_bytes()
            at = rng.randrange(0, len(raw))
            file.write_bytes(raw[:at])
            return f"{name} cut at byte {at} of {len(raw)}"
        data = rng.choice(RAW_JUNK)(rng)
        file.write_bytes(data)
        return f"{name} is {data[:30]!r}"
