"""Sources as people read them, and the filters built on them."""

import pytest

from qa.store.versions import ArticleMeta
from qa.text.sources import display_source, relative_source, source_label
from qa.types import Filters


def test_url_wins_then_path_relative_to_its_corpus_folder(tmp_path):
    corpus = tmp_path / "corpus"
    assert display_source(str(corpus / "a.txt"), "https://www.dawn.com/news/1", [corpus]) == "https://www.dawn.com/news/1"
    assert display_source(str(corpus / "sub" / "a.txt"), "", [corpus]) == "sub/a.txt"
    assert display_source(str(tmp_path / "news" / "bbc.jsonl.gz") + "#12", "", [tmp_path / "news"]) == "bbc.jsonl.gz#12"
    assert display_source(str(corpus / "a.txt"), "", [corpus / "a.txt"]) == "a.txt"  # a file given as the corpus


def test_never_an_absolute_path():
    assert relative_source("/srv/secret/place/bbc.jsonl.gz#3", ["/elsewhere"]) == "bbc.jsonl.gz#3"
    assert not relative_source("/srv/secret/a.txt").startswith("/")
    assert relative_source("corpus/a.txt") == "corpus/a.txt"  # already relative: kept


def test_labels_are_hosts_or_corpus_entries(tmp_path):
    assert source_label("/x/a.txt", "https://www.dawn.com/news/1") == "dawn.com"
    assert source_label(str(tmp_path / "c" / "reuters" / "a.txt"), "", [tmp_path / "c"]) == "reuters"
    assert source_label(str(tmp_path / "c" / "bbc.jsonl.gz") + "#4", "", [tmp_path / "c"]) == "bbc.jsonl.gz"


def meta(date=None, source="/data/news/bbc.jsonl.gz#1", url=""):
    return ArticleMeta(id="x", title="t", date=date, source=source, url=url)


def test_filters_dates_inclusive_and_undated_excluded():
    f = Filters(since="2024-01-01", until="2024-01-31")
    assert f.active
    assert f.matches(meta("2024-01-01")) and f.matches(meta("2024-01-31T23:59:00"))
    assert not f.matches(meta("2023-12-31")) and not f.matches(meta("2024-02-01"))
    assert not f.matches(meta(None)) and not f.matches(meta("not a date"))
    assert Filters().matches(meta(None)) and not Filters().active


def test_filters_sources_any_substring_case_insensitive():
    f = Filters(sources=("DAWN.com", "bbc"))
    assert f.matches(meta(source="/x/1.txt", url="https://www.dawn.com/news/1"))
    assert f.matches(meta(source="/data/news/BBC_news.jsonl.gz#3"))
    assert not f.matches(meta(source="/data/news/reuters.jsonl.gz#3"))
    assert Filters(sources=["bbc"]).sources == ("bbc",)  # a list is accepted and kept hashable
    assert not Filters(sources=("", "  ")).active


def test_bad_filters_say_what_is_wrong():
    with pytest.raises(ValueError, match="YYYY-MM-DD"):
        Filters(since="last week")
    with pytest.raises(ValueError, match="after"):
        Filters(since="2024-02-01", until="2024-01-01")
    assert Filters(since="", until=None).since is None
