"""`hardware` and `recommend` from the command line: plain text, the JSON format the README documents, and
errors in plain words."""

from __future__ import annotations

import json

import pytest

from app.__main__ import main
from app.core.models.library import starter_model_path
from tests.fixtures.fake_hub import FakeFile, FakeHub, FakeRepo
from tests.fixtures.hub_fixtures import *  # noqa: F403 (fixtures)


def test_hardware_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["hardware", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["cpu"]["logical_cores"] >= 1 and data["memory"]["total_bytes"] > 0
    assert isinstance(data["gpus"], list) and data["backend"]["gpu_offload"] in (True, False)


def test_hardware_text(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["hardware"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Processor:") and "Memory:" in out and "llama.cpp:" in out


def test_recommend_json_for_a_gguf_file(capsys: pytest.CaptureFixture[str]) -> None:
    starter = starter_model_path()
    assert main(["recommend", str(starter), "--ctx", "2048", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["n_ctx"] == 2048
    assert [o["type"] for o in data["options"]] == [
        "F16",
        "Q8_0",
        "Q6_K",
        "Q5_K_M",
        "Q4_K_M",
        "Q3_K_M",
        "Q2_K",
    ]
    for option in [*data["options"], data["this_file"]]:
        assert option["placement"] in ("gpu", "partial", "cpu", "none")
        memory = option["memory"]
        assert (
            memory["total"] == memory["weights"] + memory["kv_cache"] + memory["compute"] + memory["overhead"]
        )
        assert isinstance(option["n_gpu_layers"], int) and option["file_bytes"] > 0
    assert data["this_file"]["file_bytes"] == starter.stat().st_size
    assert data["recommended"] in {o["type"] for o in data["options"] if o["placement"] != "none"}
    assert data["why"].startswith(data["recommended"])


def test_recommend_text_marks_the_choice(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["recommend", "starter", "--ctx", "1024"]) == 0
    out = capsys.readouterr().out
    assert "→" in out and "this file" in out and "measured on Llama-3-8B by llama.cpp" in out


def test_recommend_bad_model_is_a_plain_error(capsys: pytest.CaptureFixture[str], tmp_path) -> None:  # type: ignore[no-untyped-def]
    broken = tmp_path / "broken.gguf"
    broken.write_bytes(b"GGUF\x03\x00\x00\x00" + b"\x01" * 20)
    assert main(["recommend", str(broken), "--json"]) == 1
    error = json.loads(capsys.readouterr().out)["error"]
    assert error["type"] == "InvalidModelFileError" and "GGUF" in error["message"] and error["detail"]
    assert main(["recommend", str(tmp_path / "missing.gguf")]) == 1
    assert "There is no model file" in capsys.readouterr().err


def test_recommend_a_hub_repo_before_download(capsys: pytest.CaptureFixture[str], fake_hub: FakeHub) -> None:
    """MODEL as a Hub repo id: the real huggingface_hub client against the fake Hub on 127.0.0.1."""
    fake_hub.add_repo(FakeRepo("someone/smol-gguf", [FakeFile("smol.Q4_1.gguf", source=starter_model_path(),
                                                              lfs=True)]))
    assert main(["recommend", "someone/smol-gguf", "--ctx", "512", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["model"] == "someone/smol-gguf/smol.Q4_1.gguf" and data["this_file"] is None
    assert data["recommended"] is not None and len(data["options"]) == 7
