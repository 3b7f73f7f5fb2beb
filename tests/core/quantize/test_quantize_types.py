"""Every file type llama.cpp's quantizer offers is made through QuantDesk, and computes what its bits allow.

Run on a tiny random-weight Llama with the starter's tokenizer (tests/model_fixtures.py) so thirty
quantizations fit in the test budget; the full starter is quantized in test_quantizer.py and test_imatrix.py.

Each quantized model is held against the F16 model it was made from, on the first EVAL_TOKENS tokens of
tests/fixtures/quantize-eval.txt, with llama.cpp's logits at every position and numpy (float64) for the rest:
all logits finite; the mean KL divergence from F16's token distributions inside its bit class's band; and,
for 4 bits and up, the share of positions with F16's top token above a floor.

Where the bounds come from: measured here (2 cores, llama-cpp-python 0.3.36) on tiny_f16, 96 positions. Its
distributions are flat (random weights: mean top probability 0.006 over 4,096 tokens, entropy 7.8 nats), so
the KL values are small next to a real model's and the top token is easily displaced; what they show is the
ordering. Mean KL (nats) and same top token measured:

    16-bit  F32 0 · F16 0 · BF16 4.1e-5 (0.958)
     8-bit  Q8_0 4.1e-4 (0.927)
     6-bit  Q6_K 3.0e-3 (0.854)
     5-bit  Q5_K_M 8.4e-3 (0.708) · Q5_K_S 8.9e-3 (0.677) · Q5_1 1.04e-2 (0.771) · Q5_0 1.21e-2 (0.656)
     4-bit  Q4_K_M 2.92e-2 (0.573) · Q4_K_S 2.52e-2 (0.604) · Q4_1 3.61e-2 (0.583) · Q4_0 4.02e-2 (0.552)
            IQ4_NL 3.47e-2 (0.583) · IQ4_XS 3.64e-2 (0.573)
     3-bit  Q3_K_L 6.5e-2 · Q3_K_M 7.4e-2 · Q3_K_S 0.125 · IQ3_M 8.3e-2 · IQ3_S 0.109 · IQ3_XS 0.132
            IQ3_XXS 0.188
     2-bit  Q2_K 0.258 · Q2_K_S 0.320 · IQ2_M 0.196 · IQ2_S 0.270 · IQ2_XS 0.391 · IQ2_XXS 0.461
     1-bit  IQ1_M 0.518 · IQ1_S 0.596

The ceilings (KL_CEILING) are about twice the worst of each class (1.9x for 3 bits, so that the 1-bit band
stays above it). A type's floor is the ceiling of the class two steps up (one step for 8 bits): a 4-bit type
must be measurably worse than any 6-bit one may be, a 1-bit type worse than any 3-bit one (IQ1_M is 1.5x
over that floor). That makes the ordering between bit classes monotone while leaving neighbours free to
overlap, as they do (IQ2_M 0.196 is about IQ3_XXS's 0.188). The same-top-token floors sit 0.06-0.15 under the
worst measured of each class (6 to 15 of the 96 positions).
"""

from __future__ import annotations

import re
from pathlib import Path

import gguf
import numpy as np
import pytest

from app.core.quantize.quantizer import quantize_file
from app.core.quants import QUANT_TYPES, QuantType
from tests.fixtures.logits import kl_divergence, llama_logits, same_top_token, text_logits

EVAL_TEXT = Path(__file__).parents[2] / "fixtures" / "quantize-eval.txt"
EVAL_TOKENS = 96

#: bit class → the most mean KL divergence from F16 (nats) a type of that class may show on tiny_f16
KL_CEILING = {16: 1e-4, 8: 1e-3, 6: 7e-3, 5: 0.025, 4: 0.08, 3: 0.35, 2: 0.9, 1: 1.2}
#: bit class → the least share of positions where the type's top token is F16's (not asserted under 4 bits)
TOP_TOKEN_FLOOR = {16: 0.9, 8: 0.8, 6: 0.7, 5: 0.5, 4: 0.4}
CLASSES = sorted(KL_CEILING, reverse=True)  # 16, 8, 6, 5, 4, 3, 2, 1


def bit_class(qtype: QuantType) -> int:
    """16 for the float types; otherwise the bits in the name, as people read it: Q4_K_M → 4, IQ2_XXS → 2."""
    if qtype.is_float:
        return 16
    match = re.match(r"I?Q(\d)_", qtype.name)
    assert match, qtype.name
    return int(match.group(1))


def kl_floor(bits: int) -> float:
    """The ceiling of the class two steps up (one step for 8 bits, none for the floats)."""
    i = CLASSES.index(bits)
    return 0.0 if i == 0 else KL_CEILING[CLASSES[max(i - 2, 0)]]


def test_every_type_has_a_bit_class_and_the_bands_rise_as_bits_fall() -> None:
    assert {bit_class(q) for q in QUANT_TYPES} == set(CLASSES)
    ceilings = [KL_CEILING[b] for b in CLASSES]
    floors = [kl_floor(b) for b in CLASSES]
    assert ceilings == sorted(ceilings) and len(set(ceilings)) == len(ceilings)
    assert all(low < high for low, high in zip(floors, ceilings, strict=True))
    assert list(TOP_TOKEN_FLOOR.values()) == sorted(TOP_TOKEN_FLOOR.values(), reverse=True)


@pytest.fixture(scope="module")
def f16_logits(tiny_f16: Path) -> tuple[list[int], np.ndarray]:
    return text_logits(tiny_f16, EVAL_TEXT.read_text(encoding="utf-8"), EVAL_TOKENS)


@pytest.mark.slow
@pytest.mark.parametrize("qtype", QUANT_TYPES, ids=lambda t: t.name)
def test_every_type_is_made_and_stays_within_its_bits_of_f16(
    qtype: QuantType, tiny_f16: Path, tiny_imatrix: Path, f16_logits: tuple[list[int], np.ndarray], tmp_path: Path
) -> None:
    imatrix = tiny_imatrix if (qtype.needs_imatrix or qtype.imatrix_recommended) else None
    result = quantize_file(tiny_f16, tmp_path / f"tiny-{qtype.name}.gguf", qtype.name, threads=2, imatrix=imatrix)
    reader = gguf.GGUFReader(result.path)
    assert reader.fields["general.file_type"].contents() == qtype.ftype
    tensor_types = {t.tensor_type.name for t in reader.tensors if len(t.shape) > 1}
    if not qtype.is_float:
        assert tensor_types - {"F16", "F32", "BF16"}, f"{qtype.name} left every matrix unquantized"
    del reader

    tokens, reference = f16_logits
    logits = llama_logits(result.path, tokens)
    assert logits.shape == reference.shape
    assert np.isfinite(logits).all(), f"{qtype.name}: non-finite logits"
    bits = bit_class(qtype)
    kl = float(kl_divergence(reference, logits).mean())
    top = same_top_token(reference, logits)
    print(f"{qtype.name}: mean KL {kl:.3g} nats, same top token {top:.3f}")
    assert kl_floor(bits) <= kl < KL_CEILING[bits], f"{qtype.name}: mean KL {kl:.3g} outside its {bits}-bit band"
    if bits in TOP_TOKEN_FLOOR:
        assert top >= TOP_TOKEN_FLOOR[bits], f"{qtype.name}: same top token at only {top:.0%} of positions"
