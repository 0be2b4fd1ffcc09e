"""Vector stores behind one interface (``base.VectorStore``): FAISS in the version folder (default)
or Milvus (``QA_VECTOR_STORE=milvus``). ``IndexStore`` builds, opens and retires them through the
three functions here, so nothing else needs to know which one holds the vectors."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from qa.store.vectors.base import (STORES, ChunkMeta, Drift, VectorConfig, VectorSource, VectorStore,
                                   VectorStoreError, VectorStoreUnavailable, chunk_key, chunk_keys, chunk_metas,
                                   day_number)

__all__ = ["STORES", "ChunkMeta", "Drift", "VectorConfig", "VectorSource", "VectorStore", "VectorStoreError",
           "VectorStoreUnavailable", "build_store", "chunk_key", "chunk_keys", "chunk_metas", "day_number",
           "open_store", "retire_previous"]

FAISS_ENTRY = {"store": "faiss", "file": "dense.faiss", "factory": "Flat", "search": {}}  # indexes from before stores


def build_store(config: VectorConfig, root: Path, source: VectorSource, previous: dict | None) -> VectorStore:
    """The configured store filled with a new version's rows (``previous``: the replaced version's entry)."""
    if config.store == "milvus":
        from qa.store.vectors.milvus_store import MilvusVectorStore

        return MilvusVectorStore.build(config, root, source, previous)
    from qa.store.vectors.faiss_store import FaissVectorStore

    return FaissVectorStore.build(config, source)


def open_store(version: Path, entry: dict | None, config: VectorConfig | None, keys: np.ndarray,
               metadata: Sequence[ChunkMeta]) -> VectorStore:
    """The store a version recorded (a manifest without an entry is an exact FAISS index)."""
    entry = entry or FAISS_ENTRY
    kind = entry.get("store", "faiss")
    if kind == "milvus":
        from qa.store.vectors.milvus_store import MilvusVectorStore

        return MilvusVectorStore.open(version.parent, entry, config)
    if kind != "faiss":
        raise VectorStoreError(f"{version.name} was written with the {kind!r} vector store, which this version "
                               "of qa does not know")
    from qa.store.vectors.faiss_store import FaissVectorStore

    return FaissVectorStore.open(version / entry.get("file", "dense.faiss"), entry, config, keys, metadata)


def retire_previous(previous: dict | None, current: VectorStore, root: Path, config: VectorConfig) -> None:
    """After the switch: drop a Milvus collection only the replaced version used (best effort)."""
    if not previous or previous.get("store") != "milvus":
        return
    from qa.store.vectors.milvus_store import retire

    retire(previous, root, config, keep=getattr(current, "place", None))

