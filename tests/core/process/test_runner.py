from __future__ import annotations

import pickle
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil
import pytest

from app.core.disk import partial_path
from app.core.errors import AlreadyQuantizedError, Cancelled, ModelLoadError, QuantDeskError
from app.core.process.runner import PARENT_GONE_EXIT, ErrorReport, describe_exit, run_in_child
from app.core.progress import ProgressCallback
from tests.fixtures.files import partial_files

ROOT = Path(__file__).resolve().parents[3]


def count_to(n: int, *, on_progress: ProgressCallback) -> int:
    for i in range(n):
        on_progress(i + 1, n)
    return n * 2


def fail_plainly(*, on_progress: ProgressCallback) -> None:
    raise ModelLoadError("The model is broken.", "tensor 7 is short")


def write_forever(path: str, *, on_progress: ProgressCallback) -> None:
    with open(partial_path(Path(path)), "wb") as f:
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


def test_cancel_terminates_and_removes_the_partial_file(tmp_path: Path) -> None:
    out = tmp_path / "model.gguf"
    cancel = threading.Event()

    def progress(done: int, total: int) -> None:
        partials = partial_files(out)
        if partials and partials[0].stat().st_size > 4096:
            cancel.set()

    with pytest.raises(Cancelled):
        run_in_child(write_forever, (str(out),), on_progress=progress, cancel=cancel, outputs=[out])
    assert list(tmp_path.iterdir()) == []


def test_an_error_report_gives_back_the_same_error() -> None:
    error = AlreadyQuantizedError("It is Q4_1 already.", "general.file_type = 3", current_type="Q4_1")
    again = pickle.loads(pickle.dumps(ErrorReport.from_exception(error))).to_error()
    assert type(again) is AlreadyQuantizedError
    assert (again.message, again.detail, again.current_type) == (error.message, error.detail, "Q4_1")
    bug = ErrorReport.from_exception(KeyError("x"), "The engine met an unexpected error.").to_error()
    assert type(bug) is QuantDeskError and bug.message == "The engine met an unexpected error."
    assert "KeyError" in bug.detail
    assert ErrorReport("NoSuchError", "m", "d").to_error().message == "m"  # an unknown kind stays an error


def test_exits_are_described_in_words() -> None:
    assert describe_exit(-9) == "was ended by signal SIGKILL"
    assert describe_exit(3) == "exited with code 3"
    assert describe_exit(PARENT_GONE_EXIT) == "ended because QuantDesk was gone"


PARENT = """
import sys, time
from app.core.process.runner import ChildProcess
from tests.core.process.test_runner import sleep_long
child = ChildProcess(sleep_long, name="quantdesk-test-child")
child.start()
print(child.pid, flush=True)
time.sleep(600)
"""


def sleep_long(conn: object) -> None:
    time.sleep(600)


def test_a_child_never_outlives_its_parent_even_a_killed_one() -> None:
    parent = subprocess.Popen([sys.executable, "-c", PARENT], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        assert parent.stdout is not None
        child_pid = int(parent.stdout.readline())
        assert psutil.pid_exists(child_pid)
        parent.send_signal(signal.SIGKILL)  # no cleanup runs in the parent: the OS closes its pipes
        parent.wait(10)
        child = psutil.Process(child_pid)
        child.wait(5)  # raises TimeoutExpired if the child lives on
    except psutil.NoSuchProcess:
        pass  # gone already
    finally:
        parent.kill()
        parent.wait(10)
    assert not psutil.pid_exists(child_pid) or psutil.Process(child_pid).status() == psutil.STATUS_ZOMBIE


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

