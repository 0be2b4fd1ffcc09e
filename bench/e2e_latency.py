"""End-to-end `qa ask` latency over the news index: warm p50/p95, and cold start apart.

    qa index corpus ../shared/data/news --index-dir /tmp/news-index     # once: 20,936 articles
    python bench/e2e_latency.py --index-dir /tmp/news-index              # ~3 min on 2 cores

Questions: the 10 seed questions and the first 90 of the SQuAD dev set (their wording and length
are what matters for latency; the news articles need not answer them). Each configuration asks all
of them once to warm up, then ``--rounds`` times; the report gives p50/p95 of ``Pipeline.ask`` (the
code path of the CLI and the chat) and of its retrieve and read stages, and the ratio of the
p50s to the exact fp32 reader (``--reader-runtime torch``) measured in the same run.

Cold start is measured separately, as a user meets it: a fresh ``qa ask --json`` process, from
launch to the printed answer (imports, loading the index and both models, one question).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script: make `qa` importable
    sys.path.insert(0, str(ROOT))

from bench.questions import questions  # noqa: E402


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values) * 1000, q))


def cold_start(index_dir: Path, runtime: str, question: str) -> float:
    env = {**os.environ, "QA_INDEX_DIR": str(index_dir), "QA_READER_RUNTIME": runtime}
    t = time.perf_counter()
    out = subprocess.run([sys.executable, "-m", "qa.app.cli", "ask", question, "--json"], env=env,
                         capture_output=True, text=True, timeout=600)
    secs = time.perf_counter() - t
    if out.returncode != 0:
        raise SystemExit(f"qa ask failed: {out.stderr.strip()[-500:]}")
    return secs


def compare(index_dir: Path, fp32_dir: Path, qs: list[str], data_dir: Path) -> None:
    """Top-5 agreement of the hybrid retriever between two indexes, and recall@5 of the seed article."""
    from qa.answer.pipeline import Pipeline
    from qa.config import Settings

    seed = [json.loads(line) for line in (data_dir / "qa" / "seed_article_dev.jsonl").open()]
    rows = {}
    for name, folder, runtime in (("this", index_dir, None), ("fp32", fp32_dir, "onnx")):
        pipe = Pipeline(Settings.from_env().with_overrides(index_dir=folder, embed_runtime=runtime))
        top = [[p.chunk.id for p in pipe.retriever.retrieve(q, top_k=5)] for q in qs]
        found = [any(p.title == r["article_title"] for p in pipe.retriever.retrieve(r["question"], top_k=5))
                 for r in seed]
        rows[name] = (top, found)
    overlap = np.mean([len(set(a) & set(b)) / 5 for a, b in zip(rows["this"][0], rows["fp32"][0])])
    same_top = np.mean([a[:1] == b[:1] for a, b in zip(rows["this"][0], rows["fp32"][0])])
    print(f"\nretrieval against the fp32 index {fp32_dir}: top-5 overlap {overlap:.3f}, same top-1 {same_top:.3f} "
          f"({len(qs)} questions); seed article in the top 5: {sum(rows['this'][1])}/{len(seed)} here, "
          f"{sum(rows['fp32'][1])}/{len(seed)} at fp32")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--index-dir", type=Path, required=True, help="an index built with `qa index`")
    ap.add_argument("--data-dir", type=Path, default=ROOT.parent / "shared" / "data")
    ap.add_argument("--questions", type=int, default=100)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--runtimes", default="onnx-int8,torch", help="reader runtimes; the last is the baseline")
    ap.add_argument("--no-cold", action="store_true", help="skip the cold-start processes")
    ap.add_argument("--compare-index", type=Path, metavar="DIR",
                    help="an index of the same articles built at fp32 (QA_EMBED_RUNTIME=onnx): report top-5 "
                         "retrieval agreement with it and both recalls of the seed article")
    args = ap.parse_args()
    if not (args.index_dir / "current").exists() and not any(args.index_dir.glob("*")):
        print(f"no index in {args.index_dir}: build it with `qa index corpus {args.data_dir / 'news'} "
              f"--index-dir {args.index_dir}`", file=sys.stderr)
        return 2

    from qa.answer.pipeline import Pipeline
    from qa.config import Settings

    qs = questions(args.data_dir, args.questions)
    runtimes = [r.strip() for r in args.runtimes.split(",") if r.strip()]
    results: dict[str, dict[str, list[float]]] = {}
    chunks = 0
    for rt in runtimes:
        pipe = Pipeline(Settings.from_env().with_overrides(index_dir=args.index_dir, reader_runtime=rt))
        pipe.warm_up()
        chunks = len(pipe.retriever.data.chunks)
        for q in qs:
            pipe.ask(q)
        timings: dict[str, list[float]] = {"total": [], "retrieve": [], "read": []}
        for _ in range(args.rounds):
            for q in qs:
                t = time.perf_counter()
                ans = pipe.ask(q)
                timings["total"].append(time.perf_counter() - t)
                timings["retrieve"].append(ans.timings["retrieve"])
                timings["read"].append(ans.timings["read"])
        results[rt] = timings
        del pipe

    base = statistics.median(results[runtimes[-1]]["total"])
    print(f"qa ask over {args.index_dir} ({chunks} chunks), {len(qs)} questions x {args.rounds} rounds, warm; "
          f"ms; ratio = baseline p50 / this p50 (baseline: reader {runtimes[-1]})")
    print(f"{'reader runtime':<16} {'p50':>7} {'p95':>7} {'retrieve p50':>13} {'read p50':>9} {'x base':>7}")
    for rt, t in results.items():
        print(f"{rt:<16} {pct(t['total'], 50):>7.1f} {pct(t['total'], 95):>7.1f} {pct(t['retrieve'], 50):>13.1f} "
              f"{pct(t['read'], 50):>9.1f} {base / statistics.median(t['total']):>7.2f}")
    if args.compare_index:
        compare(args.index_dir, args.compare_index, qs, args.data_dir)
    if not args.no_cold:
        print("\ncold start: a fresh `qa ask --json` process, launch to answer (s)")
        for rt in runtimes:
            print(f"{rt:<16} {cold_start(args.index_dir, rt, qs[0]):>7.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
