"""Does cross-request batching pay? Reading the windows of questions that arrive together in one
padded ONNX batch, against reading each question alone, with both cores busy either way.

    python bench/cross_batching.py [--rounds 40]

The reader is ~85 % of a question's time. "alone" is what the chat does: 2 questions in flight,
each read by its own thread, one window per ONNX call (``OnnxQA.rows_per_call = 1``). "batched b"
is a micro-batcher that would collect b questions arriving within a few ms: their windows are read
in padded batches (up to the reader's batch size per call), by 2 threads each taking a batch, or by
one 2-thread session. Prints questions/s of reading, the ratio to "alone", and how many answers
best spans and scores a batch changes: with dynamic int8 an activation scale is taken per call, so windows
batched together change each other's scores (``qa.answer.reader.read.OnnxQA``).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))  # the questions the load tests ask: tests/helpers/chat_load.py
from helpers.chat_load import QUESTIONS  # noqa: E402
from qa.app.chat import EXAMPLES  # noqa: E402


def reader_items(work: Path) -> tuple[list[tuple[str, list[str]]], object]:
    """(question, passages) as the pipeline reads them, for the seed questions over corpus/."""
    from qa.answer.pipeline import Pipeline
    from qa.config import Settings

    shutil.copytree(ROOT / "corpus", work / "corpus")
    s = Settings.from_env({}).with_overrides(corpus=(work / "corpus",), index_dir=work / "index", uploads=work / "up")
    pipeline = Pipeline(s, threads=1)
    pipeline.index(progress=False)
    seed = ROOT.parent / "shared" / "data" / "qa" / "seed_article_dev.jsonl"
    more = [json.loads(line)["question"] for line in seed.open()] if seed.exists() else []
    questions = list(dict.fromkeys([*QUESTIONS, *EXAMPLES, *more]))
    items = [(q, [p.chunk.text for p in pipeline.retriever.retrieve(q, top_k=s.top_k)]) for q in questions]
    return items, s


def reader(settings, threads: int, rows_per_call: int | None):
    from qa.answer.reader.read import Reader

    r = Reader(settings.reader_model, null_threshold=settings.null_threshold, runtime=settings.reader_runtime,
               threads=threads)
    r.load()
    r._model.rows_per_call = rows_per_call
    return r


def best(result) -> tuple:
    """The reader's best span and its score, as the answer would show them."""
    c = result.best
    return (c.passage, c.start, c.end, round(float(c.score), 4)) if c else ()


def throughput(fn, batches: list, workers: int) -> float:
    """Questions read per second when ``workers`` threads take ``batches`` in turn."""
    n = sum(len(b) for b in batches)
    t0 = time.perf_counter()
    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(fn, batches))
    return n / (time.perf_counter() - t0)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rounds", type=int, default=40, help="times the question set is read per way")
    args = p.parse_args()
    print(f"load before: {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores", file=sys.stderr)
    with tempfile.TemporaryDirectory() as tmp:
        items, s = reader_items(Path(tmp))
    stream = items * args.rounds
    alone1 = reader(s, 1, 1)
    base = {q: best(r) for (q, _), r in zip(items, alone1.read_many(items))}
    results = {"alone (2 threads x 1 question)": throughput(alone1.read_many, [[x] for x in stream], 2)}
    changed = {}
    for b in (2, 4, 8):
        batched1, batched2 = reader(s, 1, None), reader(s, 2, None)
        groups = [stream[i:i + b] for i in range(0, len(stream), b)]
        results[f"batched {b} (2 threads x 1 batch)"] = throughput(batched1.read_many, groups, 2)
        results[f"batched {b} (1 session x 2 threads)"] = throughput(batched2.read_many, groups, 1)
        got = [best(r) for g in [items[i:i + b] for i in range(0, len(items), b)] for r in batched1.read_many(g)]
        changed[b] = (sum(g[:3] != base[q][:3] for (q, _), g in zip(items, got)),
                      sum(g != base[q] for (q, _), g in zip(items, got)))
    ref = results["alone (2 threads x 1 question)"]
    report = {"questions": len(items), "reads_per_way": len(stream), "load_after": round(os.getloadavg()[0], 2),
              "questions_read_per_s": {k: round(v, 2) for k, v in results.items()},
              "ratio_vs_alone": {k: round(v / ref, 2) for k, v in results.items()},
              "changed_by_batching": {f"batched {b}": f"span {s} of {len(items)}, score {n} of {len(items)}"
                                      for b, (s, n) in changed.items()}}
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
