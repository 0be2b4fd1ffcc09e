"""Dense embeddings with all-MiniLM-L6-v2 (sentence-transformers), normalised for cosine search."""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path
from typing import Any

import numpy as np

log = logging.getLogger(__name__)


class Embedder:
    """Encodes texts to unit vectors; the model loads on first use, from disk only."""

    def __init__(self, model_path: str, batch_size: int = 64, device: str = "cpu") -> None:
        self.model_path = model_path
        self.batch_size = batch_size
        self.device = device
        self._model: Any = None

    @property
    def model(self) -> Any:
        if self._model is None:
            from sentence_transformers import SentenceTransformer

            log.info("loading embedder from %s", self.model_path)
            self._model = SentenceTransformer(self.model_path, device=self.device, local_files_only=True)
        return self._model

    @property
    def dim(self) -> int:
        return int(self.model.get_embedding_dimension())

    def fingerprint(self) -> str:
        """Identifies the model's weights and config, so an index built with another is detected."""
        path = Path(self.model_path)
        if not path.is_dir():
            return self.model_path
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
        return f"{name}@{h.hexdigest()[:16]}"

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
