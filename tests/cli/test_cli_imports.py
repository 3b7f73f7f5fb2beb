"""The command line reads its arguments without gguf-py, numpy, uvicorn or Starlette: each command imports what it
needs when it runs. Building the parser used to import every command's whole stack, which made even
`quantdesk --version` take 0.7–0.9 s here and `hardware` fail on a machine without the API server's packages."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

PROBE = """
import sys
from app.__main__ import build_parser
args = build_parser().parse_args(["convert", "folder", "out.gguf", "--outtype", "q8_0"])
assert args.outtype == "q8_0"
print(sorted(m for m in ("gguf", "numpy", "uvicorn", "starlette") if m in sys.modules))
"""


def test_the_parser_is_built_without_the_heavy_libraries(tmp_path: Path) -> None:
    env = {**os.environ, "QUANTDESK_DATA_DIR": str(tmp_path)}
    out = subprocess.run([sys.executable, "-c", PROBE], cwd=ROOT, env=env, capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().splitlines()[-1] == "[]", out.stdout


def test_the_convert_choices_are_the_converters_own() -> None:
    from app.core.convert.supported import OUTTYPE_NAMES
    from app.core.convert.writer import OUTTYPES

    assert set(OUTTYPE_NAMES) == set(OUTTYPES)
