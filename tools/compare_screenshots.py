"""Write the Compare page's screenshots to docs/screenshots/ (offscreen), with real engines and real jobs.

    .venv/bin/python tools/compare_screenshots.py [--data-dir DIR]

Makes the starter's ladder (F16 expansion, then Q8_0, Q6_K, Q4_K_M, Q3_K_M, Q2_K) with the quantize job,
runs a blind round between Q8_0 and Q2_K, measures the ladder against F16 over the shipped text at a
512-token context with the evaluation jobs, and shows "Which quant?" for the F16 file afterwards.
With --data-dir an existing folder is reused: the ladder and the measurements are made once (the
measurements take a few minutes on two cores).
Writes compare-blind.png, compare-revealed.png, compare-numbers.png and which-quant-measured.png.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
OUT = ROOT / "docs" / "screenshots"
PROMPT = "Explain in two sentences why the sky is blue."


def wait_until(condition: Callable[[], bool], timeout: float = 1800.0) -> None:
    from PySide6.QtWidgets import QApplication

    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("the screen never got there")
        QApplication.processEvents()
        time.sleep(0.02)


def make_ladder() -> dict[str, Path]:
    from app.core.jobs.kind import JobContext
    from app.core.jobs.quantize import QUANTIZE, QuantizeJobParams, expanded_path_for
    from app.core.jobs.queue import run_now
    from app.core.models.library import starter_model_path
    from app.core.quants import DEFAULT_LADDER

    ladder = {}
    for name in DEFAULT_LADDER:
        params = QuantizeJobParams(str(starter_model_path()), name, allow_requantize=True)
        if not params.output_path().is_file():
            print(f"quantizing {name}…", flush=True)
            run_now(QUANTIZE, params, JobContext())
        ladder[name] = params.output_path()
    ladder["F16"] = expanded_path_for(starter_model_path())
    return ladder


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", type=Path)
    args = parser.parse_args()
    os.environ["QUANTDESK_DATA_DIR"] = str(args.data_dir or tempfile.mkdtemp(prefix="quantdesk-shots-"))
    from PySide6.QtWidgets import QApplication

    from app.core.jobs.queue import JobState
    from app.ui.application import create_application
    from app.ui.main_window import MainWindow

    ladder = make_ladder()
    OUT.mkdir(parents=True, exist_ok=True)
    create_application()
    window = MainWindow()
    window.resize(1180, 860)
    window.show()

    def shoot(name: str) -> None:
        for _ in range(10):
            QApplication.processEvents()
        window.grab().save(str(OUT / f"{name}.png"))
        print(f"wrote docs/screenshots/{name}.png", flush=True)

    window.show_page("Compare")
    sides = window.compare.sides
    sides.picker.refresh()
    sides.picker.set_checked([ladder["Q8_0"], ladder["Q2_K"]])
    sides.blind_box.setChecked(True)
    sides.seed.setValue(42)
    sides.max_tokens.setValue(80)
    sides.start()
    wait_until(lambda: sides.bridge.session is not None and not sides.bridge.busy)
    sides.send(PROMPT)
    wait_until(lambda: sides.last_round is not None and not sides.bridge.busy and sides.can_vote())
    shoot("compare-blind")
    sides.vote("a")
    shoot("compare-revealed")

    numbers = window.compare.numbers
    window.compare.tabs.setCurrentWidget(numbers)
    numbers.set_model(ladder["Q4_K_M"])
    wait_until(lambda: numbers.survey is not None and numbers._task is None)
    if numbers.measure():
        print("measuring the ladder (jobs on the Jobs page)…", flush=True)
        wait_until(lambda: all(r.state not in (JobState.QUEUED, JobState.RUNNING) for r in numbers._mine()))
    wait_until(lambda: numbers.survey is not None and not numbers.survey.to_measure() and numbers._task is None)
    shoot("compare-numbers")

    quant = window.quant_table
    window.show_page("Which quant?")
    quant.model_box.setEditText(str(ladder["F16"]))
    quant.show_model(str(ladder["F16"]))
    wait_until(lambda: quant.recommendation is not None and quant.measured is not None
               and quant.recommendation.model == str(ladder["F16"]))
    shoot("which-quant-measured")
    window.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
