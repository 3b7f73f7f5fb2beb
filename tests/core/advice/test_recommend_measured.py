"""Measured numbers feed the recommendation: a level measured here replaces the published Llama-3-8B figure
and decides what counts as "Q4_K_M quality" for this model."""

from __future__ import annotations

from app.core.advice.recommend import ACCEPTABLE_KLD, acceptable_levels, recommend
from app.core.quants import QUALITY_SOURCE, QualityLoss
from tests.core.advice.test_recommend import machine
from tests.fixtures.model_shapes import llama3_8b_facts

HERE = "measured here on Test against F16 (QuantDesk's evaluation text, context 512)"


def loss(kld: float) -> QualityLoss:
    return QualityLoss(kld * 5, kld, 1 - kld, HERE)


def test_threshold_is_q4_k_m_on_llama_3_8b() -> None:
    assert ACCEPTABLE_KLD == 0.0313
    assert acceptable_levels(None) == {"F16", "Q8_0", "Q6_K", "Q5_K_M", "Q4_K_M"}


def test_measured_levels_decide_what_is_good_enough() -> None:
    # a small model that loses more: Q4_K_M fails, and nothing below a failure counts unless it passed itself
    small = {"Q8_0": loss(0.002), "Q6_K": loss(0.006), "Q4_K_M": loss(0.05), "Q2_K": loss(0.5)}
    assert acceptable_levels(small) == {"F16", "Q8_0", "Q6_K", "Q5_K_M"}
    # a large model that loses less: Q3_K_M passes, so it counts, and so does Q4_K_M above it
    large = {"Q3_K_M": loss(0.025), "Q2_K": loss(0.2)}
    assert acceptable_levels(large) == {"F16", "Q8_0", "Q6_K", "Q5_K_M", "Q4_K_M", "Q3_K_M"}


def test_a_small_model_is_steered_to_a_larger_level() -> None:
    facts, computer = llama3_8b_facts(), machine(32, 6.5)
    published = recommend(facts, computer, 4096)
    assert published.recommended == "Q4_K_M" and published.option("Q4_K_M").placement == "gpu"
    measured = {"Q8_0": loss(0.002), "Q6_K": loss(0.006), "Q5_K_M": loss(0.02), "Q4_K_M": loss(0.05),
                "Q2_K": loss(0.5)}
    rec = recommend(facts, computer, 4096, measured)
    assert rec.recommended != "Q4_K_M" and rec.recommended in ("Q8_0", "Q6_K", "Q5_K_M")
    assert "Q4_K_M changes them by 0.050 on this model, more than Q4_K_M does on Llama-3-8B" in rec.sentence
    assert rec.option("Q4_K_M").quality == measured["Q4_K_M"]  # the table shows the measured figure...
    quality = rec.option("Q3_K_M").quality
    assert quality is not None and quality.source == QUALITY_SOURCE  # ...and the published one where none
    data = rec.to_json()
    assert data["options"][4]["quality"]["source"] == HERE and "measured here" in data["quality_source"]


def test_a_model_that_loses_less_may_go_lower() -> None:
    facts, computer = llama3_8b_facts(), machine(32, 6.0)
    assert recommend(facts, computer, 4096).recommended == "Q8_0"  # partly on the GPU
    rec = recommend(facts, computer, 4096, {"Q4_K_M": loss(0.012), "Q3_K_M": loss(0.025), "Q2_K": loss(0.2)})
    assert rec.recommended == "Q3_K_M" and rec.option("Q3_K_M").placement == "gpu"
    assert "KL divergence of 0.025, within Q4_K_M's 0.031 on Llama-3-8B" in rec.sentence
    assert "Q8_0 would be the pick by the published Llama-3-8B figures" in rec.sentence
