"""Quant types in plain words, and the size ladder's sentence, from the one catalogue."""

from __future__ import annotations

from app.core.quant_words import explain_quant_type, ladder, percent_worse
from app.core.quants import QUANT_TYPES

GIB = 1024**3


def test_every_type_has_a_tooltip_with_its_bits() -> None:
    for q in QUANT_TYPES:
        text = explain_quant_type(q.name)
        assert text.startswith(f"{q.name}: about ") and "bits per weight" in text
    assert "K-quant" in explain_quant_type("Q4_K_M") and "M = medium" in explain_quant_type("Q4_K_M")
    assert "I-quant" in explain_quant_type("IQ3_M") and "importance matrix" in explain_quant_type("IQ3_M")
    assert "Needs an importance matrix" in explain_quant_type("IQ2_XS")
    assert "Not quantized" in explain_quant_type("F16") and explain_quant_type("nonsense") == ""


def test_the_issue_example_sentence() -> None:
    f16 = int(14.2 * GIB)
    steps = {s.type: s for s in ladder({"F16": f16, "Q4_K_M": int(4.1 * GIB), "Q8_0": int(7.6 * GIB)})}
    assert steps["Q4_K_M"].sentence(f16) == ("14.2 GB → 4.1 GB at Q4_K_M, 71 % smaller, about 3 % worse on the "
                                             "published measure")
    assert "less than 0.1 % worse" in steps["Q8_0"].sentence(f16)
    assert [s.type for s in ladder({"Q4_K_M": 4, "F16": 16, "Q8_0": 8})] == ["F16", "Q8_0", "Q4_K_M"]
    assert round(percent_worse("Q4_K_M") or 0, 1) == 2.8 and percent_worse("Q4_0") is None


def test_a_level_measured_here_speaks_of_its_own_figure() -> None:
    f16 = int(258.3 * 1024**2)
    sizes = {"F16": f16, "Q4_K_M": int(100.6 * 1024**2), "Q5_K_M": int(106.9 * 1024**2)}
    steps = {s.type: s for s in ladder(sizes, {"Q4_K_M": 5.78, "F16": 0.0})}
    assert steps["Q4_K_M"].measured and steps["Q4_K_M"].percent_worse == 5.78
    assert steps["Q4_K_M"].sentence(f16) == "258.3 MB → 100.6 MB at Q4_K_M, 61 % smaller, about 6 % worse measured here"
    assert not steps["Q5_K_M"].measured and "published measure" in steps["Q5_K_M"].sentence(f16)
