"""ONNX Runtime copies of our transformer models: exported once from the shipped weights, cached.

Why: on a 2-core CPU, ONNX Runtime runs MiniLM-L6 about 1.7-2.3x faster than torch at fp32 with
the same outputs, and its int8 kernels (per-channel weights, dynamic activations) are faster again
(1.6x for the reader, 1.8x for the embedder, with AVX-512 VNNI); see the README's "Speed" section
and ``bench/``. The weights that ship stay the safetensors ones; the ONNX files are derived from
them on first use (about 3 s, no network) and kept in a cache folder keyed by the source files'
content, the export recipe and the library versions, so a retrained model or a new onnxruntime
never meets a stale file.

sentence-transformers' own ONNX backend is not used because it needs ``optimum``, whose current
release pins transformers < 5.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal, TypeVar, get_args

from qa.util.atomic import atomic_write_text, publish

log = logging.getLogger(__name__)

EXPORT_RECIPE = "1"  # bump when export or quantization settings change: old cache files stop matching
OPSET = 17
Runtime = Literal["onnx-int8", "onnx", "torch", "torch-int8"]  # what runs a model: the reader may use each
EmbedRuntime = Literal["auto", "onnx-int8", "onnx", "torch"]  # the embedder's (torch: sentence-transformers itself)
RUNTIMES: tuple[Runtime, ...] = get_args(Runtime)
READER_RUNTIMES: tuple[str, ...] = ("auto", *RUNTIMES)  # what may be asked for the reader; auto: see auto_reader_runtime
EMBED_RUNTIMES: tuple[EmbedRuntime, ...] = get_args(EmbedRuntime)
INT8_DOT_FLAGS = ("avx512_vnni", "avx_vnni", "amx_int8")  # x86 instructions that make int8 matmuls fast
# Files we keep beside a model that change neither its graph nor its tokenizer: writing one (`qa
# train-calibrator`) must not cost a new export.
SIDECAR_FILES = frozenset({"reader.json", "verifier.json", "calibration.json"})


def check_runtime(name: str, allowed: tuple[str, ...] = RUNTIMES) -> str:
    """The runtime name normalised, or ValueError listing the allowed ones."""
    value = name.strip().lower()
    if value not in allowed:
        raise ValueError(f"unknown runtime {name!r}: expected one of {', '.join(allowed)}")
    return value


M = TypeVar("M")


def load_model(runtime: Runtime, path: str | Path, onnx: Callable[[Path, bool], M],
               torch: Callable[[str, bool], M]) -> M:
    """The one runtime dispatch for our models (as sentence-transformers' backend loader):
    ``onnx(folder, int8)`` for an ONNX runtime when ``path`` is a folder to export from, else
    ``torch(path, int8)`` (a torch runtime, or a hub name with nothing on disk to export)."""
    path = Path(path)
    if runtime.startswith("onnx") and path.is_dir():
        return onnx(path, runtime == "onnx-int8")
    return torch(str(path), runtime.endswith("int8"))


def cpu_flags() -> set[str] | None:
    """The x86 feature flags of /proc/cpuinfo; None where there are none to read (not Linux, or ARM)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            info = f.read()
    except OSError:
        return None
    if "flags" not in info:  # ARM's cpuinfo lists "Features" (asimddp is its int8 dot product)
        return None
    return set(info.split())


def fast_int8() -> bool:
    """Whether this CPU has int8 dot-product instructions (VNNI/AMX on x86; assumed elsewhere).

    Without them int8 is no gain for the embedder: an int8 ONNX MiniLM ran at 0.59x fp32
    sentence-transformers on an AVX2-only machine, against 4x here with AVX-512 VNNI.
    """
    flags = cpu_flags()
    if flags is None:
        return True  # not Linux, or ARM: ARM and recent x86 have int8 dot products
    return any(flag in flags for flag in INT8_DOT_FLAGS)


def auto_reader_runtime() -> Runtime:
    """``auto`` for the reader: int8 where the CPU has int8 dot products, else fp32 ONNX.

    On an AVX2-only CPU ONNX Runtime's int8 matmul saturates 16-bit sums: the int8 reader moved
    one shipped-reader margin by 1.26 and, with 7-bit weights instead, one answer by a word, so
    there the exact fp32 ONNX reader is the default: int8 only where it keeps the answers.
    """
    return "onnx-int8" if fast_int8() else "onnx"


def auto_embed_runtime(index_fingerprint: str | None = None) -> Runtime:
    """``auto``: the precision of the index when there is one (its vectors and the questions' must
    match), else int8 on a CPU with fast int8, fp32 ONNX on one without."""
    if index_fingerprint:
        return "onnx-int8" if index_fingerprint.endswith("+int8") else "onnx"
    return "onnx-int8" if fast_int8() else "onnx"


def cache_dir() -> Path:
    """Where exported models are kept: QA_MODEL_CACHE, else the user's cache folder (XDG)."""
    env = os.environ.get("QA_MODEL_CACHE")
    if env:
        return Path(env).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "qa-news" / "onnx"


def source_digest(model_dir: str | Path, kind: str, int8: bool, exclude: tuple[str, ...] = ()) -> str:
    """A key for one exported file: the model's config and weights, the recipe and the library versions.

    The weights' content is hashed once; after that a memo keyed by each file's path, size, mtime
    and inode gives the same key (make's and ccache's trust in a file's stat), because hashing the
    ~130 MB of both models took ~0.2 s of every cold ``qa ask``. Any edit, copy or checkout of a
    file changes its stat, so it is hashed again.
    """
    from importlib.metadata import version  # not `import torch`: answering on ONNX never loads torch

    head = (f"{kind}|{int8}|{EXPORT_RECIPE}|{OPSET}|{exclude}|{version('onnxruntime')}|"
            f"{version('torch')}").encode()
    path = Path(model_dir)
    files = sorted(f for f in path.glob("*.json") if f.name not in SIDECAR_FILES)
    files += sorted(path.glob("*.safetensors")) + sorted(path.glob("*.bin"))
    by_stat = hashlib.sha256(head)
    for f in files:
        st = f.stat()
        by_stat.update(f"|{f.resolve()}|{st.st_size}|{st.st_mtime_ns}|{st.st_ino}".encode())
    memo = cache_dir() / "digests" / by_stat.hexdigest()[:32]
    try:
        known = memo.read_text(encoding="ascii").strip()
        if len(known) == 20 and all(c in "0123456789abcdef" for c in known):
            return known
    except (OSError, UnicodeDecodeError):
        pass
    h = hashlib.sha256(head)
    for f in files:
        h.update(f.name.encode())
        with open(f, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                h.update(block)
    digest = h.hexdigest()[:20]
    try:  # a memo that cannot be written only costs the hash next time
        memo.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(memo, digest, encoding="ascii")
    except OSError:
        pass
    return digest


def cached_model(model_dir: str | Path, kind: str, int8: bool, export: Callable[[Path], None],
                 exclude: tuple[str, ...] = ()) -> Path | bytes:
    """The ONNX file for ``model_dir``: from the cache, else exported (and quantized) now.

    ``export(path)`` writes the fp32 graph. The result goes in the cache with an atomic rename,
    so concurrent first runs cannot see half a file. If the cache cannot be written (read-only
    home, full disk) the model is built in a temporary folder and returned as bytes: slower to
    start every time, but it still answers.
    """
    digest = source_digest(model_dir, kind, int8, exclude)
    name = f"{kind}-{digest}{'-int8' if int8 else ''}.onnx"
    target = cache_dir() / name
    if target.exists():
        return target
    log.info("exporting %s to ONNX%s (first use of this model; cached in %s)", kind,
             " int8" if int8 else "", target.parent)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=target.parent, prefix=".export-") as tmp:
            built = _build(Path(tmp), export, int8, exclude)
            publish(built, target)
        return target
    except OSError as exc:
        log.warning("cannot cache the ONNX model in %s (%s): building it in memory", target.parent, exc)
        with tempfile.TemporaryDirectory(prefix="qa-onnx-") as tmp:
            return _build(Path(tmp), export, int8, exclude).read_bytes()


def _build(folder: Path, export: Callable[[Path], None], int8: bool, exclude: tuple[str, ...]) -> Path:
    fp32 = folder / "model.onnx"
    export(fp32)
    if not int8:
        return fp32
    out = folder / "model.int8.onnx"
    quantize(fp32, out, exclude)
    return out


def quantize(src: Path, dst: Path, exclude: tuple[str, ...] = ()) -> None:
    """Dynamic int8: per-channel int8 weights of the weight matmuls, activations quantized per batch.

    Matmuls between two activations (attention scores) stay fp32 (``MatMulConstBOnly``); nodes whose
    name contains one of ``exclude`` stay fp32 too (the measured accuracy/speed trade-off).
    """
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    names = [n.name for n in onnx.load(str(src), load_external_data=False).graph.node if n.op_type == "MatMul"]
    skip = [n for n in names if any(part in n for part in exclude)]
    quiet = _DropAdvice()
    logging.getLogger().addFilter(quiet)  # onnxruntime logs "run pre-processing" advice on the root logger
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            quantize_dynamic(str(src), str(dst), weight_type=QuantType.QInt8, per_channel=True,
                             nodes_to_exclude=skip, extra_options={"MatMulConstBOnly": True})
    finally:
        logging.getLogger().removeFilter(quiet)


class _DropAdvice(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return "pre-processing" not in record.getMessage()


def export_module(module: Any, inputs: dict[str, Any], outputs: list[str], path: Path) -> None:
    """torch → ONNX with dynamic batch and sequence axes, inputs passed by name."""
    import torch

    names = list(inputs)

    class ByName(torch.nn.Module):  # transformers' forward() takes these by keyword only
        def __init__(self, inner: Any) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, *args: Any) -> Any:
            out = self.inner(**dict(zip(names, args)))
            return tuple(out[k] for k in outputs)

    axes = {n: {0: "batch", 1: "tokens"} for n in names + outputs}
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        torch.onnx.export(ByName(module).eval(), tuple(inputs[n] for n in names), str(path), input_names=names,
                          output_names=outputs, dynamic_axes=axes, opset_version=OPSET, dynamo=False)


def session(model: Path | bytes, threads: int | None = None) -> Any:
    """An ONNX Runtime CPU session using ``threads`` cores (default: all), one op at a time."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads or (os.cpu_count() or 1)
    opts.inter_op_num_threads = 1
    opts.log_severity_level = 3
    return ort.InferenceSession(model if isinstance(model, bytes) else str(model), opts,
                                providers=["CPUExecutionProvider"])
