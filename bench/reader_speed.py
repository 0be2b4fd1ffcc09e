"""The reader against Haystack's TransformersExtractiveReader: same model, same passages, one run.

    pip install -e ".[bench]"          # haystack-ai + transformers-haystack
    python bench/reader_speed.py       # ~2 min on 2 cores
    python bench/reader_speed.py --rounds 3 --runtimes onnx-int8,torch

Two question sets, each question read over 5 passages:

- **seed**: the 10 questions of ``../shared/data/qa/seed_article_dev.jsonl`` over the 5 passages our
  retriever gives for each from ``corpus/`` (what the product reads); F1/EM are scored against the gold
  answers (an empty prediction is the right answer to an unanswerable question), and answer agreement
  is the share of questions where the system's best span equals Haystack's.
- **bbc**: 8 of those questions over 40 BBC paragraphs of 100-140 words (5 each): passages longer than
  the seed's, for timing only.

Each system reads the same passages with the same shipped model (``models/reader``). Haystack gets
our windowing (max_seq_length 256, stride 96) so both see the same tokens; it runs torch fp32 as
Haystack does. Ours runs with each ``--runtimes`` entry (``qa.answer.reader.read.Reader``; onnx-int8 is the
default the product uses). Rounds interleave the systems, so machine noise hits them alike; the
report gives the median seconds per question and the ratio to Haystack measured in this run.
"""

from __future__ import annotations

import argparse
import gzip
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script: make `qa` importable
    sys.path.insert(0, str(ROOT))


def seed_set(data_dir: Path, corpus: Path) -> list[dict]:
    """Seed questions with the passages the product's retriever picks from ``corpus``."""
    from qa.answer.pipeline import Pipeline
    from qa.config import Settings

    rows = [json.loads(line) for line in (data_dir / "qa" / "seed_article_dev.jsonl").open()]
    with tempfile.TemporaryDirectory() as tmp:
        pipe = Pipeline(Settings.from_env().with_overrides(index_dir=Path(tmp) / "index", corpus=(corpus,)))
        pipe.index([corpus], progress=False)
        for r in rows:
            r["passages"] = [p.chunk.text for p in pipe.retriever.retrieve(r["question"], top_k=5)]
    return rows


def bbc_set(data_dir: Path, questions: list[str], n_questions: int = 8, per_question: int = 5) -> list[dict]:
    """``n_questions`` questions, each over 5 BBC paragraphs of 100-140 words (timing only)."""
    paragraphs: list[str] = []
    with gzip.open(data_dir / "news" / "bbc_news_2225.jsonl.gz", "rt", encoding="utf-8") as f:
        for line in f:
            record = json.loads(line)
            for para in str(record.get("text") or record.get("content") or "").split("\n"):
                if 100 <= len(para.split()) <= 140:
                    paragraphs.append(para.strip())
            if len(paragraphs) >= n_questions * per_question:
                break
    return [{"question": q, "passages": paragraphs[i * per_question:(i + 1) * per_question], "answers": None}
            for i, q in enumerate(questions[:n_questions])]


class Ours:
    def __init__(self, model: Path, runtime: str) -> None:
        from qa.answer.reader.read import Reader

        self.name = f"ours ({runtime})"
        self.reader = Reader(model, runtime=runtime)
        self.reader.load()

    def answer(self, question: str, passages: list[str]) -> tuple[str, str]:
        """(the answer shown: '' when it refuses, the best span whatever the decision)."""
        result = self.reader.read(question, passages)
        return (result.span_text() if result.margin > result.threshold else ""), result.span_text()


class Haystack:
    def __init__(self, model: Path) -> None:
        import torch
        from haystack import Document
        from haystack_integrations.components.readers.transformers import TransformersExtractiveReader

        self.name = "haystack TransformersExtractiveReader (torch fp32)"
        self.document = Document
        self.reader = TransformersExtractiveReader(model=str(model), max_seq_length=256, stride=96, top_k=5,
                                                   model_kwargs={"dtype": torch.float32})
        self.reader.warm_up()

    def answer(self, question: str, passages: list[str]) -> tuple[str, str]:
        out = self.reader.run(query=question, documents=[self.document(content=p) for p in passages])
        answers = out["answers"]
        spans = [a for a in answers if a.data]
        shown = answers[0].data if answers and answers[0].data else ""
        return shown, (spans[0].data if spans else "")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data-dir", type=Path, default=ROOT.parent / "shared" / "data")
    ap.add_argument("--model", type=Path, default=ROOT / "models" / "reader")
    ap.add_argument("--corpus", type=Path, default=ROOT / "corpus")
    ap.add_argument("--runtimes", default="onnx-int8,onnx,torch", help="our reader's runtimes to time")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--threads", type=int, default=2, help="torch threads for every system (ORT uses the same)")
    args = ap.parse_args()

    import torch

    torch.set_num_threads(args.threads)
    from qa.evaluation.metrics import score_prediction

    seed = seed_set(args.data_dir, args.corpus)
    sets = {"seed": seed, "bbc": bbc_set(args.data_dir, [r["question"] for r in seed])}
    try:
        systems = [Haystack(args.model)]
    except ImportError as exc:
        print(f"Haystack is not installed ({exc}): pip install -e '.[bench]'", file=sys.stderr)
        return 2
    systems += [Ours(args.model, rt.strip()) for rt in args.runtimes.split(",") if rt.strip()]

    outputs = {s.name: {name: [s.answer(r["question"], r["passages"]) for r in rows] for name, rows in sets.items()}
               for s in systems}  # also the warm-up round
    times: dict[str, dict[str, list[float]]] = {s.name: {n: [] for n in sets} for s in systems}
    for _ in range(args.rounds):
        for s in systems:
            for name, rows in sets.items():
                t = time.perf_counter()
                for r in rows:
                    s.answer(r["question"], r["passages"])
                times[s.name][name].append((time.perf_counter() - t) / len(rows))

    hay = systems[0].name
    print(f"reader speed: {args.rounds} rounds, {args.threads} threads, median seconds per question "
          f"(5 passages each); ratio = Haystack's time / this system's time")
    print(f"{'system':<52} {'seed s/q':>9} {'bbc s/q':>9} {'x haystack':>11} {'agree':>6} {'EM':>6} {'F1':>6}")
    for s in systems:
        med = {n: statistics.median(v) for n, v in times[s.name].items()}
        ratio = statistics.median(times[hay]["bbc"]) / med["bbc"]
        ratio_seed = statistics.median(times[hay]["seed"]) / med["seed"]
        shown = [o[0] for o in outputs[s.name]["seed"]]
        agree = sum(a[1] == b[1] for a, b in zip(outputs[s.name]["seed"], outputs[hay]["seed"])) / len(seed)
        scores = [score_prediction(p, r["answers"]) for p, r in zip(shown, seed)]
        em = 100 * sum(e for e, _ in scores) / len(scores)
        f1 = 100 * sum(f for _, f in scores) / len(scores)
        print(f"{s.name:<52} {med['seed']:>9.4f} {med['bbc']:>9.4f} {ratio:>5.2f}/{ratio_seed:<5.2f} "
              f"{agree:>6.0%} {em:>6.1f} {f1:>6.1f}")
    print("x haystack: bbc/seed sets. agree: same best span as Haystack on the seed set. EM/F1: the answer "
          "shown (refusals count as empty) on the 10 seed questions.")
    for s in systems[1:]:
        diffs = [(r["question"], a[1], b[1]) for r, a, b in zip(seed, outputs[s.name]["seed"], outputs[hay]["seed"])
                 if a[1] != b[1]]
        for q, mine, theirs in diffs:
            print(f"  {s.name}: {q!r}: {mine!r} vs haystack {theirs!r}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
