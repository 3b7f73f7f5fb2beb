"""A model's ladder on disk and its reference: found by the files' headers, F16 when it fits, else Q8_0; an
F16 that QuantDesk expanded from a quant says so, and that quant is marked as the reference's source."""

from __future__ import annotations

from pathlib import Path

from app.core.advice.estimate import estimate_file
from app.core.compare.ladder import choose_reference, find_ladder
from app.core.compare.measurements import survey_ladder
from app.core.models.library import starter_model_path
from tests.core.advice.test_recommend import machine

GB = 1024**3


def test_find_ladder_groups_one_models_levels_by_their_headers(starter_ladder: dict[str, Path],
                                                               tiny_f16: Path) -> None:
    others = [*starter_ladder.values(), starter_model_path(), tiny_f16]
    ladder = find_ladder(starter_ladder["Q4_K_M"], others)
    assert ladder.types == ("F16", "Q8_0", "Q6_K", "Q4_K_M", "Q4_1", "Q3_K_M", "Q2_K")  # tiny is another model
    assert ladder.model_name == "SmolLM2-135M-Instruct"
    f16 = ladder.file("F16")
    assert f16 is not None and f16.expanded_from == "Q4_1"  # the starter's F16 is its Q4_1, expanded
    assert [f.size_bytes for f in ladder.files[1:]] == sorted((f.size_bytes for f in ladder.files[1:]),
                                                               reverse=True)


def test_reference_is_f16_when_it_fits_else_q8_0(starter_ladder: dict[str, Path]) -> None:
    ladder = find_ladder(starter_ladder["F16"], list(starter_ladder.values()))
    roomy = choose_reference(ladder, machine(ram_free=16))
    assert roomy.file is not None and roomy.file.type == "F16"
    assert "expanded from the Q4_1 file" in roomy.reason

    f16, q8 = ladder.file("F16"), ladder.file("Q8_0")
    assert f16 is not None and q8 is not None
    f16_need = estimate_file(f16.facts, 512).total
    q8_need = estimate_file(q8.facts, 512).total
    tight = machine(ram_free=1.6 + (f16_need + q8_need) / 2 / GB)  # 10 % of 16 GB kept free
    choice = choose_reference(ladder, tight)
    assert choice.file is not None and choice.file.type == "Q8_0" and "F16 would need" in choice.reason

    small = find_ladder(starter_ladder["Q4_K_M"], [starter_ladder["Q2_K"]])
    assert choose_reference(small, machine(ram_free=16)).file is None  # nothing to measure against


def test_survey_lists_what_is_left_to_measure(starter_ladder: dict[str, Path], data_dir: Path) -> None:
    survey = survey_ladder(starter_ladder["Q2_K"], [*starter_ladder.values(), starter_model_path()],
                           machine(ram_free=16))
    assert survey.reference.file is not None and survey.reference.file.type == "F16"
    assert survey.results == {} and survey.recommended is None and survey.reference_source == "Q4_1"
    assert [f.type for f in survey.to_measure()] == ["Q8_0", "Q6_K", "Q4_K_M", "Q4_1", "Q3_K_M", "Q2_K"]
