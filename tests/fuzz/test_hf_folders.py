"""Hundreds of damaged Hugging Face folders (hf_mutations.py) through the facts of the file a conversion would
write, the conversion and `recommend FOLDER --json` (hf_cases.py): each ends in a plain-words QuantDeskError
or a sound answer, within 2 s, taking no more memory than the folder's size plus a small margin (judge.py)."""

from __future__ import annotations

from tests.fuzz.hf_cases import run_hf_cases
from tests.fuzz.judge import LINUX_ONLY
from tests.fuzz.workers import in_workers

pytestmark = LINUX_ONLY

CASES = 400


def test_damaged_hf_folders() -> None:
    (report,) = in_workers(run_hf_cases, CASES)
    print(report.summary())
    assert not report.failures, report.summary()
