"""bootstrap.py builds llama.cpp with its RPC backend on, whatever else CMAKE_ARGS asks, and caches per build."""

from __future__ import annotations

import shlex
import zipfile
from pathlib import Path

import pytest

import bootstrap


def test_rpc_is_on_for_every_build(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CMAKE_ARGS", raising=False)
    assert bootstrap.cmake_args() == "-DGGML_RPC=ON"
    plain = bootstrap.wheel_cache_dir("llama-cpp-python==0.3.36")
    monkeypatch.setenv("CMAKE_ARGS", "-DGGML_CUDA=on")
    assert bootstrap.cmake_args() == "-DGGML_CUDA=on -DGGML_RPC=ON"
    assert bootstrap.wheel_cache_dir("llama-cpp-python==0.3.36") != plain  # a CUDA wheel is cached apart
    monkeypatch.setenv("CMAKE_ARGS", "-DGGML_RPC=OFF")  # a person's own choice about RPC is left alone
    assert bootstrap.cmake_args() == "-DGGML_RPC=OFF"


# --- CUDA builds: CCCL 3.2's headers. There is no CUDA toolkit on this machine, so a toolkit is laid out in a
# temporary folder (an nvcc that prints its release, CCCL's version header) and the wheel is a zip of the real
# one's layout; the real download was tried by hand (docs/benchmarks/gpu.md). ---

def _cccl_header(include: Path, version: int) -> None:
    header = include / "cuda" / "std" / "__cccl" / "version.h"
    header.parent.mkdir(parents=True)
    header.write_text(f"#ifndef __CCCL_VERSION_H\n#define CCCL_VERSION {version}\n"
                      "#define CCCL_MAJOR_VERSION (CCCL_VERSION / 1000000)\n")


def _toolkit(root: Path, release: str, cccl: int) -> Path:
    nvcc = root / "bin" / "nvcc"
    nvcc.parent.mkdir(parents=True)
    nvcc.write_text("#!/bin/sh\necho 'nvcc: NVIDIA (R) Cuda compiler driver'\n"
                    f"echo 'Cuda compilation tools, release {release}, V{release}.88'\n")
    nvcc.chmod(0o755)
    _cccl_header(root / "include" / "cccl", cccl)
    return nvcc


def _cccl_wheel(folder: Path, version: int) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    wheel = folder / "nvidia_cuda_cccl-13.2.75-py3-none-manylinux2014_x86_64.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.writestr("nvidia/cu13/include/cccl/cuda/std/__cccl/version.h", f"#define CCCL_VERSION {version}\n")
        archive.writestr("nvidia_cuda_cccl-13.2.75.dist-info/METADATA", "Name: nvidia-cuda-cccl\n")
    return wheel


@pytest.fixture
def cuda_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("CMAKE_ARGS", "-DGGML_CUDA=on")
    for name in ("CUDA_PATH", "CUDA_HOME"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(bootstrap, "CUDA_INCLUDE", "")
    return tmp_path


def test_the_cccl_version_is_read_from_its_header(tmp_path: Path) -> None:
    _cccl_header(tmp_path / "cccl", 3000001)
    assert bootstrap.cccl_version(tmp_path / "cccl") == (3, 0)
    assert bootstrap.cccl_version(tmp_path) == (3, 0)  # a toolkit's include/, CCCL under cccl/ (CUDA 13)
    assert bootstrap.cccl_version(tmp_path / "nothing") is None


@pytest.mark.parametrize(("args", "wanted"), [("-DGGML_CUDA=on", True), ("-DGGML_CUDA=ON -DGGML_RPC=ON", True),
                                              ("-DGGML_CUDA:BOOL=1", True), ("-DGGML_CUDA=off", False),
                                              ("-DGGML_METAL=on", False), ("", False)])
def test_a_cuda_build_is_recognised(args: str, wanted: bool) -> None:
    assert bootstrap.cuda_requested(args) is wanted


def test_cuda_13_with_an_older_cccl_gets_the_cached_headers(cuda_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CUDACXX", str(_toolkit(cuda_env / "cuda", "13.0", 3000001)))
    _cccl_wheel(cuda_env / "cache" / "quantdesk" / "cccl", 3002000)
    include = bootstrap.cuda_headers(Path("no-python-needed"))  # the cached wheel: nothing is downloaded
    assert include.endswith("nvidia/cu13/include/cccl")
    assert bootstrap.cccl_version(Path(include)) == (3, 2)
    monkeypatch.setattr(bootstrap, "CUDA_INCLUDE", include)
    assert bootstrap.cmake_args() == f'-DGGML_CUDA=on -DGGML_RPC=ON "-DCMAKE_CUDA_FLAGS=-I{include}"'
    assert shlex.split(bootstrap.cmake_args())[-1] == f"-DCMAKE_CUDA_FLAGS=-I{include}"  # as the build splits it
    # a second set-up finds the headers already unpacked
    assert bootstrap.cuda_headers(Path("no-python-needed")) == include


def test_a_toolkit_with_cccl_3_2_or_cuda_12_is_left_alone(cuda_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _cccl_wheel(cuda_env / "cache" / "quantdesk" / "cccl", 3002000)
    monkeypatch.setenv("CUDACXX", str(_toolkit(cuda_env / "new", "13.2", 3002000)))
    assert bootstrap.cuda_headers(Path("python")) == ""
    monkeypatch.setenv("CUDACXX", str(_toolkit(cuda_env / "old", "12.8", 2008000)))
    assert bootstrap.cuda_headers(Path("python")) == ""
    monkeypatch.setenv("CMAKE_ARGS", "-DGGML_CUDA=on -DCMAKE_CUDA_FLAGS=-O3")  # a person's own flags win
    monkeypatch.setenv("CUDACXX", str(_toolkit(cuda_env / "mid", "13.0", 3000001)))
    assert bootstrap.cuda_headers(Path("python")) == ""
    monkeypatch.setattr(bootstrap, "CUDA_INCLUDE", "/somewhere")
    assert "-I/somewhere" not in bootstrap.cmake_args()


def test_a_wheel_without_new_enough_headers_is_not_used(tmp_path: Path) -> None:
    assert bootstrap.unpack_cccl(_cccl_wheel(tmp_path / "old", 3001000), tmp_path / "old") is None
    include = bootstrap.unpack_cccl(_cccl_wheel(tmp_path / "new", 3002000), tmp_path / "new")
    assert include is not None and bootstrap.cccl_version(include) == (3, 2)
    assert not list((tmp_path / "new").glob(".unpacking-*"))  # unpacked under a temporary name, then renamed


def test_no_headers_when_they_cannot_be_fetched(cuda_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """pip cannot fetch them (offline, say): the build goes on with the toolkit's own headers."""
    monkeypatch.setenv("CUDACXX", str(_toolkit(cuda_env / "cuda", "13.0", 3000001)))
    failing_pip = cuda_env / "python"
    failing_pip.write_text("#!/bin/sh\nexit 1\n")
    failing_pip.chmod(0o755)
    assert bootstrap.cuda_headers(failing_pip) == ""


def test_a_damaged_wheel_is_not_used(tmp_path: Path) -> None:
    wheel = tmp_path / "nvidia_cuda_cccl-13.2.75-py3-none-manylinux2014_x86_64.whl"
    wheel.write_bytes(b"not a zip: the download broke off")
    assert bootstrap.unpack_cccl(wheel, tmp_path) is None
    assert [p.name for p in tmp_path.iterdir()] == [wheel.name]  # nothing half-unpacked is left
