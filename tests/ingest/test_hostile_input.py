"""Hostile input at ingestion: no crash, every input accounted for, bounded memory and time.

The fuzz run writes inputs of every kind in ``helpers/hostile_inputs.py`` (gzip bombs, 50 MB lines,
100k-deep JSON, FIFOs, symlink loops, broken encodings, script-laden HTML, odd names, ...) and
ingests them in a child process, so a hang or a crash fails the test instead of the test run.
``QA_HEAVY_TESTS=1`` adds the n=1000 run (a few minutes; ``bench/hostile_ingest.py`` prints the
same figures as a table).
"""

from __future__ import annotations

import gzip
import json
import os
import time
from pathlib import Path

import pytest

from helpers.hostile_ingest import run_ingest
from helpers.hostile_inputs import KINDS, check, generate

from qa.ingest import MAX_TITLE_CHARS, SUPPORTED_SUFFIXES, clean_text, limits, load_articles
from qa.ingest.html import parse_html
from qa.ingest.text import parse_text

SMALL_N = 60  # >= len(KINDS): every kind at least once, every format
HEAVY_N = 1000
SMALL_TIMEOUT_S = 120  # the child is killed (and the test fails) past this: a hang
HEAVY_TIMEOUT_S = 1800
MAX_INGEST_SECONDS = 60  # the small run takes ~2 s; a quadratic regression takes minutes
MAX_PEAK_RSS_MB = 4 * limits.MAX_INPUT_BYTES / (1 << 20)  # one file at the read cap, a few copies
QUADRATIC_PROBE_CHARS = 200_000  # long enough that quadratic work on these inputs takes minutes
MAX_PROBE_SECONDS = 5.0  # linear work takes ~0.05 s


def fuzz(tmp_path: Path, n: int, timeout: float):
    cases = generate(tmp_path / "inputs", n, seed=0)
    result = run_ingest(tmp_path / "inputs", timeout=timeout)
    return cases, result, check(cases, result)


@pytest.mark.slow
def test_hostile_inputs_do_not_crash_and_are_all_accounted_for(tmp_path):
    assert SMALL_N >= len(KINDS)
    cases, result, verdict = fuzz(tmp_path, SMALL_N, SMALL_TIMEOUT_S)
    assert {c.kind for c in cases} == {k.name for k in KINDS}
    assert {c.fmt for c in cases} == set(SUPPORTED_SUFFIXES)
    assert not verdict.crashes, verdict.crashes
    assert verdict.ok, "\n".join(verdict.problems())
    # every input not ignored by design left a trace; the report adds up (check() verifies both)
    assert result["records"] == verdict.articles + result["skipped_records"] + verdict.duplicates
    reasons = {c.kind: [r for s, r in result["skipped"] if s.split("#")[0] == str(c.path)] for c in cases}
    assert any("decompresses past" in r for r in reasons["gzip_bomb_1gb"])
    assert any(("too long" in r or "limit" in r) for r in reasons["huge_line_50mb"])
    assert any("not a regular file (a FIFO)" in r for r in reasons["fifo"])
    assert any("nested too deeply" in r for r in reasons["json_deep_100k"])
    assert result["seconds"] < MAX_INGEST_SECONDS, result["seconds"]
    assert result["peak_rss_mb"] < MAX_PEAK_RSS_MB, result["peak_rss_mb"]


@pytest.mark.slow
@pytest.mark.skipif(os.environ.get("QA_HEAVY_TESTS") != "1", reason="set QA_HEAVY_TESTS=1 for the n=1000 fuzz run")
def test_hostile_inputs_heavy(tmp_path):
    cases, result, verdict = fuzz(tmp_path, HEAVY_N, HEAVY_TIMEOUT_S)
    assert verdict.ok, "\n".join(verdict.problems())
    assert result["peak_rss_mb"] < MAX_PEAK_RSS_MB, result["peak_rss_mb"]


# ---------------------------------------------------------------------------------------------
# The caps, one at a time (small limits, in-process)


def test_gzip_is_decompressed_only_up_to_the_cap(tmp_path, monkeypatch):
    monkeypatch.setattr(limits, "MAX_INPUT_BYTES", 1 << 20)
    bomb = tmp_path / "bomb.jsonl.gz"
    bomb.write_bytes(gzip.compress(bytes(4 << 20)))
    fine = tmp_path / "fine.jsonl.gz"
    fine.write_bytes(gzip.compress(json.dumps({"title": "Fine", "text": "A small feed."}).encode()))
    report = load_articles([tmp_path])
    assert [a.title for a in report.articles] == ["Fine"]
    assert report.skipped == [(str(bomb), report.skipped[0][1])]
    assert report.skipped[0][1].startswith("gzip decompresses past 1 MB (MAX_INPUT_BYTES)")
    assert str(bomb) not in report.complete_files  # an unread file keeps its articles in the index


def test_an_article_over_the_cap_is_skipped_with_a_reason(tmp_path, monkeypatch):
    monkeypatch.setattr(limits, "MAX_ARTICLE_CHARS", 1000)
    sentence = "The harbour board met again. "
    (tmp_path / "long.txt").write_text("Long\n\n" + sentence * 50)  # 1450 characters
    (tmp_path / "short.txt").write_text("Short\n\n" + sentence * 30)  # 870
    report = load_articles([tmp_path])
    assert [a.title for a in report.articles] == ["Short"]
    assert report.skipped[0][0].endswith("long.txt")
    assert report.skipped[0][1].startswith("article too long: 1,449 characters of text after cleaning, over 1,000")


def test_a_huge_json_text_field_is_skipped_before_cleaning(tmp_path, monkeypatch):
    monkeypatch.setattr(limits, "MAX_RAW_ARTICLE_CHARS", 100)
    feed = tmp_path / "feed.jsonl"
    feed.write_text(json.dumps({"title": "Big", "text": "x " * 100}) + "\n"
                    + json.dumps({"title": "Small", "text": "A short story."}) + "\n")
    report = load_articles([feed])
    assert [a.title for a in report.articles] == ["Small"]
    assert report.skipped == [(f"{feed}#1", "article too long: 200 characters of text before cleaning, over 100 "
                                            "(MAX_RAW_ARTICLE_CHARS)")]


def test_a_single_article_file_over_the_cap_is_not_read(tmp_path, monkeypatch):
    monkeypatch.setattr(limits, "MAX_ARTICLE_FILE_BYTES", 1 << 20)
    big = tmp_path / "big.html"
    big.write_bytes(b"<p>" + b"word " * (300 << 10) + b"</p>")
    report = load_articles([big])
    assert report.articles == [] and "over the 1 MB limit (MAX_ARTICLE_FILE_BYTES)" in report.skipped[0][1]


def test_titles_are_cut_and_huge_urls_dropped(tmp_path):
    feed = tmp_path / "feed.json"
    feed.write_text(json.dumps([{"title": "word " * 2000, "text": "Body.", "url": "http://x.test/" + "a" * 10_000}]))
    (article,) = load_articles([feed]).articles
    assert len(article.title) <= MAX_TITLE_CHARS and article.title.endswith(" ...") and article.url == ""


def test_a_file_of_non_records_is_given_up_on(tmp_path, monkeypatch):
    monkeypatch.setattr(limits, "MAX_SKIPPED_RECORDS_PER_FILE", 10)
    feed = tmp_path / "numbers.jsonl"
    feed.write_text("1\n" * 100 + json.dumps({"title": "Late", "text": "Never reached."}) + "\n")
    report = load_articles([feed])
    assert report.records == report.skipped_records == 10 and report.articles == []
    assert report.skipped[-1] == (str(feed), "gave up after 10 skipped records (MAX_SKIPPED_RECORDS_PER_FILE); "
                                             "the rest of the file was not read")


@pytest.mark.parametrize("content", ["", "\n\n", "[]"])
def test_a_feed_without_records_still_leaves_a_trace(tmp_path, content):
    feed = tmp_path / ("feed.json" if content == "[]" else "feed.jsonl")
    feed.write_text(content)
    report = load_articles([feed])
    assert len(report.skipped) == 1 and report.skipped[0][0] == str(feed) and report.file_problems == 1
    assert str(feed) in report.complete_files  # read in full: what it held before is gone from it


def test_special_files_are_skipped_not_read(tmp_path):
    os.mkfifo(tmp_path / "pipe.txt")
    os.symlink("/dev/zero", tmp_path / "zeros.jsonl")
    os.symlink("loop.md", tmp_path / "loop.md")
    report = load_articles([tmp_path])
    assert sorted(reason for _, reason in report.skipped) == [
        "cannot read file: Too many levels of symbolic links",
        "not a regular file (a FIFO)", "not a regular file (a character device)"]


def test_utf16_with_a_bom_is_read(tmp_path):
    (tmp_path / "a.txt").write_bytes("Caf\u00e9 opens\n\nThe caf\u00e9 opened on Monday.\n".encode("utf-16"))
    (tmp_path / "b.jsonl").write_bytes((json.dumps({"title": "B", "text": "Na\u00efve."}, ensure_ascii=False)
                                        + "\n").encode("utf-16"))
    texts = sorted(a.text for a in load_articles([tmp_path]).articles)
    assert texts == ["Na\u00efve.", "The caf\u00e9 opened on Monday."]


def test_lone_surrogates_from_json_escapes_are_dropped(tmp_path):
    feed = tmp_path / "feed.jsonl"
    feed.write_text('{"title": "A \\ud800 title", "text": "Body \\udfff with \\ud83d\\ude00."}\n')
    (article,) = load_articles([feed]).articles
    assert article.title == "A title" and article.text == "Body with \U0001F600."
    article.text.encode("utf-8")  # and it can be written out


@pytest.mark.parametrize("name, run", [
    ("markdown [", lambda n: parse_text("T\n\n" + "[" * n, "s", "s", markdown=True)),
    ("markdown **a", lambda n: parse_text("T\n\n" + "**a " * (n // 4), "s", "s", markdown=True)),
    ("markdown ![", lambda n: parse_text("T\n\n" + "![" * (n // 2), "s", "s", markdown=True)),
    ("markdown heading", lambda n: parse_text("# " + "#" * n + "x\n\nbody", "s", "s", markdown=True)),
    ("hard-wrapped lines", lambda n: clean_text("short line here\n" * (n // 16))),
    ("html <a flood", lambda n: parse_html("<p>x</p>" + "<a" * (n // 2), "s", "s")),
    ("html quoted >", lambda n: parse_html("'<a b=' <!-- -- >" * (n // 17), "s", "s")),
    ("html <nav> flood", lambda n: parse_html("<nav>" * (n // 9) + "</x>" * (n // 9), "s", "s")),
])
def test_inputs_that_invite_quadratic_work_take_linear_time(name, run):
    start = time.perf_counter()
    run(QUADRATIC_PROBE_CHARS)
    assert time.perf_counter() - start < MAX_PROBE_SECONDS, name
