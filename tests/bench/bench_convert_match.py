"""Check QuantDesk's converter against llama.cpp's convert_hf_to_gguf.py, file for file.

For every family's tiny folder (tests/fixtures/tiny_hf.py) and every output type, and for the starter model
rebuilt as a Hugging Face folder (real weights), convert with both and diff the GGUF files: tensor names,
shapes, types and bytes, and every metadata key. Needs a Python with torch + transformers for llama.cpp's
script (see docs/benchmarks-convert.md); prints one line per case.

    .venv/bin/python tests/bench/bench_convert_match.py --reference /path/to/convert_hf_to_gguf.py \
        --reference-python /path/to/venv/bin/python [--work /tmp/convert-match]

The tiny BPE tokenizers are trained here, so llama.cpp's fingerprint table doesn't know them and its
converter would refuse them; it is told the pre-tokenizer name QuantDesk derived from the definition.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from app.core.convert.converter import convert_model  # noqa: E402
from app.core.models.library import starter_model_path  # noqa: E402
from tests.bench.bench_convert import _REFERENCE_WRAPPER  # noqa: E402
from tests.bench.gguf_diff import diff_gguf  # noqa: E402
from tests.fixtures.starter_hf import build_starter_hf_folder  # noqa: E402
from tests.fixtures.tiny_hf import SPECS, build_tiny_folder  # noqa: E402

# the pre-tokenizer name for the trained BPE fixtures (None: SentencePiece, nothing to tell)
_PRE = {"llama3": "llama-bpe", "qwen2": "qwen2", "qwen3": "qwen2"}


def reference(args: argparse.Namespace, folder: Path, out: Path, outtype: str, pre: str | None) -> None:
    script = [str(args.reference)] if pre is None else ["-c", _REFERENCE_WRAPPER, str(args.reference), pre]
    run = subprocess.run(
        [args.reference_python, *script, str(folder), "--outfile", str(out), "--outtype", outtype],
        capture_output=True,
        text=True,
    )
    if run.returncode != 0:
        raise SystemExit(f"llama.cpp's converter failed on {folder}:\n{run.stderr[-3000:]}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--work", type=Path, default=Path("/tmp/convert-match"))
    parser.add_argument("--reference", type=Path, required=True)
    parser.add_argument("--reference-python", required=True)
    args = parser.parse_args()
    cases: list[tuple[str, Path, str, str | None]] = []
    for family in SPECS:
        folder = build_tiny_folder(family, args.work / family)
        cases += [(family, folder, outtype, _PRE.get(family)) for outtype in ("f32", "f16", "bf16", "q8_0")]
    starter = args.work / "SmolLM2-135M-Instruct"
    build_starter_hf_folder(starter_model_path(), starter)
    cases.append(("starter (real weights)", starter, "f32", None))
    failures = 0
    for name, folder, outtype, pre in cases:
        ours, theirs = (
            args.work / f"{folder.name}.{outtype}.ours.gguf",
            args.work / f"{folder.name}.{outtype}.ref.gguf",
        )
        convert_model(folder, ours, outtype)
        reference(args, folder, theirs, outtype, pre)
        report = diff_gguf(ours, theirs)
        differences = [line for lines in report.values() for line in lines]
        failures += bool(differences)
        print(f"{name:24} {outtype:5} {differences or 'identical'}")
    print(f"{len(cases) - failures} identical, {failures} different")


if __name__ == "__main__":
    main()
