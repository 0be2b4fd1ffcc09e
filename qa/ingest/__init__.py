"""Article ingestion: turn a folder of news files into cleaned, de-duplicated ``Article`` records.

Supported inputs: plain text (``.txt``), Markdown (``.md``), HTML (``.html``/``.htm``), JSON
(a list of records, one record, or a list under ``articles``/``data``/``records``), JSON Lines,
and gzip-compressed ``.json.gz``/``.jsonl.gz``. Nothing in here raises on bad input: every
unreadable file, malformed record or empty body becomes a ``(source, reason)`` entry in
``IngestReport.skipped`` so one broken file never stops a 20,000-article run.

One module per job:

- ``loader``: ``load_articles`` (the run and its report), ``load_files`` (exactly these files) and ``load_file`` (dispatch on the suffix);
- ``files``: reading bytes safely (regular files only, size caps, bounded gunzip), decoding, finding files;
- ``text``, ``html``, ``records``: the readers for ``.txt``/``.md``, HTML pages (trafilatura), JSON feeds;
- ``clean``: the text normalisation every reader shares, and ``article_id``;
- ``dates``: ``parse_date`` (dateutil);
- ``article``: building an ``Article`` (footers, caps, stand-in title, id);
- ``report``: ``IngestReport``, skips and the summary line;
- ``limits``: the caps below.

Article ids are content hashes of the *cleaned* title and text, so ``clean_text`` must stay
deterministic: changing it changes every id downstream (chunks, index, citations).

Hostile input is bounded, so no file can stall a run or exhaust memory (see ``bench/hostile_ingest.py``;
the caps live in ``qa.ingest.limits``, where a test lowers them):

- an article whose cleaned text is longer than ``MAX_ARTICLE_CHARS`` (1,000,000 characters, about
  150,000 words, a hundred long news stories) is *skipped* with a reason, not truncated: nothing
  that long is one news article (it is a dump, a log or an attack), and a truncated copy would get
  an id that depends on the cap. A single-article file (``.txt``/``.md``/``.html``) over
  ``MAX_ARTICLE_FILE_BYTES`` and a JSON text field over ``MAX_RAW_ARTICLE_CHARS`` are skipped before
  cleaning, so a 50 MB line costs a ``stat`` or one ``json.loads``, not minutes of regexes;
- titles are cut to ``MAX_TITLE_CHARS`` and urls over ``MAX_URL_CHARS`` are dropped (every chunk
  carries its title into both retrievers);
- a file is read, and a gzip stream decompressed, only up to ``MAX_INPUT_BYTES``: a bigger file or
  a gzip bomb is skipped ("decompresses past 256 MB"); a ``.json`` document, parsed whole, may be
  at most ``MAX_JSON_BYTES`` (JSON Lines are parsed a line at a time);
- after ``MAX_SKIPPED_RECORDS_PER_FILE`` skipped records a file is given up on (the rest is a
  file-level skip), so a file of millions of non-records cannot fill memory with skip entries;
- only regular files are read (a FIFO, a device or a symlink loop is a skip, never a hang);
- HTML is parsed by libxml2, linear in the page and with bounded nesting.
"""

from __future__ import annotations

from qa.ingest.clean import article_id, clean_text, clean_title
from qa.ingest.dates import parse_date
from qa.ingest.files import SUPPORTED_SUFFIXES, iter_files
from qa.ingest.html import parse_html
from qa.ingest.limits import (
    MAX_ARTICLE_CHARS,
    MAX_ARTICLE_FILE_BYTES,
    MAX_INPUT_BYTES,
    MAX_JSON_BYTES,
    MAX_RAW_ARTICLE_CHARS,
    MAX_SKIP_WARNINGS,
    MAX_SKIPPED_RECORDS_PER_FILE,
    MAX_TITLE_CHARS,
    MAX_URL_CHARS,
)
from qa.ingest.loader import load_articles, load_file, load_files
from qa.ingest.records import parse_record
from qa.ingest.report import IngestReport, ingest_summary, plural
from qa.ingest.text import parse_text

__all__ = [
    "MAX_ARTICLE_CHARS",
    "MAX_ARTICLE_FILE_BYTES",
    "MAX_INPUT_BYTES",
    "MAX_JSON_BYTES",
    "MAX_RAW_ARTICLE_CHARS",
    "MAX_SKIPPED_RECORDS_PER_FILE",
    "MAX_SKIP_WARNINGS",
    "MAX_TITLE_CHARS",
    "MAX_URL_CHARS",
    "SUPPORTED_SUFFIXES",
    "IngestReport",
    "article_id",
    "clean_text",
    "clean_title",
    "ingest_summary",
    "iter_files",
    "load_articles",
    "load_files",
    "load_file",
    "parse_date",
    "parse_html",
    "parse_record",
    "parse_text",
    "plural",
]
