"""`python main.py compare REFERENCE CANDIDATE... --json`: per candidate ppl, kld_mean, kld_p99, same_top_pct;
cached the second time; plain-words errors for files of another model and a text too short."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


def quantdesk(*args: str, data_dir: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "QUANTDESK_DATA_DIR": str(data_dir)}
    return subprocess.run([sys.executable, "main.py", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=1800, env=env)


def test_compare_prints_each_candidates_figures_as_json(starter_ladder: dict[str, Path], short_text: Path,
                                                        tmp_path: Path) -> None:
    text = tmp_path / "text.txt"
    text.write_text(short_text.read_text(encoding="utf-8")[:3000], encoding="utf-8")
    args = ("compare", str(starter_ladder["F16"]), str(starter_ladder["Q8_0"]), str(starter_ladder["Q2_K"]),
            "--text", str(text), "--ctx", "64", "--threads", "1", "--json")  # one thread: see test_evaluate_job.THREADS
    result = quantdesk(*args, data_dir=tmp_path / "data")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["reference"]["path"] == str(starter_ladder["F16"]) and data["reference"]["ppl"] > 1
    assert data["n_ctx"] == 64 and data["text"] == "text.txt"
    q8, q2 = data["candidates"]
    for c in (q8, q2):
        assert {"ppl", "kld_mean", "kld_p99", "same_top_pct", "kld_p90", "delta_ppl", "file_bytes"} <= set(c)
        assert c["n_positions"] == data["n_positions"] > 200 and not c["cached"]
    assert (q8["type"], q2["type"]) == ("Q8_0", "Q2_K")
    assert q8["kld_mean"] < q2["kld_mean"] and q8["same_top_pct"] > q2["same_top_pct"]

    again = quantdesk(*args, data_dir=tmp_path / "data")
    assert again.returncode == 0, again.stderr
    assert [c["cached"] for c in json.loads(again.stdout)["candidates"]] == [True, True]
    plain = quantdesk(*args[:-1], data_dir=tmp_path / "data")
    assert plain.returncode == 0 and "Q2_K" in plain.stdout and "KLD mean" in plain.stdout


def test_compare_refuses_another_model_and_a_text_too_short(starter_ladder: dict[str, Path], tiny_f16: Path,
                                                           tmp_path: Path) -> None:
    other = quantdesk("compare", str(starter_ladder["F16"]), str(tiny_f16), "--json", data_dir=tmp_path / "d")
    assert other.returncode == 1
    error = json.loads(other.stdout)["error"]
    assert error["type"] == "EvaluationError" and "vocabularies differ" in error["message"]

    short = tmp_path / "short.txt"
    short.write_text("A few words are not enough to measure anything.", encoding="utf-8")
    too_short = quantdesk("compare", str(starter_ladder["F16"]), str(starter_ladder["Q8_0"]), "--text", str(short),
                          "--json", data_dir=tmp_path / "d")
    assert too_short.returncode == 1
    error = json.loads(too_short.stdout)["error"]
    assert error["type"] == "EvaluationError" and "too short" in error["message"]
