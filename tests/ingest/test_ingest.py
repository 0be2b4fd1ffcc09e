"""Ingestion: every format, the quirks of the real corpora, and that nothing bad crashes a run."""

from __future__ import annotations

import gzip
import json
import logging
import re
from collections import Counter
from pathlib import Path

import pytest

from qa.ingest import (
    SUPPORTED_SUFFIXES,
    IngestReport,
    article_id,
    clean_text,
    iter_files,
    load_articles,
    parse_date,
)
from qa.types import Article
from conftest import CORPUS, SEED_FILE

ROOT = Path(__file__).resolve().parents[2]
SEED = CORPUS / SEED_FILE  # the session's copy of the seed article, never the checkout's corpus/
NEWS = ROOT.parent / "shared" / "data" / "news"


def write(path: Path, text: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def load_one(path: Path) -> Article:
    report = load_articles([path])
    assert report.skipped == [], report.skipped
    assert len(report.articles) == 1
    return report.articles[0]


# ---------------------------------------------------------------------------------------------
# clean_text, dates, ids


def test_clean_text_paragraphs_spacing_and_control_chars():
    raw = "First  line\twith   tabs.\r\n\r\n\r\n\r\nSecond\x03 para&amp;graph\x00.\n \n\nThird\u00ad one\u200b.  "
    assert clean_text(raw) == "First line with tabs.\n\nSecond para&graph.\n\nThird one."


def test_clean_text_joins_hard_wrapped_lines_and_splits_on_indented_lines():
    body = (
        "Showers continued throughout the week in\n"
        "the Bahia cocoa zone, alleviating the drought since early\n"
        "January.\n"
        "    The dry period means the temporao will be late this year\n"
        "and anti-\n"
        "takeover plans &lt;SRD&gt; were filed.\n"
    )
    assert clean_text(body) == (
        "Showers continued throughout the week in the Bahia cocoa zone, alleviating the drought "
        "since early January.\n\nThe dry period means the temporao will be late this year and "
        "anti-takeover plans <SRD> were filed."
    )


def test_clean_text_keeps_long_lines_as_paragraphs():
    long1, long2 = "a" * 150 + ".", "b" * 150 + "."
    assert clean_text(f"{long1}\n{long2}") == f"{long1}\n\n{long2}"


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("after the talks.The minister said", "after the talks. The minister said"),
        ("he said!Then she left?Nobody knew", "he said! Then she left? Nobody knew"),
        ("“We will resolve it.”The court", "“We will resolve it.” The court"),
        ("on Friday.A disciplinary panel; the riots.ATC-III judge", "on Friday.A disciplinary panel; the riots. ATC-III judge"),
        ("in 2022.The case", "in 2022. The case"),
        ("The U.S. economy grew 3.5 pct, e.g. in Texas", "The U.S. economy grew 3.5 pct, e.g. in Texas"),
        ("Visit Dawn.com or www.dawn.com today", "Visit Dawn.com or www.dawn.com today"),
        ("Ericsson <eric.St.> and BP (BP.L) and Halo.Bungie.Org", "Ericsson <eric.St.> and BP (BP.L) and Halo.Bungie.Org"),
        ("Last month`s bombing, said `They (Chinese)`", "Last month`s bombing, said `They (Chinese)`"),
    ],
)
def test_clean_text_glued_sentences(raw, expected):
    assert clean_text(raw) == expected


def test_clean_text_is_deterministic_and_idempotent():
    raw = "A  b.C d\n\n\n  e &amp; f\r\ng"
    once = clean_text(raw)
    assert once == clean_text(raw)
    assert clean_text(once.replace("&", "&amp;")) == once


@pytest.mark.parametrize(
    "value, iso",
    [
        ("2024-11-13", "2024-11-13"),
        ("2024-11-13T08:30:00+05:00", "2024-11-13T08:30:00"),
        ("2024-11-13 08:30", "2024-11-13T08:30:00"),
        ("November 13, 2024", "2024-11-13"),
        ("Nov. 13 2024", "2024-11-13"),
        ("13 Nov 2024", "2024-11-13"),
        ("13th November, 2024", "2024-11-13"),
        ("Published November 13, 2024", "2024-11-13"),
        ("Wednesday, November 13, 2024", "2024-11-13"),
        ("26-FEB-1987 15:01:01.79", "1987-02-26T15:01:01"),
        ("5-MAR-1987 09:12:00.00&#9;&#9;&#9;F", "1987-03-05T09:12:00"),
        ("31-MAR-1987 605:12:19.12", "1987-03-31"),
        ("27-MAR-1987 12:12:12.85&#5;&#5;&#5;A RM", "1987-03-27T12:12:12"),  # a letter code, not "am"
        ("Wed, 13 Nov 2024 10:20:30 +0000", "2024-11-13T10:20:30"),  # RFC 2822
        ("Nov 13, 2024 at 10:20 PM", "2024-11-13T22:20:00"),
        ("2024-11-13T08:30:00.123456Z", "2024-11-13T08:30:00"),
        ("Last updated: 13 November 2024, 10:20 PKT", "2024-11-13T10:20:00"),
        (1700000000, "2023-11-14T22:13:20"),
        (1700000000000, "2023-11-14T22:13:20"),  # milliseconds
        ("not a date", None),
        ("2024-02-30", None),
        ("2024-11-13T25:00:00", None),
        ("01/02/2024", None),  # day-first or month-first: ambiguous, so undated
        ("November 2024", None),  # no day
        ("Nov 13 24", None),  # no four-digit year
        ("", None),
        (None, None),
        (True, None),
        (1e308, None),
    ],
)
def test_parse_date(value, iso):
    assert parse_date(value) == iso


def test_parse_date_strict_needs_a_whole_date_line():
    assert parse_date("November 13, 2024", strict=True) == "2024-11-13"
    assert parse_date("2024-11-13 was the day the talks began", strict=True) is None


def test_article_id_is_a_stable_16_hex_content_hash():
    aid = article_id("A title", "Some text.")
    assert re.fullmatch(r"[0-9a-f]{16}", aid)
    assert aid == article_id("A  title ", "Some text.")  # title whitespace is normalised
    assert aid != article_id("A title", "Other text.")
    assert aid != article_id("Another title", "Some text.")


# ---------------------------------------------------------------------------------------------
# Plain text and Markdown


def test_seed_article():
    art = load_one(SEED)
    assert art.title == "Beijing pushing Islamabad on joint security plan to protect its citizens"
    assert art.date == "2024-11-13"
    assert art.text.startswith("ISLAMABAD: Beijing is pushing Pakistan")
    assert "font size" not in art.text and "font size" not in art.title
    assert "Last month`s bombing" in art.text  # backticks used as apostrophes stay
    assert "\n\n" in art.text and "\n\n\n" not in art.text
    assert art.source == str(SEED)
    assert art.id == article_id(art.title, art.text)


@pytest.mark.parametrize(
    "date_line", ["2024-11-13", "November 13, 2024", "13 Nov 2024", "Published November 13, 2024"]
)
def test_txt_chrome_title_date_body(tmp_path, date_line):
    path = write(
        tmp_path / "story.txt",
        "Increase font size Decrease font size Reset font size\n\n"
        "Floods hit the north\n\n"
        f"{date_line}\n"
        "PESHAWAR: Heavy rain caused floods.\n\nShare | Tweet | Email\n\nRoads were closed.\n",
    )
    art = load_one(path)
    assert art.title == "Floods hit the north"
    assert art.date == "2024-11-13"
    assert art.text == "PESHAWAR: Heavy rain caused floods.\n\nRoads were closed."


def test_txt_without_date_line(tmp_path):
    art = load_one(write(tmp_path / "a.txt", "Title here\n\nBody one.\n\nBody two."))
    assert (art.title, art.date, art.text) == ("Title here", None, "Body one.\n\nBody two.")


def test_txt_one_paragraph_uses_filename_stem_as_title(tmp_path):
    text = (
        "Markets rallied on Tuesday after the central bank held rates steady, and analysts said "
        "the move had been widely expected given the recent fall in inflation across the region."
    )
    art = load_one(write(tmp_path / "market_rally.txt", text))
    assert art.title == "market_rally"
    assert art.text == text


def test_txt_hard_wrapped_without_blank_line_is_all_body(tmp_path):
    art = load_one(write(tmp_path / "wrapped.txt", "Showers continued throughout the week in\nthe Bahia cocoa zone.\n"))
    assert art.title == "wrapped"
    assert art.text == "Showers continued throughout the week in the Bahia cocoa zone."


def test_txt_with_no_body_is_skipped(tmp_path):
    path = write(tmp_path / "empty_body.txt", "Increase font size Decrease font size\n\nJust a headline\n\n2024-11-13\n")
    report = load_articles([path])
    assert report.articles == []
    assert report.skipped == [(str(path), "empty body")]
    assert (report.files, report.records) == (1, 1)


def test_markdown(tmp_path):
    path = write(
        tmp_path / "note.md",
        "# Budget **passes** in [parliament](https://example.com/p)\n\n"
        "13 Nov 2024\n\n"
        "The *finance* minister said the __budget__ would [cut taxes](https://x.org/a_(b)).\n\n"
        "## Reaction\n\n"
        "- Opposition walked out.\n- Markets rose.\n\n"
        "![chart](chart.png)\n\n---\n\n> Quoted line with snake_case_name.\n",
    )
    art = load_one(path)
    assert art.title == "Budget passes in parliament"
    assert art.date == "2024-11-13"
    assert art.text == (
        "The finance minister said the budget would cut taxes.\n\nReaction\n\n"
        "Opposition walked out.\n\nMarkets rose.\n\nQuoted line with snake_case_name."
    )
    assert "#" not in art.text and "](" not in art.text and "*" not in art.text


# ---------------------------------------------------------------------------------------------
# HTML

HTML_PAGE = """<!DOCTYPE html>
<html><head><title>Site | Fallback title</title>
<meta property="article:published_time" content="2024-03-05T08:30:00+05:00">
<link rel="canonical" href="https://example.com/news/1">
<style>.x { color: red } LEAKSTYLE</style>
<script>var secret = "LEAKSCRIPT";</script></head>
<body>
<header><nav>Home | World | LEAKNAV</nav><h1>Site logo LEAKLOGO</h1></header>
<article>
  <h1>Floods &amp; landslides hit north</h1>
  <p>Heavy rain caused floods &amp; landslides &lt;officials said&gt;.
     It kept falling.</p>
  <script>alert("LEAKSCRIPT2")</script>
  <div>Second&nbsp;paragraph with caf&eacute;<br>after a break.</div>
  <aside>Related: LEAKASIDE</aside>
  <form><input name="q"> LEAKFORM</form>
</article>
<footer>Copyright LEAKFOOT</footer>
</body></html>
"""


def test_html_article(tmp_path):
    art = load_one(write(tmp_path / "page.html", HTML_PAGE))
    assert art.title == "Floods & landslides hit north"
    assert art.text == (
        "Heavy rain caused floods & landslides <officials said>. It kept falling.\n\n"
        "Second paragraph with café\n\nafter a break."
    )
    assert "LEAK" not in art.text and "LEAK" not in art.title
    assert art.date == "2024-03-05T08:30:00"
    assert art.url == "https://example.com/news/1"


def test_html_main_body_title_tag_and_time(tmp_path):
    page = (
        "<html><head><title>Only the title tag</title><meta property='og:url' content='https://e.org/2'>"
        "</head><body><nav>menu LEAK</nav><p>outside main LEAK</p><main><time datetime='2023-07-01'>July 1</time>"
        "<p>Main text &#8212; here.</p><noscript>LEAK</noscript><svg><text>LEAK</text><path d='M0'/></svg>"
        "<p>More main text.</p></main></body></html>"
    )
    art = load_one(write(tmp_path / "page.htm", page))
    assert art.title == "Only the title tag"
    assert art.text == "July 1\n\nMain text \u2014 here.\n\nMore main text."
    assert art.date == "2023-07-01"
    assert art.url == "https://e.org/2"


def test_html_without_text_is_skipped(tmp_path):
    path = write(tmp_path / "blank.html", "<html><body><nav>Only navigation</nav><script>x()</script></body></html>")
    report = load_articles([path])
    assert report.articles == [] and report.skipped == [(str(path), "empty body")]


NEWS_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>Harbour board backs dredging plan | Example News</title>
<meta property="og:title" content="Harbour board backs dredging plan">
<link rel="canonical" href="https://news.example.com/2024/07/03/harbour-dredging">
</head><body>
<header><a href="/">Example News</a><nav><a href="/world">World</a> <a href="/sport">Sport LEAKNAV</a></nav></header>
<div class="share-bar"><a href="#">Share</a> <a href="#">Tweet</a> <a href="#">Email</a></div>
<main><article>
<h1>Harbour board backs dredging plan</h1>
<p>KARACHI: The harbour board on Wednesday approved a plan to dredge the main shipping channel before the
monsoon, officials said, ending months of argument over who would pay for the work.</p>
<p>The channel has silted up since last year, and ships of more than 40,000 tonnes have had to wait for high
tide to enter the port, adding days to their turnaround.</p>
<p>“We cannot afford another season like the last one,” the board’s chairman told reporters after the
meeting.The dredging is expected to take four months.</p>
<div class="related"><h3>Related stories</h3><ul><li><a href="/a">Port traffic falls LEAKRELATED</a></li>
<li><a href="/b">Monsoon forecast LEAKRELATED</a></li></ul></div>
</article>
<section id="comments" class="comments"><h3>Comments (2)</h3><div class="comment"><p>Great news LEAKCOMMENT</p></div>
<div class="comment"><p>About time LEAKCOMMENT</p></div></section>
</main>
<aside><h3>Most read</h3><ul><li><a href="/x">Something else LEAKASIDE</a></li></ul></aside>
<footer><p>&copy; 2024 Example News LEAKFOOT</p></footer>
<script>var tracking = "LEAKSCRIPT";</script>
</body></html>
"""


def test_html_news_page_keeps_the_story_and_drops_the_page_furniture(tmp_path):
    art = load_one(write(tmp_path / "news.html", NEWS_PAGE))  # long enough for trafilatura's own extraction
    assert art.title == "Harbour board backs dredging plan"
    assert art.url == "https://news.example.com/2024/07/03/harbour-dredging"
    assert art.date == "2024-07-03"  # from the url
    paragraphs = art.text.split("\n\n")
    assert len(paragraphs) == 3
    assert paragraphs[0].startswith("KARACHI: The harbour board on Wednesday approved a plan to dredge the main "
                                    "shipping channel before the monsoon")  # one paragraph, unwrapped
    assert paragraphs[2].endswith("after the meeting. The dredging is expected to take four months.")  # unglued
    assert "LEAK" not in art.text and "Related stories" not in art.text and "Share" not in art.text


def _dated_page(head: str = "", lead: str = "", foot: str = "") -> str:
    return (f"<html><head><title>Harbour plan</title>{head}</head><body><article><h1>Harbour plan</h1>{lead}"
            f"<p>The harbour board met on Tuesday and agreed to dredge the channel.</p></article>{foot}</body></html>")


@pytest.mark.parametrize(
    "page, iso",
    [
        (_dated_page(lead="<p>Published 2024-07-03</p>"), "2024-07-03"),  # found nowhere before trafilatura
        (_dated_page(lead="<p>Published: July 3, 2024</p>"), "2024-07-03"),
        (_dated_page(head='<meta property="article:published_time" content="2024-07-03T14:05:00+02:00">'),
         "2024-07-03T14:05:00"),
        (_dated_page(lead='<time datetime="2024-07-03T09:15:00Z">3 July</time>'), "2024-07-03T09:15:00"),
        (_dated_page(lead='<p>By Staff, <time datetime="2024-07-03">3 July 2024</time></p>'), "2024-07-03"),
        (_dated_page(head='<script type="application/ld+json">{"@context": "https://schema.org", "@type": '
                          '"NewsArticle", "datePublished": "2024-07-03T06:45:00+05:00"}</script>'),
         "2024-07-03T06:45:00"),
        # a month or a copyright year is no publication date (htmldate would say the 1st)
        (_dated_page(lead="<p>In July 2024 the board met.</p>", foot="<footer>&copy; 2024 Example</footer>"), None),
        (_dated_page(), None),
    ],
)
def test_html_dates(tmp_path, page, iso):
    assert load_one(write(tmp_path / "dated.html", page)).date == iso


# ---------------------------------------------------------------------------------------------
# JSON, JSON Lines, gzip


def record(i: int, **extra) -> dict:
    return {"title": f"Story {i}", "text": f"Body of story number {i}.", **extra}


def test_json_list(tmp_path):
    path = write(
        tmp_path / "list.json",
        json.dumps([
            {"headline": "First", "body": "One.", "published_at": "2024-01-02T03:04:05Z", "link": "https://a/1"},
            {"title": "Second", "content": "Two.", "pubdate": "January 3, 2024", "url": "https://a/2"},
            {"title": "Third", "article": ["Para one.", "Para two."], "publish_date": "garbage"},
        ]),
    )
    report = load_articles([path])
    assert report.skipped == []
    a, b, c = report.articles
    assert (a.title, a.text, a.date, a.url, a.source) == ("First", "One.", "2024-01-02T03:04:05", "https://a/1", f"{path}#1")
    assert (b.title, b.text, b.date, b.url, b.source) == ("Second", "Two.", "2024-01-03", "https://a/2", f"{path}#2")
    assert (c.text, c.date, c.source) == ("Para one.\n\nPara two.", None, f"{path}#3")  # bad date is not a skip


def test_json_single_object_and_articles_key(tmp_path):
    one = write(tmp_path / "one.json", json.dumps(record(1, date="2024-05-06")))
    wrapped = write(tmp_path / "wrapped.json", json.dumps({"articles": [record(2), record(3)], "count": 2}))
    report = load_articles([one, wrapped])
    assert [a.title for a in report.articles] == ["Story 1", "Story 2", "Story 3"]
    assert report.articles[0].source == f"{one}#1" and report.articles[0].date == "2024-05-06"
    assert (report.files, report.records) == (2, 3)


def test_json_bad_records_are_skipped_with_reasons(tmp_path):
    path = write(
        tmp_path / "mixed.json",
        json.dumps([record(1), "just a string", {"title": "No text"}, {"title": "Empty", "text": "  \n "}, record(5)]),
    )
    report = load_articles([path])
    assert [a.title for a in report.articles] == ["Story 1", "Story 5"]
    reasons = dict(report.skipped)
    assert reasons[f"{path}#2"].startswith("record is a JSON str")
    assert reasons[f"{path}#3"].startswith("no text field")
    assert reasons[f"{path}#4"] == "empty body"
    assert report.records == 5


def test_invalid_json_file_is_skipped(tmp_path):
    bad = write(tmp_path / "bad.json", '{"title": "x", "text": ')
    good = write(tmp_path / "good.json", json.dumps(record(1)))
    report = load_articles([bad, good])
    assert [a.title for a in report.articles] == ["Story 1"]
    assert len(report.skipped) == 1 and report.skipped[0][0] == str(bad)
    assert report.skipped[0][1].startswith("invalid JSON on line 1")


def test_jsonl_bad_line_is_skipped_with_its_line_number(tmp_path):
    lines = [json.dumps(record(1)), json.dumps(record(2)), "", '{"title": "broken", "text": "x"', json.dumps(record(4))]
    path = write(tmp_path / "feed.jsonl", "\n".join(lines) + "\n")
    report = load_articles([path])
    assert [a.title for a in report.articles] == ["Story 1", "Story 2", "Story 4"]
    assert [a.source for a in report.articles] == [f"{path}#1", f"{path}#2", f"{path}#4"]
    assert len(report.skipped) == 1
    source, reason = report.skipped[0]
    assert source == f"{path}#3" and reason.startswith("invalid JSON on line 4")
    assert report.records == 4  # the blank line is not a record


def test_jsonl_gz_and_json_gz(tmp_path):
    jl = tmp_path / "feed.jsonl.gz"
    jl.write_bytes(gzip.compress("\n".join(json.dumps(record(i)) for i in range(3)).encode()))
    js = tmp_path / "list.json.gz"
    js.write_bytes(gzip.compress(json.dumps([record(10), record(11)]).encode()))
    report = load_articles([jl, js])
    assert [a.title for a in report.articles] == ["Story 0", "Story 1", "Story 2", "Story 10", "Story 11"]
    assert report.articles[3].source == f"{js}#1"
    assert report.skipped == [] and (report.files, report.records) == (2, 5)


def test_truncated_jsonl_gz_keeps_the_records_before_the_break(tmp_path):
    data = gzip.compress("\n".join(json.dumps(record(i, pad="x" * 50)) for i in range(200)).encode())
    path = tmp_path / "cut.jsonl.gz"
    path.write_bytes(data[: len(data) // 2])
    report = load_articles([path])
    assert 0 < len(report.articles) < 200
    assert [a.title for a in report.articles] == [f"Story {i}" for i in range(len(report.articles))]
    assert len(report.skipped) == 1
    source, reason = report.skipped[0]
    assert source == str(path) and "truncated or corrupt gzip" in reason and "rest of the file" in reason


def test_truncated_json_gz_keeps_the_complete_elements(tmp_path):
    data = gzip.compress(json.dumps([record(i, pad="y" * 50) for i in range(200)]).encode())
    path = tmp_path / "cut.json.gz"
    path.write_bytes(data[: len(data) // 2])
    report = load_articles([path])
    assert 0 < len(report.articles) < 200
    assert report.articles[0].title == "Story 0"
    assert len(report.skipped) == 1 and "truncated or corrupt gzip" in report.skipped[0][1]


def test_not_a_gzip_file(tmp_path):
    path = write(tmp_path / "fake.jsonl.gz", json.dumps(record(1)))
    report = load_articles([path])
    assert report.articles == [] and len(report.skipped) == 1 and "gzip" in report.skipped[0][1]


def test_reuters_style_record(tmp_path):
    body = (
        "Standard Oil Co and BP North America\n"
        "Inc said they plan to form a venture &lt;SRD&gt; to manage the money market\n"
        "borrowing and investment activities of both companies.\n"
        "    BP North America is a subsidiary of British Petroleum Co\n"
        "Plc &lt;BP>, which also owns a 55 pct interest &amp; more.\n"
        " Reuter\n&#3;"
    )
    recs = [
        {"newid": 2, "date": "26-FEB-1987 15:02:20.00", "title": "STANDARD OIL &lt;SRD> TO FORM FINANCIAL UNIT",
         "dateline": "CLEVELAND, Feb 26 -", "body": body, "topics": []},
        {"newid": 3, "date": "26-FEB-1987 15:03:27.51", "title": "", "dateline": "HOUSTON, Feb 26 -", "body": ""},
        {"newid": 4, "date": "26-FEB-1987 15:04:00.00", "title": "", "dateline": "", "body": "Qtly div 25 cts vs 25 cts prior\n    Pay April 30"},
    ]
    path = tmp_path / "reuters.jsonl.gz"
    path.write_bytes(gzip.compress("\n".join(json.dumps(r) for r in recs).encode()))
    report = load_articles([path])
    assert report.skipped == [(f"{path}#2", "empty body")]
    art, brief = report.articles
    assert art.title == "STANDARD OIL <SRD> TO FORM FINANCIAL UNIT"
    assert art.date == "1987-02-26T15:02:20"
    assert art.text == (
        "CLEVELAND, Feb 26 - Standard Oil Co and BP North America Inc said they plan to form a venture "
        "<SRD> to manage the money market borrowing and investment activities of both companies.\n\n"
        "BP North America is a subsidiary of British Petroleum Co Plc <BP>, which also owns a 55 pct "
        "interest & more."
    )
    assert brief.title == "Qtly div 25 cts vs 25 cts prior Pay April 30"  # no title: first words
    assert brief.text == "Qtly div 25 cts vs 25 cts prior\n\nPay April 30"


def test_dawn_style_record(tmp_path):
    path = write(
        tmp_path / "dawn.json",
        json.dumps([{
            "title": "Pre-arrest bail of Imran extended\n",
            "url": "https://www.dawn.com/news/1821733/pre-arrest-bail",
            "text": "LAHORE: A court on Friday extended the bail in three cases of  riots.The judge adjourned "
                    "the hearing till March 22.“We will appeal,” he said.Dear visitor, the comments section "
                    "is undergoing an overhaul and will return soon.",
        }]),
    )
    art = load_one(path)
    assert art.title == "Pre-arrest bail of Imran extended"
    assert art.url == "https://www.dawn.com/news/1821733/pre-arrest-bail"
    assert art.text == (
        "LAHORE: A court on Friday extended the bail in three cases of riots. The judge adjourned the "
        "hearing till March 22. “We will appeal,” he said."
    )


# ---------------------------------------------------------------------------------------------
# Files, folders, errors, duplicates, report


def test_iter_files_recursive_sorted_and_filtered(tmp_path):
    write(tmp_path / "b.txt", "x")
    write(tmp_path / "a" / "z.md", "x")
    write(tmp_path / "a" / "y.jsonl.gz", b"")
    write(tmp_path / "c.json", "[]")
    write(tmp_path / ".hidden.txt", "x")
    write(tmp_path / ".git" / "HEAD.txt", "x")
    write(tmp_path / "notes.pdf", "x")
    write(tmp_path / "archive.gz", b"x")
    files = [p.relative_to(tmp_path).as_posix() for p in iter_files([tmp_path])]
    assert files == ["a/y.jsonl.gz", "a/z.md", "b.txt", "c.json"]
    # a file named twice (directly and through its folder) is read once
    assert len(list(iter_files([tmp_path / "b.txt", tmp_path]))) == 4
    assert set(SUPPORTED_SUFFIXES) == {".txt", ".md", ".html", ".htm", ".json", ".jsonl", ".jsonl.gz", ".json.gz"}


def test_missing_path_raises_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope"):
        load_articles([tmp_path / "nope"])


def test_unsupported_file_named_explicitly_is_skipped(tmp_path):
    pdf = write(tmp_path / "report.pdf", b"%PDF-1.4")
    good = write(tmp_path / "ok.txt", "Title\n\nBody.")
    report = load_articles([pdf, good])
    assert [a.title for a in report.articles] == ["Title"]
    assert len(report.skipped) == 1
    assert report.skipped[0][0] == str(pdf) and "unsupported file type '.pdf'" in report.skipped[0][1]
    assert (report.files, report.records) == (1, 1)


def test_non_utf8_file_is_skipped(tmp_path):
    bad = write(tmp_path / "latin1.txt", "Caf\u00e9 news\n\nThe caf\u00e9 opened.".encode("latin-1"))
    good = write(tmp_path / "ok.txt", "Title\n\nBody.")
    report = load_articles([tmp_path])
    assert [a.source for a in report.articles] == [str(good)]
    assert len(report.skipped) == 1
    assert report.skipped[0][0] == str(bad) and report.skipped[0][1].startswith("not UTF-8")


def test_non_utf8_jsonl_line_is_skipped(tmp_path):
    path = write(tmp_path / "x.jsonl", json.dumps(record(1)).encode() + b"\n" + '{"title": "Caf\u00e9", "text": "x"}'.encode("latin-1") + b"\n")
    report = load_articles([path])
    assert [a.title for a in report.articles] == ["Story 1"]
    assert report.skipped == [(f"{path}#2", "not UTF-8 on line 2")]


def test_duplicates_across_files_keep_the_first(tmp_path):
    write(tmp_path / "a.txt", "Same story\n\nSame body text.")
    write(tmp_path / "b.json", json.dumps([{"title": "Same story", "text": "Same  body text.\n"}, record(2)]))
    report = load_articles([tmp_path])
    assert report.duplicates == 1
    assert [a.source for a in report.articles] == [str(tmp_path / "a.txt"), f"{tmp_path / 'b.json'}#2"]
    assert report.summary() == "3 records in 2 files: 2 articles, 0 skipped, 1 duplicate"


def test_ids_are_stable_across_loads(tmp_path):
    write(tmp_path / "a.txt", "Title one\n\nBody one.")
    write(tmp_path / "b.jsonl", json.dumps(record(7)))
    write(tmp_path / "c.html", HTML_PAGE)
    first = load_articles([tmp_path]).articles
    second = load_articles([tmp_path]).articles
    assert [a.id for a in first] == [a.id for a in second]
    assert len({a.id for a in first}) == 3
    assert all(a.id == article_id(a.title, a.text) for a in first)


def test_summary_and_report_types(tmp_path):
    report = load_articles([write(tmp_path / "a.txt", "T\n\nB.")])
    assert isinstance(report, IngestReport)
    assert report.summary() == "1 record in 1 file: 1 article, 0 skipped, 0 duplicates"


def test_skip_warnings_are_capped(tmp_path, caplog):
    path = write(tmp_path / "many.jsonl", "\n".join(json.dumps({"title": f"t{i}", "text": ""}) for i in range(50)))
    with caplog.at_level(logging.WARNING, logger="qa.ingest"):
        report = load_articles([path])
    assert len(report.skipped) == 50
    warnings = [r.getMessage() for r in caplog.records if r.name == "qa.ingest" and r.levelno == logging.WARNING]
    assert len(warnings) == 21
    assert "30 more" in warnings[-1]


def test_progress_bar_does_not_change_results(tmp_path, capsys):
    write(tmp_path / "a.txt", "Title\n\nBody.")
    assert [a.id for a in load_articles([tmp_path], progress=True).articles] == [
        a.id for a in load_articles([tmp_path]).articles
    ]


# ---------------------------------------------------------------------------------------------
# The real corpora


@pytest.mark.slow
def test_real_corpora():
    if not NEWS.is_dir():
        pytest.skip(f"../shared/data/news not present: {NEWS} (the real BBC/Reuters/Dawn corpora)")
    report = load_articles([NEWS])
    assert report.files == 4
    assert report.records == 2_225 + 21_578 + 15
    assert len(report.articles) > 20_000
    by_file = Counter(a.source.split("#")[0].rsplit("/", 1)[-1] for a in report.articles)
    assert 2_000 < by_file["bbc_news_2225.jsonl.gz"] <= 2_225
    assert by_file["dawn_pakistan_15.json"] == 15
    reuters = by_file["reuters21578_part1.jsonl.gz"] + by_file["reuters21578_part2.jsonl.gz"]
    assert 18_000 < reuters <= 21_578
    # per-file record counts: the highest record number seen among articles and skips
    highest = Counter()
    for source in [a.source for a in report.articles] + [s for s, _ in report.skipped]:
        name, _, n = source.rpartition("#")
        highest[name.rsplit("/", 1)[-1]] = max(highest[name.rsplit("/", 1)[-1]], int(n))
    assert highest["bbc_news_2225.jsonl.gz"] == 2_225
    assert highest["reuters21578_part1.jsonl.gz"] + highest["reuters21578_part2.jsonl.gz"] == 21_578
    assert highest["dawn_pakistan_15.json"] == 15
    # Reuters' empty bodies are the only skips
    assert report.skipped and {reason for _, reason in report.skipped} == {"empty body"}
    assert all("reuters" in source for source, _ in report.skipped)
    assert len(report.articles) + len(report.skipped) + report.duplicates == report.records

    dawn = [a for a in report.articles if "dawn_pakistan" in a.source]
    assert all(a.title == a.title.strip() and "\n" not in a.title for a in dawn)
    assert all(re.match(r"https://\w+\.dawn\.com/", a.url) for a in dawn)
    assert not [m for a in dawn for m in re.findall(r"[a-z]{3}\.[A-Z][a-z]", a.text)]
    assert not any("Dear visitor" in a.text for a in dawn)

    reuters_arts = [a for a in report.articles if "reuters" in a.source]
    # every Reuters date parses; one has a broken time ("31-MAR-1987 605:12:19.12") and keeps the day
    assert all(re.fullmatch(r"19\d\d-\d\d-\d\d(T\d\d:\d\d:\d\d)?", a.date or "") for a in reuters_arts)
    assert all(a.title for a in report.articles)
    assert not any(re.search(r"&(?:lt|gt|amp|#\d+);|[\x00-\x08\x0b-\x1f]", a.text) for a in report.articles)


def test_summary_arithmetic_adds_up_with_every_kind_of_skip(tmp_path):
    write(tmp_path / "a.txt", "Same story\n\nSame body text.")
    write(tmp_path / "empty.txt", "")  # a .txt is one record: skipped record
    lines = [json.dumps(record(1)), "{not json", json.dumps({"title": "No body", "text": ""}),
             json.dumps({"title": "Same story", "text": "Same body text."})]  # a duplicate of a.txt
    write(tmp_path / "b.jsonl", "\n".join(lines))
    write(tmp_path / "broken.json", "{oops")  # a file problem, not a record
    pdf = write(tmp_path / "x.pdf", b"%PDF")  # unsupported: not among the files read
    report = load_articles([tmp_path, pdf])
    assert (report.records, len(report.articles), report.skipped_records, report.duplicates) == (6, 2, 3, 1)
    assert report.records == len(report.articles) + report.skipped_records + report.duplicates
    assert (report.files, report.unsupported, report.file_problems) == (4, 1, 1)
    assert report.summary() == (
        "6 records in 4 files: 2 articles, 3 skipped, 1 duplicate; "
        "also skipped: 1 unsupported file, 1 empty, unreadable or cut-short file (reasons logged)"
    )


def test_report_tells_the_indexer_which_files_were_read_in_full(tmp_path):
    good = write(tmp_path / "good.jsonl", json.dumps(record(1)) + "\n" + json.dumps(record(1)))
    broken = write(tmp_path / "broken.json", "{oops")
    report = load_articles([tmp_path])
    assert report.complete_files == {str(good)}
    assert report.sources == {f"{good}#1", f"{good}#2"}  # the duplicate's slot is held too
    assert str(broken) not in report.complete_files
