"""The embedder's runtimes, and the indexer reading while it embeds."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from conftest import CORPUS
from qa.ingest import load_articles
from qa.store.chunk import Chunker
from qa.store.read_and_embed import LocalPreparer, chunk_texts
from qa.store.embed import Embedder

TEXTS = [
    "Pakistan agreed to develop a joint strategy to prevent similar incidents.",
    "The bakery on Mill Street was founded in 1921.",
    "Shares fell 3% after the central bank raised interest rates. " * 8,
    "x",
]


@pytest.fixture(scope="module")
def reference(embedder_path):
    return Embedder(embedder_path, runtime="torch").encode(TEXTS)


@pytest.mark.slow
def test_onnx_fp32_gives_sentence_transformers_vectors(embedder_path, reference):
    onnx = Embedder(embedder_path, runtime="onnx")
    assert np.abs(onnx.encode(TEXTS) - reference).max() < 1e-5
    assert onnx.fingerprint() == Embedder(embedder_path, runtime="torch").fingerprint()  # the same index
    assert onnx.dim == 384


@pytest.mark.slow
def test_onnx_int8_is_close_and_a_different_index(embedder_path, reference):
    int8 = Embedder(embedder_path, runtime="onnx-int8")
    vecs = int8.encode(TEXTS)
    assert np.allclose(np.linalg.norm(vecs, axis=1), 1.0, atol=1e-5)
    assert (vecs * reference).sum(1).min() > 0.97
    assert int8.fingerprint().endswith("+int8")
    assert int8.fingerprint() != Embedder(embedder_path, runtime="onnx").fingerprint()


def test_int8_vector_of_a_text_does_not_depend_on_its_batch(embedder_path):
    int8 = Embedder(embedder_path, runtime="onnx-int8", batch_size=64)
    alone = int8.encode([TEXTS[0]])[0]
    together = int8.encode(TEXTS[::-1])[-1]
    assert np.array_equal(alone, together)


def test_unknown_runtime_is_refused(embedder_path):
    with pytest.raises(ValueError, match="auto, onnx-int8, onnx, torch"):
        Embedder(embedder_path, runtime="fp16")


@pytest.mark.slow
def test_changing_the_embed_runtime_rebuilds_the_index(tmp_path, embedder_path):
    from qa.store.versions import IndexStore
    from qa.store.update import Indexer

    corpus = CORPUS  # the session's copy of the seed article
    store = IndexStore(tmp_path / "index")
    first = Indexer(store, Chunker(embedder_path), Embedder(embedder_path, runtime="onnx")).run([corpus], progress=False)
    again = Indexer(store, Chunker(embedder_path), Embedder(embedder_path, runtime="torch")).run([corpus], progress=False)
    assert again.up_to_date  # fp32 either way: same vectors, nothing to do
    switched = Indexer(store, Chunker(embedder_path), Embedder(embedder_path, runtime="onnx-int8")).run(
        [corpus], progress=False)
    assert "embedder" in switched.rebuilt_because and switched.embedded == first.chunks


@pytest.fixture(scope="module")
def news_file(tmp_path_factory):
    """Twelve articles in one JSONL file, enough for several embedding groups."""
    import json

    path = tmp_path_factory.mktemp("news") / "news.jsonl"
    sentences = ["The council met on {d} to discuss {t}.", "Officials said the {t} plan would cost {n} million.",
                 "Residents of district {n} objected to the {t} proposal.", "A vote is expected in {d}."]
    topics = ["parking", "lighting", "housing", "river", "school", "tram"]
    with path.open("w") as f:
        for i in range(12):
            t = topics[i % len(topics)]
            body = " ".join(s.format(d=["March", "April", "May"][i % 3], t=t, n=i + 2) for s in sentences * (1 + i % 3))
            f.write(json.dumps({"title": f"Council {t} {i}", "date": f"2024-0{1 + i % 9}-1{i % 9}", "text": body}) + "\n")
    return path


@pytest.mark.slow
def test_pipelined_preparation_equals_read_then_chunk_then_embed(news_file, embedder_path):
    chunker, embedder = Chunker(embedder_path, max_tokens=24), Embedder(embedder_path)
    ingested = load_articles([news_file])
    skip = {ingested.articles[3].id}
    fresh = [a for a in ingested.articles if a.id not in skip]
    chunks = list(chunker.chunk_many(fresh))
    want = embedder.encode(chunk_texts(chunks, fresh))

    got = LocalPreparer(chunker, embedder, group_chunks=5).prepare([news_file], skip_ids=skip)
    assert [a.id for a in got.ingested.articles] == [a.id for a in ingested.articles]
    assert got.ingested.records == ingested.records and got.ingested.duplicates == ingested.duplicates
    assert got.chunks == chunks and len(chunks) > 10
    assert np.array_equal(got.vectors, want)  # int8 embeds each text alone: bit-identical
    assert set(got.seconds) == {"read", "embed"}


class FailingEmbedder(Embedder):
    def __init__(self, path: str, fail_at: int) -> None:
        super().__init__(path)
        self.calls, self.fail_at = 0, fail_at

    def encode(self, texts, progress=False):
        self.calls += 1
        if self.calls == self.fail_at:
            raise RuntimeError("out of memory while embedding")
        return np.zeros((len(texts), 384), np.float32)


def test_an_embedding_failure_stops_reading_and_is_raised(news_file, embedder_path):
    preparer = LocalPreparer(Chunker(embedder_path, max_tokens=24), FailingEmbedder(embedder_path, 2), group_chunks=3)
    with pytest.raises(RuntimeError, match="out of memory"):
        preparer.prepare([news_file])
    assert not [t for t in threading.enumerate() if t.name == "qa-read"]  # the reading thread ended too


def test_a_chunking_failure_is_raised_not_counted_as_a_skipped_file(news_file, embedder_path, monkeypatch):
    chunker = Chunker(embedder_path, max_tokens=24)
    monkeypatch.setattr(chunker, "chunk", lambda article: (_ for _ in ()).throw(ValueError("chunker bug")))
    with pytest.raises(ValueError, match="chunker bug"):
        LocalPreparer(chunker, Embedder(embedder_path)).prepare([news_file])


def test_auto_follows_the_index_and_else_the_cpu(tmp_path, embedder_path, monkeypatch):
    """Questions are embedded at the index's precision; a new index gets int8 only on a CPU fast at it."""
    from qa.answer.pipeline import Pipeline
    from qa.config import Settings
    from qa.util import onnx

    corpus = CORPUS  # the session's copy of the seed article
    monkeypatch.setattr(onnx, "fast_int8", lambda: False)
    assert Embedder(embedder_path).runtime == "onnx"
    settings = Settings.from_env({}).with_overrides(index_dir=tmp_path / "index", corpus=(corpus,))
    Pipeline(settings.with_overrides(embed_runtime="onnx-int8")).index(progress=False)
    pipe = Pipeline(settings)  # auto, on a CPU without VNNI, over an int8 index
    assert pipe.embedder.runtime == "onnx-int8"
    assert pipe.index(progress=False).up_to_date  # no rebuild
    monkeypatch.setattr(onnx, "fast_int8", lambda: True)
    assert Pipeline(settings.with_overrides(index_dir=tmp_path / "new")).embedder.runtime == "onnx-int8"
    assert Embedder(embedder_path).runtime == "onnx-int8"


def test_cpu_flags_decide_fast_int8(monkeypatch, tmp_path):
    from qa.util import onnx

    real_open = open

    def fake(flags):
        def opener(path, *a, **kw):
            if path == "/proc/cpuinfo":
                f = tmp_path / "cpuinfo"
                f.write_text(f"processor\t: 0\nflags\t\t: {flags}\n")
                return real_open(f, *a, **kw)
            return real_open(path, *a, **kw)
        return opener

    monkeypatch.setattr("builtins.open", fake("fpu sse avx avx2 fma"))
    assert not onnx.fast_int8()
    monkeypatch.setattr("builtins.open", fake("fpu avx2 avx512f avx512_vnni"))
    assert onnx.fast_int8()


def test_embedder_and_chunker_tokenize_as_transformers_would(embedder_path):
    """Both read tokenizer.json with the `tokenizers` library (no transformers, no torch on the
    ONNX path): the same ids (embedder, truncated) and the same chunk boundaries as AutoTokenizer."""
    from transformers import AutoTokenizer

    from qa.store.embed import _OnnxEncoder
    from qa.types import Article
    from qa.util.tokenize import FastTokenizer

    texts = [("Ünïcödé   spacing\ttabs, emoji 🇵🇰, U.S. officials said; Rs1,250 paid. " * 40),
             "ISLAMABAD: Beijing is pushing Pakistan. " * 3, "short"]
    hf = AutoTokenizer.from_pretrained(embedder_path)
    encoder = Embedder(embedder_path, runtime="onnx").model
    assert isinstance(encoder, _OnnxEncoder) and isinstance(encoder.tokenizer, FastTokenizer)
    kw = {"truncation": True, "max_length": encoder.max_length, "padding": False}
    assert encoder.tokenizer(texts, **kw)["input_ids"] == hf(texts, **kw)["input_ids"]

    ours = Chunker(embedder_path, max_tokens=40)
    theirs = Chunker(embedder_path, max_tokens=40)
    theirs._tokenizer = hf
    article = Article("a", "T", " ".join(texts) + "\n\n" + "no full stops here " * 60)
    assert isinstance(ours.tokenizer, FastTokenizer)
    assert ours.chunk(article) == theirs.chunk(article)
