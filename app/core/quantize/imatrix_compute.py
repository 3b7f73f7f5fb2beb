"""Compute an importance matrix in the app: run a calibration text through the model and watch its matmuls.

llama.cpp's scheduler can call back for every node of the compute graph (context param `cb_eval`): first
asking (ask=True) whether we want the node's data, then, once computed, handing it over. Like llama.cpp's
imatrix tool (tools/imatrix, read for its behaviour, not copied), we ask for the matrix multiplications
whose first operand is a layer weight (`blk.*`), and add up, per input column, the squares of the second
operand (the activations going into that weight), counting the tokens. Batches of fewer than 16 tokens are
skipped, as there; so is the output layer. Mixture-of-experts matmuls (MUL_MAT_ID) are not collected.

The callback reads `struct ggml_tensor` through ctypes. Its layout is ggml's public header (ggml.h); it is
checked at the first call against ggml's own accessors (ggml_get_name, ggml_nbytes), so a build with a
different layout fails with a clear message instead of reading garbage.
"""

from __future__ import annotations

import ctypes
import os
from pathlib import Path
from typing import Any

import numpy as np

from app.core.errors import ImatrixError, QuantDeskError
from app.core.llama_log import LlamaLogCapture
from app.core.paths import resources_dir
from app.core.progress import CancelToken, ProgressCallback, check_cancelled, no_progress
from app.core.quantize.imatrix import ImatrixEntry, ImportanceMatrix

CALIBRATION_DIR = resources_dir() / "calibration"
MIN_BATCH_TOKENS = 16  # llama-imatrix ignores smaller batches too
_GGML_MAX_DIMS, _GGML_MAX_OP_PARAMS, _GGML_MAX_SRC, _GGML_MAX_NAME = 4, 64, 10, 64
_GGML_TYPE_F32 = 0


# `struct ggml_tensor` from ggml.h (ggml 0.9.x, as shipped in llama-cpp-python 0.3.36). Declared in two
# steps because its `src` field points at its own type.
class GgmlTensor(ctypes.Structure):
    pass


GgmlTensor._fields_ = [
    ("type", ctypes.c_int),
    ("buffer", ctypes.c_void_p),
    ("ne", ctypes.c_int64 * _GGML_MAX_DIMS),
    ("nb", ctypes.c_size_t * _GGML_MAX_DIMS),
    ("op", ctypes.c_int),
    ("op_params", ctypes.c_int32 * (_GGML_MAX_OP_PARAMS // 4)),
    ("flags", ctypes.c_int32),
    ("src", ctypes.POINTER(GgmlTensor) * _GGML_MAX_SRC),
    ("view_src", ctypes.POINTER(GgmlTensor)),
    ("view_offs", ctypes.c_size_t),
    ("data", ctypes.c_void_p),
    ("name", ctypes.c_char * _GGML_MAX_NAME),
    ("extra", ctypes.c_void_p),
    ("padding", ctypes.c_char * 8),
]


def _ggml() -> ctypes.CDLL:
    """libggml-base from the bindings' own folder: the accessors the layout check and GPU copies need."""
    import llama_cpp

    folder = Path(llama_cpp.__file__).parent / "lib"
    candidates = sorted(folder.glob("libggml-base.*")) + sorted(folder.glob("ggml-base.*"))
    lib = ctypes.CDLL(str(candidates[0])) if candidates else ctypes.CDLL("libggml-base.so")
    lib.ggml_op_name.restype = ctypes.c_char_p
    lib.ggml_op_name.argtypes = [ctypes.c_int]
    lib.ggml_get_name.restype = ctypes.c_void_p
    lib.ggml_get_name.argtypes = [ctypes.c_void_p]
    lib.ggml_nbytes.restype = ctypes.c_size_t
    lib.ggml_nbytes.argtypes = [ctypes.c_void_p]
    lib.ggml_backend_buffer_is_host.restype = ctypes.c_bool
    lib.ggml_backend_buffer_is_host.argtypes = [ctypes.c_void_p]
    lib.ggml_backend_tensor_get.restype = None
    lib.ggml_backend_tensor_get.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t,
                                            ctypes.c_size_t]
    return lib


class ActivationCollector:
    """The eval callback: sums of squared matmul inputs per weight, as llama-imatrix collects them."""

    def __init__(self) -> None:
        self.lib = _ggml()
        self.sums: dict[str, np.ndarray] = {}
        self.counts: dict[str, int] = {}
        self._op_names: dict[int, str] = {}
        self._layout_checked = False
        self.error: QuantDeskError | None = None
        self.callback = self._make_callback()

    def _op_name(self, op: int) -> str:
        name = self._op_names.get(op)
        if name is None:
            raw = self.lib.ggml_op_name(op)
            name = raw.decode() if raw else ""
            self._op_names[op] = name
        return name

    def _check_layout(self, address: int, tensor: GgmlTensor) -> None:
        name_at = self.lib.ggml_get_name(address) - address
        computed = tensor.nb[3] * tensor.ne[3]
        if name_at != GgmlTensor.name.offset or self.lib.ggml_nbytes(address) != computed:
            raise ImatrixError(
                "This build of llama.cpp lays out its tensors differently from what QuantDesk knows, so it "
                "cannot compute an importance matrix with it.",
                f"ggml_tensor.name at {name_at} (expected {GgmlTensor.name.offset}); "
                f"ggml_nbytes {self.lib.ggml_nbytes(address)} vs ne/nb {computed}",
            )
        self._layout_checked = True

    def _make_callback(self) -> Any:
        import llama_cpp

        @llama_cpp.ggml_backend_sched_eval_callback
        def callback(address: int, ask: bool, user_data: int) -> bool:
            try:
                return self._on_tensor(address, ask)
            except QuantDeskError as error:  # never raise through C: remember it, stop the graph
                self.error = error
                return False
            except Exception as error:
                self.error = ImatrixError("Collecting the importance data failed.", repr(error))
                return False

        return callback

    def _on_tensor(self, address: int, ask: bool) -> bool:
        tensor = GgmlTensor.from_address(address)
        if not self._layout_checked:
            self._check_layout(address, tensor)
        if self._op_name(tensor.op) != "MUL_MAT":
            return not ask  # not ours: say no when asked; (never called with data for it)
        src0, src1 = tensor.src[0], tensor.src[1]
        if not src0 or not src1:
            return not ask
        weight = src0.contents.name.decode(errors="replace").split("#", 1)[0]
        x = src1.contents
        if ask:
            return weight.startswith("blk.") and x.type == _GGML_TYPE_F32 and x.ne[1] >= MIN_BATCH_TOKENS
        rows = self._rows(ctypes.addressof(x), x)
        squares = np.einsum("ij,ij->j", rows, rows, dtype=np.float64)
        total = self.sums.get(weight)
        if total is None:
            self.sums[weight] = squares
            self.counts[weight] = rows.shape[0]
        elif total.shape == squares.shape:
            total += squares
            self.counts[weight] += rows.shape[0]
        return True

    def _rows(self, address: int, x: GgmlTensor) -> np.ndarray:
        """src1 as a (tokens, columns) float32 array, copied off the GPU when it lives there."""
        ne, nb = list(x.ne), list(x.nb)
        if x.buffer and not self.lib.ggml_backend_buffer_is_host(x.buffer):
            nbytes = self.lib.ggml_nbytes(address)
            host = np.empty(nbytes, dtype=np.uint8)
            self.lib.ggml_backend_tensor_get(address, host.ctypes.data, 0, nbytes)
            base = host
        else:
            nbytes = self.lib.ggml_nbytes(address)
            base = np.ctypeslib.as_array(ctypes.cast(x.data, ctypes.POINTER(ctypes.c_uint8)), shape=(nbytes,))
        view = np.lib.stride_tricks.as_strided(
            base.view(np.uint8), shape=(ne[3], ne[2], ne[1], ne[0] * 4), strides=(nb[3], nb[2], nb[1], 1),
            writeable=False)
        return np.ascontiguousarray(view).view(np.float32).reshape(-1, ne[0])

    def to_matrix(self, chunk_count: int, chunk_size: int, dataset: str) -> ImportanceMatrix:
        entries = {name: ImatrixEntry(self.sums[name].astype(np.float32),
                                      np.array([self.counts[name]], dtype=np.float32))
                   for name in sorted(self.sums)}
        return ImportanceMatrix(entries, [dataset], chunk_count, chunk_size)


def default_calibration_text() -> Path:
    """The calibration text QuantDesk ships (varied English prose written for the project)."""
    return CALIBRATION_DIR / "general-en.txt"


def compute_imatrix(
    model_path: Path,
    text_path: Path | None = None,
    out_path: Path | None = None,
    n_ctx: int = 512,
    threads: int | None = None,
    on_progress: ProgressCallback = no_progress,
    cancel: CancelToken | None = None,
) -> Path | ImportanceMatrix:
    """Run `text_path` (default: the shipped calibration text) through `model_path` in chunks of n_ctx tokens.

    Returns the ImportanceMatrix, or writes it (GGUF imatrix format) to `out_path` and returns that path.
    Progress is (chunks done, chunks). Each chunk starts from an empty cache and, when the model wants a
    BOS token, has its first token replaced by BOS, as llama-imatrix does.
    """
    import llama_cpp as L

    text_path = Path(text_path) if text_path else default_calibration_text()
    try:
        text = text_path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise ImatrixError(f"The calibration text {text_path.name} could not be read as UTF-8 text.",
                           f"{type(error).__name__}: {error}") from error
    log = LlamaLogCapture(echo=False)
    log.install()
    L.llama_backend_init()
    model_params = L.llama_model_default_params()
    model = L.llama_model_load_from_file(os.fsencode(model_path), model_params)
    if not model:
        raise ImatrixError(f"{Path(model_path).name} could not be loaded to compute an importance matrix.",
                           "\n".join(log.problems_since(0)))
    collector = ActivationCollector()
    ctx = None
    batch = None
    try:
        vocab = L.llama_model_get_vocab(model)
        tokens = _tokenize(L, vocab, text)
        n_chunks = len(tokens) // n_ctx
        if n_chunks < 1:
            raise ImatrixError(
                f"The calibration text is too short: it has {len(tokens)} tokens and at least {n_ctx} "
                "are needed.",
                f"{text_path}: {len(tokens)} tokens, n_ctx {n_ctx}")
        ctx_params = L.llama_context_default_params()
        ctx_params.n_ctx = n_ctx
        ctx_params.n_batch = n_ctx
        ctx_params.n_ubatch = n_ctx
        if threads:
            ctx_params.n_threads = ctx_params.n_threads_batch = threads
        ctx_params.cb_eval = collector.callback
        ctx_params.cb_eval_user_data = None
        ctx = L.llama_init_from_model(model, ctx_params)
        if not ctx:
            raise ImatrixError("There was not enough memory to run the calibration text.",
                               "\n".join(log.problems_since(0)))
        add_bos = bool(L.llama_vocab_get_add_bos(vocab))
        bos = L.llama_vocab_bos(vocab)
        # Every position asks for logits, as in llama-imatrix: otherwise llama.cpp runs the last layer
        # on the final token only, and that layer's attention output and FFN would go unseen.
        batch = L.llama_batch_init(n_ctx, 0, 1)
        on_progress(0, n_chunks)
        for i in range(n_chunks):
            check_cancelled(cancel)
            chunk = tokens[i * n_ctx:(i + 1) * n_ctx]
            if add_bos:
                chunk[0] = bos
            L.llama_memory_clear(L.llama_get_memory(ctx), True)
            _fill_batch(batch, chunk)
            status = L.llama_decode(ctx, batch)
            if collector.error is not None:
                raise collector.error
            if status != 0:
                raise ImatrixError("llama.cpp could not run the calibration text.",
                                   f"llama_decode returned {status}\n" + "\n".join(log.problems_since(0)))
            on_progress(i + 1, n_chunks)
        if not collector.sums:
            raise ImatrixError("No importance data was collected from this model.",
                               "the eval callback saw no MUL_MAT on blk.* weights")
        matrix = collector.to_matrix(n_chunks, n_ctx, text_path.name)
    finally:
        if batch is not None:
            L.llama_batch_free(batch)
        if ctx:
            L.llama_free(ctx)
        L.llama_model_free(model)
    if out_path is None:
        return matrix
    return matrix.save(Path(out_path))


def _fill_batch(batch: Any, tokens: list[int]) -> None:
    for i, token in enumerate(tokens):
        batch.token[i] = token
        batch.pos[i] = i
        batch.n_seq_id[i] = 1
        batch.seq_id[i][0] = 0
        batch.logits[i] = True
    batch.n_tokens = len(tokens)


def _tokenize(L: Any, vocab: Any, text: str) -> list[int]:
    data = text.encode("utf-8")
    capacity = len(data) + 16
    buffer = (L.llama_token * capacity)()
    n = L.llama_tokenize(vocab, data, len(data), buffer, capacity, False, False)
    if n < 0:
        capacity = -n
        buffer = (L.llama_token * capacity)()
        n = L.llama_tokenize(vocab, data, len(data), buffer, capacity, False, False)
    return list(buffer[:n])
