"""Index integrity: damaged files are caught on load with a clear message, a killed write leaves
the previous version usable, and two writers cannot both write (the lock, and the stale-version check)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import numpy as np
import pytest

import qa.store.integrity
import qa.store.versions
from qa.store.integrity import MANIFEST, IndexCorrupt
from qa.store.versions import POINTER, ArticleMeta, IndexStore
from qa.store.write_lock import IndexBusy
from qa.types import Chunk

ROOT = Path(__file__).resolve().parents[2]
DIM = 8
WAIT_SECONDS = 60  # for a child process to reach the point under test


def make_data(n_articles: int = 3, per_article: int = 2, seed: int = 0):
    """A small, valid index version's contents: metadata, chunks and unit vectors."""
    rng = np.random.default_rng(seed)
    articles, chunks = [], []
    for i in range(n_articles):
        aid = f"art{seed}-{i}"
        articles.append(ArticleMeta(id=aid, title=f"Harbour story {i}", date=f"2024-03-0{i % 9 + 1}",
                                    source=f"corpus/story{i}.txt", chunks=per_article))
        for j in range(per_article):
            text = f"The harbour board met on day {i} and agreed plan {j} for the floods."
            chunks.append(Chunk(id=f"{aid}:{j}", article_id=aid, index=j, text=text, start=0, end=len(text)))
    vectors = rng.normal(size=(len(chunks), DIM)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    return articles, chunks, vectors


def write_version(root: Path, seed: int = 0, store: IndexStore | None = None) -> Path:
    articles, chunks, vectors = make_data(seed=seed)
    manifest = {"dim": DIM, "settings": {"format": qa.store.versions.FORMAT_VERSION}, "counts": {"articles": len(articles)}}
    return (store or IndexStore(root)).write(manifest, articles, chunks, vectors)


def recorded_files(root: Path) -> dict:
    return IndexStore(root).manifest()["files"]


def assert_clear(exc: IndexCorrupt, root: Path, *words: str) -> None:
    """One line that names the index, the damage, and how to rebuild."""
    message = str(exc)
    assert "\n" not in message, message
    assert str(root) in message and "damaged" in message and "qa index" in message and "delete" in message, message
    for word in words:
        assert word in message, message


# ---------------------------------------------------------------------------------------------
# Checksums and damage


def test_manifest_records_size_and_sha256_of_every_file(tmp_path):
    version = write_version(tmp_path)
    files = recorded_files(tmp_path)
    on_disk = {p.relative_to(version).as_posix() for p in version.rglob("*") if p.is_file() and p.name != MANIFEST}
    assert set(files) == on_disk and {"dense.faiss", "articles.jsonl", "chunks.jsonl"} <= on_disk
    assert any(name.startswith("bm25/") for name in files)
    assert all(meta["bytes"] == (version / name).stat().st_size for name, meta in files.items())
    checked = IndexStore(tmp_path).verify(full=True)
    assert checked["hashed"] == checked["files"] == len(files)
    data = IndexStore(tmp_path).load()
    assert len(data.chunks) == data.vectors.ntotal == 6 and len(data.articles) == 3


def damage_file(path: Path, how: str) -> None:
    data = path.read_bytes()
    if how == "truncated":
        path.write_bytes(data[: len(data) // 2])
    elif how == "emptied":
        path.write_bytes(b"")
    else:  # "flipped": same size, one byte changed
        pos = len(data) // 2
        path.write_bytes(data[:pos] + bytes([data[pos] ^ 0x20]) + data[pos + 1:])


def file_kinds() -> list[str]:
    return ["dense.faiss", "articles.jsonl", "chunks.jsonl", "bm25"]


@pytest.mark.parametrize("how", ["truncated", "emptied", "flipped"])
@pytest.mark.parametrize("kind", file_kinds())
def test_each_damaged_file_is_named_on_load(tmp_path, kind, how):
    version = write_version(tmp_path)
    names = [n for n in recorded_files(tmp_path) if n == kind or n.startswith(kind + "/")]
    assert names, f"no {kind} file recorded"
    for name in names:  # every bm25 array and json, one at a time
        original = (version / name).read_bytes()
        damage_file(version / name, how)
        with pytest.raises(IndexCorrupt) as caught:
            IndexStore(tmp_path).load()
        assert_clear(caught.value, tmp_path, name)
        (version / name).write_bytes(original)
    assert IndexStore(tmp_path).load().vectors.ntotal == 6  # restored: loads again


@pytest.mark.parametrize("how", ["truncated", "emptied", "edited"])
def test_damaged_manifest_is_caught(tmp_path, how):
    version = write_version(tmp_path)
    path = version / MANIFEST
    if how == "edited":  # still valid JSON, but not what was written: the checksum says so
        manifest = json.loads(path.read_text())
        manifest["counts"]["articles"] += 1
        path.write_text(json.dumps(manifest, indent=2))
    else:
        damage_file(path, how)
    for read in (IndexStore(tmp_path).load, IndexStore(tmp_path).manifest):
        with pytest.raises(IndexCorrupt) as caught:
            read()
        assert_clear(caught.value, tmp_path, MANIFEST)


def test_a_missing_file_is_named(tmp_path):
    version = write_version(tmp_path)
    (version / "chunks.jsonl").unlink()
    with pytest.raises(IndexCorrupt, match="chunks.jsonl is missing"):
        IndexStore(tmp_path).load()


@pytest.mark.parametrize("pointer", [b"", b"\xff\xfe garbage", b"../../etc\n", b"v-no-such-version\n"])
def test_a_bad_current_pointer_is_damage_not_a_missing_index(tmp_path, pointer):
    write_version(tmp_path)
    (tmp_path / POINTER).write_bytes(pointer)
    assert not IndexStore(tmp_path).exists()  # so `qa index` builds a fresh version over it
    with pytest.raises(IndexCorrupt) as caught:
        IndexStore(tmp_path).load()
    assert_clear(caught.value, tmp_path, POINTER)


def test_big_files_are_size_checked_on_load_and_hashed_by_full_verify(tmp_path, monkeypatch):
    version = write_version(tmp_path)
    monkeypatch.setattr(qa.store.integrity, "VERIFY_HASH_BUDGET", 0)  # as for a million-vector index
    damage_file(version / "dense.faiss", "flipped")  # same size: only a hash can tell
    assert IndexStore(tmp_path).load().vectors.ntotal == 6  # the quick check lets it through, as documented
    with pytest.raises(IndexCorrupt, match="dense.faiss does not match its sha256"):
        IndexStore(tmp_path).verify(full=True)
    damage_file(version / "chunks.jsonl", "truncated")
    with pytest.raises(IndexCorrupt, match=r"chunks.jsonl is [\d,]+ bytes, [\d,]+ expected: cut short"):
        IndexStore(tmp_path).load()


def test_an_index_from_before_checksums_is_checked_for_structure(tmp_path):
    version = write_version(tmp_path)
    manifest = json.loads((version / MANIFEST).read_text())
    del manifest["files"], manifest["checksum"]
    (version / MANIFEST).write_text(json.dumps(manifest))
    assert IndexStore(tmp_path).load().vectors.ntotal == 6
    lines = (version / "chunks.jsonl").read_text().splitlines(keepends=True)
    (version / "chunks.jsonl").write_text("".join(lines[:-1]))  # cut at a line end: parses, but is short
    with pytest.raises(IndexCorrupt, match="6 vectors in dense.faiss but 5 chunks"):
        IndexStore(tmp_path).load()
    (version / "chunks.jsonl").write_text("".join(lines)[:-30])  # cut mid-line
    with pytest.raises(IndexCorrupt, match="chunks.jsonl line 6 is not JSON"):
        IndexStore(tmp_path).load()


def test_non_utf8_source_names_survive_a_write(tmp_path):
    """A file name that is not UTF-8 arrives as a str with surrogate escapes: it must round-trip."""
    articles, chunks, vectors = make_data()
    odd = os.fsdecode(b"corpus/caf\xe9.txt")
    articles[0] = ArticleMeta(**{**articles[0].__dict__, "source": odd, "url": "http://x.test/\ud800"})
    IndexStore(tmp_path).write({"dim": DIM}, articles, chunks, vectors)
    loaded = IndexStore(tmp_path).load().articles[articles[0].id]
    assert loaded.source == odd and loaded.url == "http://x.test/\ud800"


# ---------------------------------------------------------------------------------------------
# A killed writer, a second writer


CHILD = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    sys.path.insert(0, {tests!r})
    import qa.store.versions
    from test_index_integrity import make_data, DIM

    root, ready, mode = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]
    if mode == "hold":  # hold the lock, as a long `qa index` run does
        with qa.store.versions.IndexStore(root).lock():
            ready.write_text("locked")
            time.sleep(600)
    else:  # "write": stop for good half-way through writing a version
        real = qa.store.versions._write_jsonl

        def stuck(path, rows):
            real(path, rows)
            if path.name == "chunks.jsonl":
                ready.write_text("mid-write")
                time.sleep(600)

        qa.store.versions._write_jsonl = stuck
        articles, chunks, vectors = make_data(seed=7)
        qa.store.versions.IndexStore(root).write({{"dim": DIM}}, articles, chunks, vectors)
    """
)


def start_child(tmp_path: Path, root: Path, mode: str) -> subprocess.Popen:
    """A child process that holds the lock (or is stuck mid-write) once ``ready`` exists."""
    script = tmp_path / "child.py"
    script.write_text(CHILD.format(tests=str(Path(__file__).resolve().parent)))
    ready = tmp_path / f"ready-{mode}"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    child = subprocess.Popen([sys.executable, str(script), str(root), str(ready), mode], env=env,
                             stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + WAIT_SECONDS
    while not ready.exists():
        if child.poll() is not None:
            pytest.fail(f"child exited {child.returncode}: {child.stderr.read()}")
        if time.monotonic() > deadline:
            child.kill()
            pytest.fail("child did not get going")
        time.sleep(0.05)
    return child


def test_a_killed_write_leaves_the_previous_version_and_no_stale_lock(tmp_path):
    root = tmp_path / "index"
    write_version(root, seed=1)
    before = IndexStore(root).load()
    child = start_child(tmp_path, root, "write")
    try:
        assert len(list(root.glob("v-*"))) == 2  # the half-written version is there
        with pytest.raises(IndexBusy, match=rf"another `qa index` is updating .* \(pid {child.pid}\)"):
            write_version(root, seed=2)  # the second writer is refused while the first holds the lock
        after = IndexStore(root).load()  # readers are not blocked, and see the previous version
        assert after.root == before.root and len(after.chunks) == len(before.chunks)
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
    again = IndexStore(root).load()
    assert again.root == before.root and set(again.articles) == set(before.articles)
    version = write_version(root, seed=3)  # the kernel dropped the dead writer's lock
    assert [p.name for p in root.glob("v-*")] == [version.name]  # and its half-written folder was pruned
    assert {a.id for a in IndexStore(root).load().articles.values()} == {f"art3-{i}" for i in range(3)}


def test_the_lock_is_refused_across_processes_and_freed_when_the_holder_dies(tmp_path):
    root = tmp_path / "index"
    write_version(root)
    child = start_child(tmp_path, root, "hold")
    try:
        with pytest.raises(IndexBusy) as caught:
            write_version(root, seed=1)
        assert f"pid {child.pid}" in str(caught.value) and "try again when it finishes" in str(caught.value)
        with pytest.raises(IndexBusy):
            with IndexStore(root).lock():
                pass
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
    write_version(root, seed=1)  # no stale lock


def test_the_lock_is_reentrant_in_its_thread_and_refused_to_others(tmp_path):
    store = IndexStore(tmp_path)
    with store.lock():
        write_version(tmp_path, store=store)  # write takes the lock the run already holds
        with pytest.raises(IndexBusy, match="another indexing run in this process"):
            write_version(tmp_path, seed=1)  # another store (another open of the lock file)
        errors: list[BaseException] = []

        def other_thread() -> None:
            try:
                write_version(tmp_path, seed=2, store=store)
            except BaseException as exc:  # noqa: BLE001
                errors.append(exc)

        t = threading.Thread(target=other_thread)
        t.start()
        t.join()
        assert len(errors) == 1 and isinstance(errors[0], IndexBusy)
    write_version(tmp_path, seed=4)  # released


def test_a_run_that_raced_another_does_not_overwrite_it(tmp_path):
    slow = IndexStore(tmp_path)
    write_version(tmp_path, seed=1)
    assert slow.manifest() is not None  # a run starts: it reads the current version...
    write_version(tmp_path, seed=2)  # ...another run finishes meanwhile...
    with pytest.raises(IndexBusy, match="updated .* while this one was running"):
        write_version(tmp_path, seed=3, store=slow)  # ...so this one must not replace it
    assert {a.id for a in IndexStore(tmp_path).load().articles.values()} == {f"art2-{i}" for i in range(3)}
    slow.manifest()  # a new run reads the new version and may write
    write_version(tmp_path, seed=3, store=slow)


def test_indexing_while_another_run_holds_the_lock_is_refused(tmp_path, embedder_path):
    from qa.store.chunk import Chunker
    from qa.store.embed import Embedder
    from qa.store.update import Indexer

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "a.txt").write_text("Harbour reopens\n\nThe harbour reopened on Monday after the floods.\n")
    root = tmp_path / "index"
    indexer = Indexer(IndexStore(root), Chunker(embedder_path, max_tokens=60), Embedder(embedder_path))
    indexer.run([corpus], progress=False)
    (corpus / "b.txt").write_text("Bank holds rates\n\nThe central bank kept its rate at 22 percent.\n")
    child = start_child(tmp_path, root, "hold")
    try:
        with pytest.raises(IndexBusy, match=f"pid {child.pid}"):
            indexer.run([corpus], progress=False)
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
    assert len(IndexStore(root).load().articles) == 1  # untouched by the refused run
    assert indexer.run([corpus], progress=False).articles == 2
