"""Thousands of damaged copies of the starter's GGUF header through model facts and the recommendation, and a
sample through `recommend FILE --json` (gguf_cases.py): each ends in a plain-words QuantDeskError or a sound
answer, within 2 s, taking no more memory than the file's size plus a small margin (judge.py)."""

from __future__ import annotations

from tests.fuzz.gguf_cases import run_gguf_cases
from tests.fuzz.judge import LINUX_ONLY
from tests.fuzz.workers import in_workers

pytestmark = LINUX_ONLY

CASES = 2000


def test_damaged_gguf_headers() -> None:
    facts_report, cli_report = in_workers(run_gguf_cases, CASES)
    print(facts_report.summary(), cli_report.summary(), sep="\n")
    assert not facts_report.failures, facts_report.summary()
    assert not cli_report.failures, cli_report.summary()
