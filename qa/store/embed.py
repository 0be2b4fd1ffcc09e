"""Dense embeddings with all-MiniLM-L6-v2, normalised for cosine search.

Three runtimes give the same model (README "Speed" has the measurements):

``auto`` (the default) picks ``onnx-int8`` on a CPU with int8 dot-product instructions (VNNI) and
``onnx`` on one without; ``Pipeline`` makes it follow an existing index's precision.

- ``onnx-int8``: the model exported to ONNX, int8 weights, run by ONNX Runtime with the
  mean pooling and normalisation of its sentence-transformers config. About 3.5x faster than
  sentence-transformers on 2 cores (AVX-512 VNNI); vectors at cosine >= 0.98 to fp32, with the same
  recall (README "Speed"). It is a different index: its fingerprint says int8, switching rebuilds.
- ``onnx``: the same at fp32. Vectors agree with sentence-transformers' to ~1e-6, so an index built
  either way is the same index; about 2x faster.
- ``torch``: sentence-transformers itself, the reference path.

Texts are tokenized once and run one per call on ONNX Runtime (no padding; see ``_OnnxEncoder``).
"""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path
from typing import Any

import numpy as np

from qa.util.onnx import EMBED_RUNTIMES, EmbedRuntime, Runtime, auto_embed_runtime, check_runtime, load_model

log = logging.getLogger(__name__)

# Kept fp32 in the int8 embedder: none. bench/indexing_speed.py: finding each of 300 BBC articles
# from its second sentence (dense recall@5) is 0.917 all-int8 vs 0.910 fp32. In a probe on the same
# chunks, keeping the six feed-forward outputs fp32 cost 19% of the embedding speed and changed
# that recall by less than the int8/fp32 gap.
EMBED_FP32_NODES: tuple[str, ...] = ()


class Embedder:
    """Encodes texts to unit vectors; the model loads on first use (or ``warm_up``), from disk only."""

    def __init__(self, model_path: str, batch_size: int = 64, device: str = "cpu", runtime: EmbedRuntime = "auto",
                 threads: int | None = None) -> None:
        self.model_path = model_path
        self.batch_size = batch_size
        self.device = device
        runtime = check_runtime(runtime, EMBED_RUNTIMES)
        # auto: int8 where the CPU is fast at it
        self.runtime: Runtime = auto_embed_runtime() if runtime == "auto" else runtime
        self.threads = threads
        self._model: Any = None  # a SentenceTransformer (torch) or an _OnnxEncoder

    @property
    def model(self) -> Any:
        if self._model is None:
            log.info("loading embedder from %s (%s)", self.model_path, self.runtime)
            self._model = load_model(self.runtime, self.model_path, onnx=self._load_onnx, torch=self._load_torch)
        return self._model

    def _load_onnx(self, path: Path, int8: bool) -> Any:
        return _OnnxEncoder.load(path, int8=int8, threads=self.threads)

    def _load_torch(self, path: str, int8: bool) -> Any:
        """sentence-transformers itself (fp32: the embedder has no torch int8)."""
        from sentence_transformers import SentenceTransformer

        return SentenceTransformer(self.model_path, device=self.device, local_files_only=True)

    def warm_up(self) -> None:
        """Load the model now, so the first batch (or question) does not pay for it."""
        _ = self.model

    @property
    def dim(self) -> int:
        return int(self.model.get_embedding_dimension())

    def fingerprint(self) -> str:
        """Identifies the model's weights and config (and int8), so an index built with another is detected."""
        suffix = "+int8" if self.runtime == "onnx-int8" else ""
        path = Path(self.model_path)
        if not path.is_dir():
            return self.model_path + suffix
        h = hashlib.sha256()
        for name in ("config.json", "modules.json", "sentence_bert_config.json", "1_Pooling/config.json"):
            f = path / name
            if f.exists():
                h.update(f.read_bytes())
        for f in sorted(path.glob("*.safetensors")) + sorted(path.glob("*.bin")):
            h.update(f"{f.name}:{f.stat().st_size}".encode())
        name = "sentence-transformers/all-MiniLM-L6-v2"
        cfg = path / "config.json"
        if cfg.exists():
            name = json.loads(cfg.read_text()).get("_name_or_path", name) or name
        return f"{name}@{h.hexdigest()[:16]}{suffix}"

    def encode(self, texts: list[str], progress: bool = False) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        vecs = self.model.encode(
            texts,
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=progress,
        )
        return np.ascontiguousarray(vecs, dtype=np.float32)


class _OnnxEncoder:
    """A sentence-transformers model (Transformer → Pooling → Normalize) run by ONNX Runtime.

    Hand-written rather than sentence-transformers' ``backend="onnx"`` (it needs optimum, which
    pins transformers < 5); only the pooling modes of the config are supported, others refuse.
    """

    def __init__(self, session: Any, tokenizer: Any, max_length: int, pooling: str, dim: int,
                 normalize: bool, rows_per_call: int | None = None) -> None:
        self.session = session
        self.rows_per_call = rows_per_call  # None: the caller's batch size
        self.tokenizer = tokenizer
        self.max_length = max_length
        self.pooling = pooling
        self.dim = dim
        self.normalize = normalize
        self.inputs = {i.name for i in session.get_inputs()}

    @classmethod
    def load(cls, path: Path, int8: bool, threads: int | None = None) -> _OnnxEncoder:
        from qa.util.onnx import cached_model, session
        from qa.util.tokenize import load_tokenizer

        modules = json.loads((path / "modules.json").read_text()) if (path / "modules.json").exists() else []
        types = [m.get("type", "") for m in modules]
        pool_cfg = path / "1_Pooling" / "config.json"
        pool = json.loads(pool_cfg.read_text()) if pool_cfg.exists() else {"pooling_mode_mean_tokens": True}
        modes = [k for k, v in pool.items() if k.startswith("pooling_mode_") and v]
        if modes not in (["pooling_mode_mean_tokens"], ["pooling_mode_cls_token"]) or len(types) > 3:
            raise ValueError(f"{path}: the onnx runtime supports mean or CLS pooling with optional normalisation "
                             f"(this model has {', '.join(modes) or 'no pooling'}); use QA_EMBED_RUNTIME=torch")
        cfg = path / "sentence_bert_config.json"
        max_length = int(json.loads(cfg.read_text()).get("max_seq_length", 256)) if cfg.exists() else 256

        def export(out: Path) -> None:
            import torch
            from transformers import AutoModel

            from qa.util.onnx import export_module

            model = AutoModel.from_pretrained(str(path), dtype=torch.float32).eval()
            names = ["input_ids", "attention_mask"] + (["token_type_ids"] if model.config.type_vocab_size > 1 else [])
            export_module(model, {n: torch.ones((1, 8), dtype=torch.long) for n in names}, ["last_hidden_state"], out)

        model = cached_model(path, "embedder", int8, export, EMBED_FP32_NODES)
        # One text per call. int8 quantizes activations with one scale per call, so a text batched with
        # others would get a vector that depends on them (up to 0.025 apart, measured); alone, each
        # vector is its own. And with no padding it is faster: 1,200 BBC chunks, chunks/s, one text
        # per call vs batches of 64 sorted by length: int8 179 vs 136, fp32 99 vs 79.
        return cls(session(model, threads), load_tokenizer(path), max_length,
                   "mean" if modes == ["pooling_mode_mean_tokens"] else "cls",
                   int(pool.get("word_embedding_dimension", 384)),
                   any(t.endswith("Normalize") for t in types), rows_per_call=1)

    def get_embedding_dimension(self) -> int:
        return self.dim

    def encode(self, texts: list[str], batch_size: int = 64, normalize_embeddings: bool = True,
               convert_to_numpy: bool = True, show_progress_bar: bool = False) -> np.ndarray:
        enc = self.tokenizer(list(texts), truncation=True, max_length=self.max_length, padding=False)
        ids = enc["input_ids"]
        order = sorted(range(len(ids)), key=lambda i: -len(ids[i]))  # length buckets: little padding
        out = np.zeros((len(ids), self.dim), dtype=np.float32)
        batch_size = self.rows_per_call or batch_size
        batches = range(0, len(order), batch_size)
        if show_progress_bar:
            from tqdm.auto import tqdm

            batches = tqdm(batches, desc="Batches")
        for b in batches:
            idx = order[b:b + batch_size]
            width = len(ids[idx[0]])
            tok = np.full((len(idx), width), self.tokenizer.pad_token_id or 0, dtype=np.int64)
            mask = np.zeros((len(idx), width), dtype=np.int64)
            for r, i in enumerate(idx):
                tok[r, :len(ids[i])] = ids[i]
                mask[r, :len(ids[i])] = 1
            feed = {"input_ids": tok, "attention_mask": mask}
            if "token_type_ids" in self.inputs:
                feed["token_type_ids"] = np.zeros_like(tok)
            hidden = self.session.run(None, feed)[0]
            if self.pooling == "mean":
                m = mask[..., None].astype(np.float32)
                vec = (hidden * m).sum(1) / np.maximum(m.sum(1), 1e-9)
            else:
                vec = hidden[:, 0]
            out[idx] = vec
        if self.normalize or normalize_embeddings:
            out /= np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)
        return out
