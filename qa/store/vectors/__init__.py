"""Vector stores behind one interface (``base.VectorStore``): FAISS in the version folder (default)
or Milvus (``QA_VECTOR_STORE=milvus``). ``IndexStore`` builds, opens, moves and retires them through the
functions here, and ``qa.config`` checks the vector settings with ``parse_setting``, so nothing
else needs to know which store holds the vectors or what it needs."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from qa.config import FAISS_INDEXES, VECTOR_STORES, VectorConfig
from qa.store.vectors.base import (ChunkMeta, Drift, UnreadableStore, VectorSource, VectorStore, VectorStoreError,
                                   VectorStoreUnavailable, choice, chunk_key, chunk_keys, chunk_metas, day_number)

__all__ = ["VECTOR_STORES", "ChunkMeta", "Drift", "UnreadableStore", "VectorConfig", "VectorSource", "VectorStore",
           "VectorStoreError", "VectorStoreUnavailable", "build_store", "chunk_key", "chunk_keys", "chunk_metas",
           "day_number", "open_store", "parse_setting", "retire_previous", "store_class", "vectors_moved"]

FAISS_ENTRY = {"store": "faiss", "file": "dense.faiss", "factory": "Flat", "search": {}}  # indexes from before stores


def store_class(kind: str) -> type[VectorStore]:
    """The ``VectorStore`` implementation named ``kind`` (one of ``VECTOR_STORES``), imported on first use."""
    if kind == "faiss":
        from qa.store.vectors.faiss_store import FaissVectorStore

        return FaissVectorStore
    if kind == "milvus":
        from qa.util.extras import MissingExtra, require

        try:
            require("pymilvus", "QA_VECTOR_STORE=milvus")
        except MissingExtra as exc:
            raise VectorStoreError(str(exc)) from None
        from qa.store.vectors.milvus_store import MilvusVectorStore

        return MilvusVectorStore
    raise VectorStoreError(f"unknown vector store {kind!r}: expected one of {', '.join(VECTOR_STORES)}")


def parse_setting(name: str, raw: str) -> str:
    """A ``VectorConfig`` field's value from its environment text (``qa.config``), or a one-line error."""
    if name == "store":
        return choice(raw, VECTOR_STORES)
    if name == "faiss_index":
        return choice(raw, FAISS_INDEXES)
    if name in ("milvus_uri", "milvus_collection"):
        from qa.store.vectors import milvus_store

        check = milvus_store.check_uri if name == "milvus_uri" else milvus_store.check_collection
        return check(raw.strip())
    raise KeyError(name)


def build_store(config: VectorConfig, root: Path, source: VectorSource, previous: dict | None) -> VectorStore:
    """The configured store filled with a new version's rows (``previous``: the replaced version's entry)."""
    return store_class(config.store).build(config, root, source, previous)


def open_store(version: Path, entry: dict | None, config: VectorConfig | None, keys: np.ndarray,
               metadata: Sequence[ChunkMeta]) -> VectorStore:
    """The store a version recorded (a manifest without an entry is an exact FAISS index)."""
    entry = entry or FAISS_ENTRY
    kind = entry.get("store", "faiss")
    if kind not in VECTOR_STORES:
        raise VectorStoreError(f"{version.name} was written with the {kind!r} vector store, which this version "
                               "of qa does not know")
    return store_class(kind).open(version, entry, config, keys, metadata)


def vectors_moved(entry: dict | None, config: VectorConfig, root: Path) -> str:
    """Why the vectors a version's ``entry`` records are not where ``config`` puts new versions
    ('' when they are): another store, or (as the store says) another place in it."""
    entry = entry or {"store": "faiss"}
    old, new = entry.get("store", "faiss"), config.store
    if old != new:
        return f"vector store {old} -> {new}"
    return store_class(new).moved(entry, config, root)


def retire_previous(previous: dict | None, current: VectorStore, root: Path, config: VectorConfig) -> None:
    """After the switch: let the replaced version's store drop what only it used (best effort)."""
    if not previous or previous.get("store", "faiss") not in VECTOR_STORES:
        return
    store_class(previous.get("store", "faiss")).retire(previous, current, root, config)
