"""`qa index --ray`: reading, chunking and embedding on Ray give what the single-process path gives.

Everything runs on local Ray clusters started here (no external cluster). The comparison uses Dawn,
corpus/ and the first ``BBC_SUBSET`` records of BBC so a run takes a couple of minutes on 2 cores;
``QA_HEAVY_TESTS=1`` adds Dawn + all of BBC (2,127 articles, ~10 minutes on 2 busy cores).

Tests that need no Ray in this process (they start, join or fail to reach one) come first; the
rest share one local Ray through the ``shared_ray`` fixture.
"""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from conftest import CORPUS, ROOT, need_shared
from helpers.ports import free_port

ray = pytest.importorskip("ray")

from qa.ingest import load_articles  # noqa: E402
from qa.store.chunk import Chunker  # noqa: E402
from qa.store.distributed import (  # noqa: E402
    DistributedError,
    LocalPreparer,
    Prepared,
    RayPreparer,
    file_groups,
    merge_reports,
)
from qa.store.embed import Embedder  # noqa: E402

HEAVY = os.environ.get("QA_HEAVY_TESTS") == "1"
BBC_SUBSET = 200  # records of BBC in the default comparison
BBC_OVERLAP = 20  # of them, written to both of the two files it is split into
ATOL = 1e-4
MIN_COSINE = 0.9999


def preparers(embedder_path: str, **ray_kw) -> tuple[LocalPreparer, RayPreparer]:
    local = LocalPreparer(Chunker(embedder_path), Embedder(embedder_path))
    return local, RayPreparer(Chunker(embedder_path), Embedder(embedder_path), **ray_kw)


def assert_same(got: Prepared, want: Prepared) -> None:
    """Same report (every field), same article ids in order, same chunks, vectors within tolerance."""
    assert [a.id for a in got.ingested.articles] == [a.id for a in want.ingested.articles]
    assert got.ingested == want.ingested
    assert got.ingested.skipped == want.ingested.skipped
    assert got.ingested.sources == want.ingested.sources
    assert got.ingested.complete_files == want.ingested.complete_files
    assert got.chunks == want.chunks
    assert got.vectors.dtype == np.float32 and got.vectors.shape == want.vectors.shape
    assert got.vectors.shape[0] == len(got.chunks)
    if len(got.chunks):
        assert np.abs(got.vectors - want.vectors).max() <= ATOL
        assert (got.vectors * want.vectors).sum(axis=1).min() >= MIN_COSINE


def write_jsonl(path: Path, records: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


def story(n: int) -> dict:
    return {"title": f"Story number {n}", "date": "2024-03-0" + str(1 + n % 9),
            "text": f"Story {n} begins here. The council met on Tuesday to discuss item {n}. "
                    f"It voted to approve the plan for district {n} by a wide margin."}


def duplicates_and_skips(folder: Path) -> list[Path]:
    """Two files sharing an article, a duplicate inside a file, a skipped record, an unsupported file."""
    folder.mkdir()
    write_jsonl(folder / "a.jsonl", [story(1), story(2), {"title": "No body here"}, story(1)])
    (folder / "b.json").write_text(json.dumps([story(2), story(3)]), encoding="utf-8")
    (folder / "c.txt").write_text("A plain article\n\nIt has one paragraph. And two sentences.\n", encoding="utf-8")
    (folder / "empty.md").write_text("   \n", encoding="utf-8")
    (folder / "notes.docx").write_bytes(b"PK\x03\x04")
    return [folder, folder / "notes.docx"]


# --------------------------------------------------------------------------------------------
# No Ray in this process yet


def test_no_ray_in_this_process_yet():
    """The tests below start, join or fail to reach a Ray of their own: none may be running here yet."""
    assert not ray.is_initialized(), "an earlier test left Ray initialised in this process"


def test_without_ray_installed_the_error_is_one_line(monkeypatch, embedder_path):
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` raises ImportError
    _, prep = preparers(embedder_path)
    with pytest.raises(DistributedError, match=r'^`qa index --ray` needs Ray, which is not installed: pip install -e "\.\[scale\]"'):
        prep.prepare([CORPUS])


def test_unreachable_or_malformed_address_fails_at_once_in_one_line(embedder_path):
    address = f"127.0.0.1:{free_port()}"  # nothing listens there
    _, prep = preparers(embedder_path, address=address)
    t0 = time.perf_counter()
    with pytest.raises(DistributedError, match=r"^cannot reach the Ray cluster at 127\.0\.0\.1:\d+: ") as err:
        prep.prepare([CORPUS])
    assert "\n" not in str(err.value) and time.perf_counter() - t0 < 10
    assert not ray.is_initialized()
    _, prep = preparers(embedder_path, address="no-port-here")
    with pytest.raises(ValueError, match="HOST:PORT"):
        prep.prepare([CORPUS])
    with pytest.raises(ValueError, match="at least 1"):
        preparers(embedder_path, workers=0)


@pytest.mark.slow
def test_local_ray_counts_duplicates_and_skips_as_load_articles_and_stops(tmp_path, embedder_path):
    paths = duplicates_and_skips(tmp_path / "in")
    local, prep = preparers(embedder_path, workers=2)
    want = local.prepare(paths)
    assert (want.ingested.duplicates, want.ingested.skipped_records, want.ingested.unsupported) == (2, 2, 1)
    got = prep.prepare(paths)
    assert_same(got, want)
    assert not ray.is_initialized()  # the local Ray it started is gone


@pytest.mark.slow
def test_joined_cluster_gives_the_same_and_is_left_running(tmp_path, embedder_path):
    """A Ray started by another process is joined by address, used, and still there afterwards."""
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import logging, sys, ray\n"
         "ctx = ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level=logging.ERROR)\n"
         "print(ctx.address_info['gcs_address'], flush=True)\n"
         "sys.stdin.read()\n"
         "ray.shutdown()\n"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, cwd=ROOT,
        env={**os.environ, "RAY_USAGE_STATS_ENABLED": "0"})
    try:
        address = holder.stdout.readline().strip()
        assert address, "the Ray holder process did not start"
        dawn = need_shared("news", "dawn_pakistan_15.json")
        local, prep = preparers(embedder_path, address=address, workers=1)
        assert_same(prep.prepare([dawn, CORPUS]), local.prepare([dawn, CORPUS]))
        assert not ray.is_initialized()  # disconnected ...
        assert holder.poll() is None  # ... and the cluster is still running: join it again
        assert prep.ingest([CORPUS]) == load_articles([CORPUS])
    finally:
        holder.stdin.close()
        try:
            holder.wait(timeout=60)
        except subprocess.TimeoutExpired:
            holder.kill()
            holder.wait()


# --------------------------------------------------------------------------------------------
# One local Ray for the rest


@pytest.fixture(scope="module")
def shared_ray(embedder_path):
    """A RayPreparer holding one local Ray (2 workers) for the tests below; stopped at the end."""
    _, prep = preparers(embedder_path, workers=2)
    with prep:
        yield prep
    assert not ray.is_initialized()


@pytest.fixture(scope="module")
def bbc_subset(tmp_path_factory) -> list[Path]:
    """The first BBC_SUBSET records of BBC in two files that share BBC_OVERLAP records (cross-file duplicates)."""
    bbc = need_shared("news", "bbc_news_2225.jsonl.gz")
    folder = tmp_path_factory.mktemp("bbc")
    with gzip.open(bbc, "rt", encoding="utf-8") as f:
        lines = [next(f) for _ in range(BBC_SUBSET)]
    half = (BBC_SUBSET + BBC_OVERLAP) // 2
    first, second = folder / "bbc_a.jsonl", folder / "bbc_b.jsonl"
    first.write_text("".join(lines[:half]), encoding="utf-8")
    second.write_text("".join(lines[half - BBC_OVERLAP:]), encoding="utf-8")
    return [first, second]


@pytest.mark.slow
def test_same_articles_chunks_and_vectors_as_single_process(shared_ray, bbc_subset, embedder_path):
    dawn = need_shared("news", "dawn_pakistan_15.json")
    paths = [dawn, *bbc_subset, CORPUS]
    want = LocalPreparer(Chunker(embedder_path), Embedder(embedder_path)).prepare(paths)
    got = shared_ray.prepare(paths)
    assert len(got.ingested.articles) > 150 and len(got.chunks) > 500
    assert got.ingested.duplicates >= BBC_OVERLAP  # the shared records: dropped from the second file
    assert_same(got, want)


@pytest.mark.slow
def test_skip_ids_are_neither_chunked_nor_embedded(shared_ray, embedder_path):
    dawn = need_shared("news", "dawn_pakistan_15.json")
    everything = load_articles([dawn, CORPUS]).articles
    skip = {a.id for a in everything[::2]}
    got = shared_ray.prepare([dawn, CORPUS], skip_ids=skip)
    assert [a.id for a in got.ingested.articles] == [a.id for a in everything]  # all read, some not embedded
    assert {c.article_id for c in got.chunks} == {a.id for a in everything} - skip
    local = LocalPreparer(Chunker(embedder_path), Embedder(embedder_path))
    assert_same(got, local.prepare([dawn, CORPUS], skip_ids=skip))
    nothing = shared_ray.prepare([dawn, CORPUS], skip_ids={a.id for a in everything})
    assert nothing.chunks == [] and nothing.vectors.shape == (0, 384)
    assert nothing.seconds.get("workers") is None  # no actor started, no model loaded


@pytest.mark.slow
def test_hostile_files_are_read_exactly_as_load_articles_reads_them(shared_ray, tmp_path):
    """FIFOs, symlink loops, gzip bombs, broken encodings...: same articles, skips and reasons."""
    from helpers.hostile_inputs import generate

    folder = tmp_path / "hostile"
    generate(folder, 60, seed=0)
    want = load_articles([folder])
    assert want.skipped and want.articles
    assert shared_ray.ingest([folder]) == want


def test_merge_reports_of_any_split_equals_one_run(tmp_path):
    from qa.ingest import iter_files

    paths = duplicates_and_skips(tmp_path / "in")
    files = list(iter_files(paths))
    whole = load_articles(paths)
    for n in range(1, len(files) + 1):
        groups = file_groups(files, n)
        assert [f for g in groups for f in g] == files and len(groups) <= n
        assert merge_reports(load_articles(g) for g in groups) == whole


@pytest.mark.slow
@pytest.mark.skipif(not HEAVY, reason="set QA_HEAVY_TESTS=1 for Dawn + all of BBC (~10 minutes on 2 cores)")
def test_full_dawn_and_bbc_same_as_single_process(shared_ray, embedder_path):
    paths = [need_shared("news", "dawn_pakistan_15.json"), need_shared("news", "bbc_news_2225.jsonl.gz")]
    want = LocalPreparer(Chunker(embedder_path), Embedder(embedder_path)).prepare(paths)
    got = shared_ray.prepare(paths)
    assert len(got.ingested.articles) == 2127 + 15
    assert_same(got, want)


@pytest.mark.slow
def test_qa_index_ray_writes_the_same_index_as_plain_qa_index(tmp_path):
    """`qa index --ray` (a local Ray) and `qa index` over Dawn + corpus/: same articles, chunks, vectors."""
    from qa.store.versions import IndexStore

    dawn = need_shared("news", "dawn_pakistan_15.json")
    indexes = {}
    for name, extra in (("plain", []), ("ray", ["--ray", "--ray-workers", "2"])):
        r = subprocess.run([sys.executable, "-m", "qa.app.cli", "index", str(dawn), str(CORPUS), *extra,
                            "--index-dir", str(tmp_path / name), "--no-progress"],
                           capture_output=True, text=True, cwd=ROOT, timeout=900)
        assert r.returncode == 0, r.stderr[-2000:]
        assert "16 articles" in r.stdout
        indexes[name] = IndexStore(tmp_path / name).load()
    plain, on_ray = indexes["plain"], indexes["ray"]
    assert list(on_ray.articles) == list(plain.articles)
    assert on_ray.chunks == plain.chunks
    np.testing.assert_allclose(on_ray.all_vectors(), plain.all_vectors(), atol=1e-4)
