"""Chunking: hard token cap, exact offsets, sentence overlap."""

import pytest

from qa.store.chunk import Chunker
from qa.text.sentences import split_sentences
from qa.types import Article


@pytest.fixture(scope="module")
def chunker(embedder_path):
    return Chunker(embedder_path, max_tokens=40, overlap=1)


def art(text):
    return Article(id="a1", title="T", text=text)


def test_split_sentences_handles_abbreviations_quotes_and_paragraphs():
    text = 'He said "It is over." Then Mr. Khan left for the U.S. Army base.\n\nNew paragraph here! Is it? Yes, 3.5 percent.'
    got = [text[a:b] for a, b in split_sentences(text)]
    assert got == [
        'He said "It is over."',
        "Then Mr. Khan left for the U.S. Army base.",
        "New paragraph here!",
        "Is it?",
        "Yes, 3.5 percent.",
    ]


def test_offsets_point_back_into_the_article(chunker):
    text = " ".join(f"Sentence number {i} talks about the security talks in Islamabad." for i in range(30))
    a = art(text)
    chunks = chunker.chunk(a)
    assert len(chunks) > 3
    for c in chunks:
        assert a.text[c.start : c.end] == c.text
        assert c.id == f"a1:{c.index}"


def test_no_chunk_exceeds_the_cap_even_without_full_stops(chunker):
    words = " ".join(f"word{i}" for i in range(2000))  # no sentence ends at all
    blob = "x" * 3000  # one giant token run without whitespace
    for text in (words, blob, words + ". " + blob):
        chunks = chunker.chunk(art(text))
        assert chunks
        assert max(chunker.count_tokens(c.text) for c in chunks) <= 40
        # nothing is lost: chunks cover the text from first to last character
        assert chunks[0].start == 0 and chunks[-1].end == len(text)


def test_neighbouring_chunks_share_a_sentence(chunker):
    sents = [f"Fact {i} is that the minister met officials on day {i}." for i in range(12)]
    text = " ".join(sents)
    chunks = chunker.chunk(art(text))
    assert len(chunks) >= 3
    for prev, nxt in zip(chunks, chunks[1:]):
        assert nxt.start < prev.end  # overlap
        assert nxt.start > prev.start  # progress
    covered = set()
    for c in chunks:
        covered |= {s for s in sents if s in c.text}
    assert covered == set(sents)


def test_zero_overlap_gives_disjoint_chunks(embedder_path):
    ch = Chunker(embedder_path, max_tokens=30, overlap=0)
    text = " ".join(f"Fact {i} is that the minister met officials on day {i}." for i in range(12))
    chunks = ch.chunk(art(text))
    assert all(n.start >= p.end for p, n in zip(chunks, chunks[1:]))


def test_empty_article_gives_no_chunks(chunker):
    assert chunker.chunk(art("   \n\n  ")) == []


def test_invalid_settings_are_rejected(embedder_path):
    with pytest.raises(ValueError):
        Chunker(embedder_path, max_tokens=2)
    with pytest.raises(ValueError):
        Chunker(embedder_path, overlap=-1)
