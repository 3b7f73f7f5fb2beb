"""The q/k rotary permutation, held against things that share no code with it.

The starter round trip (test_starter_roundtrip.py) un-permutes the starter's q/k with unpermute_rows to build
the Hugging Face folder and permutes them back with permute_rows: if both were wrong in matching ways, it
would still pass. So here:

- The layout is written out from its definition, by index, and held against the starter's real tensors
  (laid out by llama.cpp's own converter, whose LlamaModel.permute is the reshape/swapaxes permute_rows
  copies): per head of d rows, Hugging Face stores the rotary halves [x0..x(d/2-1) | x(d/2)..x(d-1)] and
  rotates x_i with x_(i+d/2) (transformers' rotate_half); llama.cpp's "llama" architecture uses ggml's
  normal rope, which rotates adjacent rows (2i, 2i+1), so the pair (x_i, x_(i+d/2)) must sit at rows 2i, 2i+1.
- Behaviour: the rebuilt folder run the way transformers runs it (a numpy forward pass with rotate_half,
  tests/fixtures/hf_llama.py) gives llama.cpp's logits of the converted GGUF. That cannot be fooled by
  matching bugs in the fixture and the converter: a folder holding q/k in the wrong layout gives other logits
  in the Hugging Face reading, and the test shows by a control that it would see the difference.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from app.core.convert.llama import permute_rows, unpermute_rows
from tests.core.convert.conftest import StarterRoundTrip
from tests.fixtures.hf_llama import hf_llama_logits, load_hf_folder
from tests.fixtures.logits import kl_divergence, llama_logits, same_top_token, text_logits

PROMPT = "The capital of France is Paris, and the capital of Germany is Berlin. The largest planet in the solar"
N_TOKENS = 20

# Measured here (2 cores, llama-cpp-python 0.3.36), KL in nats over the 20 positions: the converted starter
# against the starter's F16 expansion, mean 5.4e-6, at most 1.3e-5 (F32 against F16 weights); the numpy
# Hugging Face reading against llama.cpp's run of the conversion, mean 1.1e-6, at most 6.7e-6 (float64
# against llama.cpp's float32); the same reading with q/k left in llama.cpp's layout, mean 1.5. The bound
# for "the same model" is 8x over the worst position seen, and 15,000x under the wrong layout's mean; the
# wrong layout must clear a bound 15x under what it showed. The top token agrees at all 20 positions, but
# one is a near tie (its first two logits 0.05 apart, the runs differ by up to 0.09), so one miss is allowed.
SAME_MODEL_MAX_KL = 1e-4
SAME_MODEL_MIN_TOP = 0.95
WRONG_LAYOUT_MIN_KL = 1e-1


def gguf_row_of(n_rows: int, n_head: int) -> np.ndarray:
    """For each Hugging Face row of a q or k projection, the row llama.cpp's layout puts it in: written out
    by index from the two layouts' definitions, not by the reshape the converter uses."""
    head_dim = n_rows // n_head
    half = head_dim // 2
    rows = np.empty(n_rows, dtype=np.int64)
    for head in range(n_head):
        base = head * head_dim
        for i in range(half):
            rows[base + i] = base + 2 * i  # x_i, first of its rotary pair
            rows[base + half + i] = base + 2 * i + 1  # x_(i+d/2), its partner, on the next row
    return rows


def to_gguf_layout(hf: np.ndarray, n_head: int) -> np.ndarray:
    out = np.empty_like(hf)
    out[gguf_row_of(hf.shape[0], n_head)] = hf
    return out


def test_the_index_layout_is_a_permutation_that_pairs_each_half_with_the_other() -> None:
    rows = gguf_row_of(576, 9)
    assert sorted(rows) == list(range(576))
    # head 1 (rows 64..127): x0 → 64, x32 → 65, x31 → 126, x63 → 127
    assert [rows[64], rows[96], rows[95], rows[127]] == [64, 65, 126, 127]


def test_permute_rows_reproduces_the_starters_real_q_and_k(starter_round_trip: StarterRoundTrip) -> None:
    """Every block's q and k as llama.cpp's converter laid them out in the starter (dequantized with gguf-py,
    starter_round_trip.expected), against the index layout."""
    n_head, n_kv = 9, 3  # SmolLM2-135M: 9 query heads and 3 key/value heads of 64 dimensions, 30 blocks
    assert {starter_round_trip.expected[f"blk.0.attn_{x}.weight"].shape for x in "qk"} == {(576, 576), (192, 576)}
    for block in range(30):
        for name, heads in ((f"blk.{block}.attn_q.weight", n_head), (f"blk.{block}.attn_k.weight", n_kv)):
            starter = starter_round_trip.expected[name]
            hf = starter[gguf_row_of(starter.shape[0], heads)]  # Hugging Face row r = llama.cpp row rows[r]
            assert not np.array_equal(hf, starter), name  # the permutation moves real rows
            assert np.array_equal(permute_rows(hf, heads), starter), name
            assert np.array_equal(unpermute_rows(starter, heads), hf), name
            assert np.array_equal(to_gguf_layout(hf, heads), starter), name


@pytest.fixture(scope="module")
def converted_logits(starter_round_trip: StarterRoundTrip) -> tuple[list[int], np.ndarray]:
    return text_logits(starter_round_trip.result.path, PROMPT, N_TOKENS)


@pytest.mark.slow
def test_the_converted_starter_computes_what_the_starter_computes(
    converted_logits: tuple[list[int], np.ndarray], starter_f16: Path
) -> None:
    """The whole conversion (names, settings, tokenizer, tensors) against the starter as llama.cpp runs it.
    Blind to a permutation bug the fixture mirrors (the round trip then gives the starter back exactly):
    the next test is the one that sees that."""
    tokens, converted = converted_logits
    starter = llama_logits(starter_f16, tokens)
    assert np.isfinite(converted).all()
    kl = kl_divergence(starter, converted)
    print(f"converted vs starter F16: KL mean {kl.mean():.2g}, max {kl.max():.2g} nats")
    assert kl.max() < SAME_MODEL_MAX_KL
    assert same_top_token(starter, converted) >= SAME_MODEL_MIN_TOP


@pytest.mark.slow
def test_the_folder_read_as_hugging_face_does_gives_llama_cpps_logits_of_its_conversion(
    starter_round_trip: StarterRoundTrip, converted_logits: tuple[list[int], np.ndarray]
) -> None:
    tokens, converted = converted_logits
    config, tensors = load_hf_folder(starter_round_trip.folder)
    reference = hf_llama_logits(config, tensors, tokens)
    kl = kl_divergence(reference, converted)
    print(f"Hugging Face reading vs llama.cpp: KL mean {kl.mean():.2g}, max {kl.max():.2g} nats")
    assert kl.max() < SAME_MODEL_MAX_KL
    assert same_top_token(reference, converted) >= SAME_MODEL_MIN_TOP

    # Control: had the folder held q/k in llama.cpp's layout (a fixture that forgot to un-permute), the
    # Hugging Face reading would be far from llama.cpp's, so the bound above does tell the layouts apart.
    n_head, n_kv = int(config["num_attention_heads"]), int(config["num_key_value_heads"])
    wrong = {
        name: to_gguf_layout(values, n_head if "q_proj" in name else n_kv)
        if name.endswith(("q_proj.weight", "k_proj.weight"))
        else values
        for name, values in tensors.items()
    }
    wrong_kl = float(kl_divergence(hf_llama_logits(config, wrong, tokens), converted).mean())
    print(f"the same with q/k in llama.cpp's layout: KL mean {wrong_kl:.2g} nats")
    assert wrong_kl > WRONG_LAYOUT_MIN_KL
