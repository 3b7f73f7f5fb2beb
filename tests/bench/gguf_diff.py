"""Compare two GGUF files: tensor names, shapes, types and bytes, and every metadata key's value.

Used by bench_convert.py to check QuantDesk's output against llama.cpp's own converter. Keys under
general.* describe the file (name, license...) and don't affect inference; they are reported apart.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import gguf
import numpy as np

_FILE_KEYS = ("GGUF.", "general.")


def _value(field: Any) -> Any:
    try:
        value = field.contents()
    except Exception:  # gguf can't render some arrays; compare the raw parts instead
        value = [bytes(p) for p in field.parts]
    if isinstance(value, float):
        return float(np.float32(value))
    if isinstance(value, list):
        return [float(np.float32(v)) if isinstance(v, float) else v for v in value]
    return value


def diff_gguf(ours: Path, theirs: Path) -> dict[str, list[str]]:
    a, b = gguf.GGUFReader(ours), gguf.GGUFReader(theirs)
    report: dict[str, list[str]] = {"inference_keys": [], "file_keys": [], "tensors": []}
    for key in sorted(set(a.fields) | set(b.fields)):
        bucket = "file_keys" if key.startswith(_FILE_KEYS) else "inference_keys"
        if key not in a.fields or key not in b.fields:
            report[bucket].append(f"{key}: only in {'ours' if key in a.fields else 'theirs'}")
        elif _value(a.fields[key]) != _value(b.fields[key]):
            report[bucket].append(
                f"{key}: ours {str(_value(a.fields[key]))[:60]!r} theirs {str(_value(b.fields[key]))[:60]!r}"
            )
    ta = {t.name: t for t in a.tensors}
    tb = {t.name: t for t in b.tensors}
    for name in sorted(set(ta) | set(tb)):
        if name not in ta or name not in tb:
            report["tensors"].append(f"{name}: only in {'ours' if name in ta else 'theirs'}")
            continue
        x, y = ta[name], tb[name]
        if list(x.shape) != list(y.shape) or x.tensor_type != y.tensor_type:
            report["tensors"].append(
                f"{name}: ours {x.tensor_type.name}{list(x.shape)} theirs {y.tensor_type.name}{list(y.shape)}"
            )
        elif not np.array_equal(np.asarray(x.data).view(np.uint8), np.asarray(y.data).view(np.uint8)):
            report["tensors"].append(f"{name}: data differs")
    return report


if __name__ == "__main__":
    result = diff_gguf(Path(sys.argv[1]), Path(sys.argv[2]))
    for section, lines in result.items():
        print(f"{section}: {'identical' if not lines else len(lines)}")
        for line in lines:
            print("  " + line)
