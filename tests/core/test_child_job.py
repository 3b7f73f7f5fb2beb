from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from app.core.process.runner import run_in_child
from app.core.errors import Cancelled, ModelLoadError, QuantDeskError
from app.core.progress import ProgressCallback


def count_to(n: int, *, on_progress: ProgressCallback) -> int:
    for i in range(n):
        on_progress(i + 1, n)
    return n * 2


def fail_plainly(*, on_progress: ProgressCallback) -> None:
    raise ModelLoadError("The model is broken.", "tensor 7 is short")


def write_forever(path: str, *, on_progress: ProgressCallback) -> None:
    with open(path, "wb") as f:
        while True:
            f.write(b"x" * 1024)
            f.flush()
            on_progress(1, 0)
            time.sleep(0.01)


def die_hard(*, on_progress: ProgressCallback) -> None:
    import os

    os.abort()


def test_result_and_progress_come_back() -> None:
    seen: list[tuple[int, int]] = []
    assert run_in_child(count_to, (5,), on_progress=lambda d, t: seen.append((d, t))) == 10
    assert seen == [(i, 5) for i in range(1, 6)]


def test_errors_keep_their_type_and_detail() -> None:
    with pytest.raises(ModelLoadError) as info:
        run_in_child(fail_plainly)
    assert info.value.message == "The model is broken." and info.value.detail == "tensor 7 is short"


def test_cancel_terminates_and_removes_the_temporary_file(tmp_path: Path) -> None:
    out = tmp_path / "model.gguf.part"
    cancel = threading.Event()

    def progress(done: int, total: int) -> None:
        if out.exists() and out.stat().st_size > 4096:
            cancel.set()

    with pytest.raises(Cancelled):
        run_in_child(write_forever, (str(out),), on_progress=progress, cancel=cancel, cleanup=[out])
    assert not out.exists()


def test_a_native_abort_is_a_plain_error() -> None:
    with pytest.raises(QuantDeskError) as info:
        run_in_child(die_hard)
    assert "stopped unexpectedly" in info.value.message


def main_module_and_import_order(*, on_progress: ProgressCallback) -> tuple[str, int, int]:
    import sys

    names = list(sys.modules)
    # llama_cpp.llama_cpp is the module that loads llama.cpp's shared libraries
    return sys.modules["__mp_main__"].__spec__.name, names.index("llama_cpp.llama_cpp"), names.index("numpy")


def test_children_load_llama_cpp_before_numpy_not_the_parents_main() -> None:
    # On a CUDA build, numpy loaded before llama.cpp's libraries made the engine crash (SIGSEGV) when it put
    # a model on the GPU; children therefore start from app.core.process.bootstrap, never the parent's __main__.
    main_name, llama_at, numpy_at = run_in_child(main_module_and_import_order)
    assert main_name == "app.core.process.bootstrap"
    assert llama_at < numpy_at

