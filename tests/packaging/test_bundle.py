"""The packaged Linux app, built by PyInstaller and started as a person would start it.

The bundle comes from packaging/build_bundle.py: built once for a given tree (about a minute on two cores,
niced) and kept in a cache keyed by the sources, the installed packages and the llama.cpp build, so a test
session builds at most once and an unchanged tree builds never again. Each check runs the bundled
executable with a fresh data folder and no PYTHONPATH: nothing of the source tree is in reach.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "packaging"))
import build_bundle  # noqa: E402

pytestmark = pytest.mark.slow


@pytest.fixture(scope="session")
def bundle() -> Path:
    return build_bundle.build_bundle(quiet=True)


@pytest.fixture
def bundle_env(tmp_path: Path) -> Iterator[dict[str, str]]:
    yield build_bundle.smoke_env(tmp_path)


def run_bundle(bundle: Path, env: dict[str, str], *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([str(build_bundle.executable(bundle)), *args], env=env, capture_output=True, text=True,
                          timeout=timeout, cwd=env["QUANTDESK_DATA_DIR"].rsplit("/", 1)[0])


def test_bundle_is_one_folder_with_the_starter_inside(bundle: Path) -> None:
    assert build_bundle.executable(bundle).is_file()
    starters = list(bundle.rglob("SmolLM2-135M-Instruct.Q4_1.gguf"))
    assert len(starters) == 1 and starters[0].stat().st_size > 90_000_000
    assert list(bundle.rglob("resources/icons/quantdesk-256.png"))
    assert not list(bundle.rglob("pytest")) and not list(bundle.rglob("PyInstaller"))


def test_doctor_json_answers_as_the_source_tree_does(bundle: Path, bundle_env: dict[str, str]) -> None:
    frozen = run_bundle(bundle, bundle_env, "doctor", "--json")
    assert frozen.returncode == 0, frozen.stderr[-3000:]
    source = subprocess.run([sys.executable, "main.py", "doctor", "--json"], cwd=ROOT, capture_output=True,
                            text=True, timeout=300, env=bundle_env)
    assert source.returncode == 0, source.stderr[-3000:]
    got, want = json.loads(frozen.stdout), json.loads(source.stdout)
    assert got.keys() == want.keys() and got["hardware"].keys() == want["hardware"].keys()
    assert got["healthy"] is True
    assert got["quantdesk_version"] == want["quantdesk_version"]
    assert got["hardware"]["backend"] == want["hardware"]["backend"]  # the same llama.cpp build, bundled
    # the engine child started from the frozen executable and found the starter inside the bundle
    assert got["starter"]["answer"] == want["starter"]["answer"] == "The capital of France is Paris."
    assert Path(got["starter"]["path"]).is_relative_to(bundle)


def test_window_opens_offscreen_and_loads_the_starter(bundle: Path) -> None:
    steps = build_bundle.launch(bundle, "model")
    assert 0 < float(steps["window-shown"]) <= float(steps["model-loaded"])
    assert Path(str(steps["model-loaded-path"])).is_relative_to(bundle)


def test_job_steps_run_in_children_of_the_frozen_app(bundle: Path, bundle_env: dict[str, str],
                                                     tmp_path: Path) -> None:
    """A quantization is two child steps (expand the Q4_1 starter to F16, then quantize) through the runner."""
    out = tmp_path / "starter-Q4_0.gguf"
    result = run_bundle(bundle, bundle_env, "quantize", "starter", "Q4_0", "--allow-requantize", "-o", str(out),
                        "--threads", "2", "--json")
    assert result.returncode == 0, result.stderr[-3000:]
    (made,) = json.loads(result.stdout)["outputs"]
    assert made["type"] == "Q4_0" and Path(made["expanded_from"]).is_relative_to(bundle)
    assert out.is_file() and out.stat().st_size == made["size_bytes"] and out.read_bytes()[:4] == b"GGUF"


def test_the_bundle_runs_with_no_network(bundle: Path, bundle_env: dict[str, str]) -> None:
    """The window and the engine of the packaged app in a network namespace with no network (`unshare -rn`)."""
    import shutil

    probe = subprocess.run(["unshare", "-rn", "true"], capture_output=True, text=True) if shutil.which(
        "unshare") else None
    if probe is None or probe.returncode != 0:
        pytest.skip(f"`unshare -rn` is not permitted here: {probe.stderr.strip() if probe else 'no unshare(1)'}")
    env = {**bundle_env, "QUANTDESK_SMOKE": "model"}
    result = subprocess.run(["unshare", "-rn", str(build_bundle.executable(bundle))], env=env, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "quantdesk-smoke model-loaded" in result.stdout
