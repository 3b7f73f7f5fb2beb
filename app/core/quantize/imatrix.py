"""The importance matrix: what it holds, and reading and writing it in llama.cpp's file formats.

For every weight matrix W that multiplies activations x (y = W·x), llama.cpp's imatrix tool sums x_j²
over the calibration tokens for each input column j, and counts the tokens. The quantizer then weighs its
rounding error per column by the mean x_j²: columns that carry large activations are rounded more carefully.

Files (format learned from llama.cpp's tools/imatrix and common/imatrix-loader; no code copied):
- GGUF (current): general.type = "imatrix", `imatrix.datasets` (strings), `imatrix.chunk_count`,
  `imatrix.chunk_size` (u32); per weight `<name>.in_sum2` (F32, n_cols × n_matrices) and `<name>.counts`
  (F32, 1 × n_matrices). No architecture key.
- legacy .dat: int32 n_entries; per entry int32 name length, name, int32 ncall, int32 n_values,
  float32 values (already divided by the count and multiplied by ncall); then int32 last chunk and
  int32 length + dataset name.
What the quantizer wants per weight is the mean: in_sum2 / counts per matrix (`normalized`).
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from app.core.disk import partial_path
from app.core.errors import InvalidModelFileError


@dataclass
class ImatrixEntry:
    sums: np.ndarray  # float32, n_matrices × n_cols: Σ x_j² over the tokens that went through the matrix
    counts: np.ndarray  # float32, n_matrices: how many tokens

    def mean(self) -> np.ndarray:
        """Σx²/count per matrix, flattened the way the quantizer reads it (1.0 where nothing was seen)."""
        sums = self.sums.reshape(len(self.counts), -1)
        out = np.ones_like(sums, dtype=np.float32)
        seen = self.counts > 0
        out[seen] = sums[seen] / self.counts[seen, None]
        return out.reshape(-1)


@dataclass
class ImportanceMatrix:
    entries: dict[str, ImatrixEntry] = field(default_factory=dict)
    datasets: list[str] = field(default_factory=list)
    chunk_count: int = 0
    chunk_size: int = 0

    def normalized(self) -> dict[str, np.ndarray]:
        """Weight name → mean squared activation per input column: what llama_model_quantize takes."""
        return {name: entry.mean() for name, entry in self.entries.items()}

    def save(self, path: Path) -> Path:
        """Write the GGUF imatrix format (llama-quantize --imatrix reads it too), via a temporary name."""
        import gguf

        path = Path(path)
        tmp = partial_path(path)
        writer = gguf.GGUFWriter(tmp, arch="")
        writer.kv_data[0].pop("general.architecture", None)  # imatrix files carry no architecture
        writer.add_type("imatrix")
        writer.add_array("imatrix.datasets", list(self.datasets))
        writer.add_uint32("imatrix.chunk_count", self.chunk_count)
        writer.add_uint32("imatrix.chunk_size", self.chunk_size)
        for name in sorted(self.entries):
            entry = self.entries[name]
            n_mat = len(entry.counts)
            writer.add_tensor(f"{name}.in_sum2", entry.sums.reshape(n_mat, -1).astype(np.float32))
            writer.add_tensor(f"{name}.counts", entry.counts.reshape(n_mat, 1).astype(np.float32))
        try:
            writer.write_header_to_file()
            writer.write_kv_data_to_file()
            writer.write_tensors_to_file()
            writer.close()
            os.replace(tmp, path)
        finally:
            writer.close()
            tmp.unlink(missing_ok=True)
        return path


def load_imatrix(path: Path) -> ImportanceMatrix:
    """Read an imatrix file in either format; InvalidModelFileError in plain words when it is neither."""
    path = Path(path)
    if not path.is_file():
        raise InvalidModelFileError(f"There is no importance matrix file at {path}.", f"not a file: {path}")
    with path.open("rb") as f:
        magic = f.read(4)
    try:
        return _load_gguf(path) if magic == b"GGUF" else _load_legacy(path)
    except InvalidModelFileError:
        raise
    except Exception as error:
        raise InvalidModelFileError(
            f"{path.name} is not an importance matrix file QuantDesk can read.",
            f"{type(error).__name__}: {error}",
        ) from error


def _load_gguf(path: Path) -> ImportanceMatrix:
    import gguf

    reader = gguf.GGUFReader(path)
    tensors = {t.name: t for t in reader.tensors}
    matrix = ImportanceMatrix()
    for name, tensor in tensors.items():
        if not name.endswith(".in_sum2"):
            continue
        weight = name.removesuffix(".in_sum2")
        counts = tensors.get(f"{weight}.counts")
        if counts is None:
            raise InvalidModelFileError(f"{path.name} is missing the token counts for {weight}.",
                                        f"no tensor {weight}.counts")
        matrix.entries[weight] = ImatrixEntry(np.array(tensor.data, dtype=np.float32).reshape(-1),
                                              np.array(counts.data, dtype=np.float32).reshape(-1))
    if not matrix.entries:
        raise InvalidModelFileError(f"{path.name} holds no importance data.", "no *.in_sum2 tensors")
    fields = reader.fields
    if "imatrix.datasets" in fields:
        matrix.datasets = [str(s) for s in fields["imatrix.datasets"].contents()]
    if "imatrix.chunk_count" in fields:
        matrix.chunk_count = int(fields["imatrix.chunk_count"].contents())
    if "imatrix.chunk_size" in fields:
        matrix.chunk_size = int(fields["imatrix.chunk_size"].contents())
    return matrix


def _load_legacy(path: Path) -> ImportanceMatrix:
    data = path.read_bytes()
    pos = 0

    def take(fmt: str) -> tuple[int, ...]:
        nonlocal pos
        values = struct.unpack_from(fmt, data, pos)
        pos += struct.calcsize(fmt)
        return values

    (n_entries,) = take("<i")
    if not 0 < n_entries < 1_000_000:
        raise InvalidModelFileError(f"{path.name} is not an importance matrix file.",
                                    f"legacy header: {n_entries} entries")
    matrix = ImportanceMatrix()
    for _ in range(n_entries):
        (name_len,) = take("<i")
        name = data[pos:pos + name_len].decode()
        pos += name_len
        ncall, n_values = take("<ii")
        values = np.frombuffer(data, dtype="<f4", count=n_values, offset=pos).astype(np.float32)
        pos += 4 * n_values
        # stored as mean × ncall: keep it as a sum over ncall "tokens" so mean() gives the stored mean
        matrix.entries[name] = ImatrixEntry(values.copy(), np.array([max(ncall, 1)], dtype=np.float32))
    if pos + 4 <= len(data):
        (matrix.chunk_count,) = take("<i")
        if pos + 4 <= len(data):
            (name_len,) = take("<i")
            matrix.datasets = [data[pos:pos + name_len].decode(errors="replace")]
    return matrix
