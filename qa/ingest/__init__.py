"""Article ingestion: turn a folder of news files into cleaned, de-duplicated ``Article`` records.

Supported inputs: plain text (``.txt``), Markdown (``.md``), HTML (``.html``/``.htm``), JSON
(a list of records, one record, or a list under ``articles``/``data``/``records``), JSON Lines,
and gzip-compressed ``.json.gz``/``.jsonl.gz``. Nothing in here raises on bad input: every
unreadable file, malformed record or empty body becomes a ``(source, reason)`` entry in
``IngestReport.skipped`` so one broken file never stops a 20,000-article run.

Article ids are content hashes of the *cleaned* title and text, so ``clean_text`` must stay
deterministic: changing it changes every id downstream (chunks, index, citations).

Hostile input is bounded, so no file can stall a run or exhaust memory (see ``bench/hostile_ingest.py``):

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
- only regular files are read (a FIFO, a device or a symlink loop is a skip, never a hang).
"""

from __future__ import annotations

import codecs
import hashlib
import html
import json
import logging
import os
import re
import stat
import string
import unicodedata
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from html.parser import HTMLParser
from pathlib import Path

from qa.types import Article

log = logging.getLogger("qa.ingest")

SUPPORTED_SUFFIXES = (".txt", ".md", ".html", ".htm", ".json", ".jsonl", ".jsonl.gz", ".json.gz")

MAX_SKIP_WARNINGS = 20  # after this many skip warnings, only a final count is logged

MB = 1 << 20
MAX_ARTICLE_CHARS = 1_000_000  # cleaned text of one article; longer ones are skipped
MAX_RAW_ARTICLE_CHARS = 4 * MAX_ARTICLE_CHARS  # a JSON text field longer than this is skipped uncleaned
MAX_ARTICLE_FILE_BYTES = 8 * MB  # a .txt/.md/.html bigger than this is skipped unread
MAX_TITLE_CHARS = 500  # longer titles are cut at a word boundary
MAX_URL_CHARS = 4096  # longer urls are dropped
MAX_INPUT_BYTES = 256 * MB  # bytes read from one file, after gunzip; also the gzip-bomb cap
MAX_JSON_BYTES = 64 * MB  # a .json is parsed whole (objects take ~20x their text): JSON Lines scale
MAX_SKIPPED_RECORDS_PER_FILE = 100_000  # then the rest of the file is skipped as one file problem
MAX_HTML_UNCLOSED_TAIL = 32 * 1024  # HTML after a tag/comment that never closes: parsed up to this, else dropped


# --------------------------------------------------------------------------------------------
# Report


@dataclass
class IngestReport:
    """What one ingestion run produced, and everything it had to leave out (with reasons)."""

    articles: list[Article] = field(default_factory=list)
    files: int = 0  # input files read
    records: int = 0  # records seen (a .txt is 1 record; a .jsonl has one per line)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (source, reason)
    duplicates: int = 0  # exact duplicates dropped (same article id)
    skipped_records: int = 0  # entries of ``skipped`` that are records (the rest are whole files)
    unsupported: int = 0  # files skipped for their type; not counted in ``files``
    # For the indexer, to tell an edited file from a vanished one: sources ('path' or 'path#N')
    # that hold an article in this run, duplicates included, and files read without a read error.
    sources: set[str] = field(default_factory=set, repr=False)
    complete_files: set[str] = field(default_factory=set, repr=False)

    @property
    def file_problems(self) -> int:
        """Read files that were empty, unreadable or cut short (not records, not unsupported)."""
        return len(self.skipped) - self.skipped_records - self.unsupported

    def summary(self) -> str:
        """One line for logs and the CLI, written so that records = articles + skipped + duplicates."""
        return ingest_summary(self.records, self.files, len(self.articles), self.skipped_records,
                              self.duplicates, self.unsupported, self.file_problems)


def plural(n: int, noun: str) -> str:
    """'1 article', '2 articles'."""
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def ingest_summary(records: int, files: int, articles: int, skipped_records: int, duplicates: int,
                   unsupported: int = 0, file_problems: int = 0) -> str:
    """'7 records in 5 files: 4 articles, 2 skipped, 1 duplicate; also skipped: 1 unsupported file'.

    Shared by ``IngestReport`` and the indexer's report so both read the same. Skipped files are
    listed apart because they are not records: the first clause adds up on its own.
    """
    line = (f"{plural(records, 'record')} in {plural(files, 'file')}: {plural(articles, 'article')}, "
            f"{skipped_records} skipped, {plural(duplicates, 'duplicate')}")
    extra = []
    if unsupported:
        extra.append(plural(unsupported, "unsupported file"))
    if file_problems:
        extra.append(f"{file_problems} empty, unreadable or cut-short {'file' if file_problems == 1 else 'files'}")
    if extra:
        line += "; also skipped: " + ", ".join(extra)
    if skipped_records or extra:
        line += " (reasons logged)"
    return line


@dataclass(frozen=True)
class _Skip:
    """A record (or the rest of a file) that could not become an article."""

    source: str
    reason: str
    is_record: bool = True  # False for file-level problems that are not one record
    unread: bool = False  # the file (or its rest) could not be read: its old articles may still be in it


_Item = Article | _Skip


class _SkipLog:
    """Logs the first few skips as warnings and counts the rest, so a corpus with thousands
    of empty bodies does not flood the log."""

    def __init__(self, limit: int = MAX_SKIP_WARNINGS) -> None:
        self.limit = limit
        self.count = 0

    def __call__(self, source: str, reason: str) -> None:
        self.count += 1
        if self.count <= self.limit:
            log.warning("skipped %s: %s", source, reason)

    def close(self) -> None:
        hidden = self.count - self.limit
        if hidden > 0:
            log.warning("... and %d more skipped inputs not shown (see IngestReport.skipped)", hidden)


# --------------------------------------------------------------------------------------------
# Text cleaning

# Invisible characters that only get in the way: soft hyphen, zero-width spaces/joiners, BOM.
_INVISIBLE = dict.fromkeys(map(ord, "\u00ad\u200b\u200c\u200d\u2060\ufeff"))
_SPACE_LIKE = {ord(c): " " for c in "\u00a0\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u202f\u205f\u3000"}
_NEWLINE_LIKE = {ord(c): "\n" for c in "\v\f\x1c\x1d\x1e\x85\u2028\u2029"}
# Control characters, and lone surrogates (only JSON "\\ud800" escapes make them; they cannot be encoded).
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff]")
_BLOCK_SPLIT = re.compile(r"\n[ \t]*\n\s*")
_HSPACE = re.compile(r"  +")  # tabs are already spaces by then
_LIST_ITEM = re.compile(r"^\s*(?:[-*\u2022]\s|\d{1,3}[.)]\s)")
_WRAP_WIDTH = 100  # lines no longer than this inside a block are treated as hard-wrapped
_ASCII_LETTERS = frozenset(string.ascii_letters)  # a set test, not re.search over the paragraph so far
_QUOTE = "\"'\u201d\u2019)\\]"
# "talks.The" -> "talks. The": a word ending in 2 lowercase letters (or an acronym / number,
# e.g. "IMF.The", "2022.The"), sentence punctuation, optional closing quote, then a capitalised
# word, or after a lowercase word an acronym ("riots.ATC-III", "Friday.A"). "U.S.", "3.5",
# "e.g.", "Dawn.com" do not match; tickers ("<eric.St.>", "(BP.L)", "[PRUL.L]"), dotted
# names ("Halo.Bungie.Org") and e-mail addresses are left alone.
_GLUED = re.compile(
    r"(?=[.!?])"  # cheap first test; the look-behinds below are slow at every position
    rf"(?:(?<=[a-z]{{2}})|(?<=[A-Z\d]{{2}})|(?<=[a-z]{{2}}[{_QUOTE}])|(?<=[A-Z\d]{{2}}[{_QUOTE}]))"
    rf"(?:([.!?][{_QUOTE}]{{0,2}})(?=[\u201c\u2018]?[A-Z][a-z])|([.!?][{_QUOTE}]{{0,2}})(?=(?:[A-Z]{{2,}}|A|I)[\s,;:\-’']))"
    r"(?![A-Za-z]*\.?>)(?![A-Za-z.]*@)(?![A-Za-z]+\.[A-Za-z])"
)


def _normalise_chars(text: str, unescape: bool = True) -> str:
    """Newlines to ``\\n``, entities unescaped, control/invisible characters removed."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if unescape:
        text = html.unescape(text)
    text = text.translate(_NEWLINE_LIKE).translate(_SPACE_LIKE).translate(_INVISIBLE)
    text = text.replace("\t", " ")
    return _CONTROL.sub("", text)


def _block_paragraphs(block: str) -> list[str]:
    """Split one blank-line-separated block into paragraphs.

    Hard-wrapped text (every line but the last short, as in Reuters) has its lines joined with
    a space; an indented line or a list item starts a new paragraph there. A block with long
    lines is one-paragraph-per-line text, so each line stays a paragraph.
    """
    lines = [ln for ln in block.split("\n") if ln.strip()]
    if not lines:
        return []
    wrapped = all(len(ln.rstrip()) <= _WRAP_WIDTH for ln in lines[:-1])
    if not wrapped:
        return [ln.strip() for ln in lines]
    paragraphs: list[str] = []
    current = ""
    for ln in lines:
        starts_new = ln[:1] in (" ", "\t") or bool(_LIST_ITEM.match(ln))
        piece = ln.strip()
        if not current:
            current = piece
        elif starts_new:
            paragraphs.append(current)
            current = piece
        elif current[-1:] == "-" and current[-2:-1] in _ASCII_LETTERS:  # "anti-\ntakeover" -> "anti-takeover"
            current += piece
        else:
            current += " " + piece
    paragraphs.append(current)
    return paragraphs


def _unglue(m: re.Match[str]) -> str:
    """Add the space unless the word before is a dotted name/URL, or (before an acronym) is
    not a plain lowercase word ("Bagle.AT" is a virus name, "high.KP" a glued sentence)."""
    text, start = m.string, m.start()
    token = text[max(text.rfind(" ", 0, start), text.rfind("\n", 0, start)) + 1 : start]
    if any(c in token for c in "./@"):
        return m.group(0)
    if m.group(2) and not re.fullmatch(r"[\"'\u201c\u2018(]*[a-z]+[\"'\u201d\u2019)]*", token):
        return m.group(0)
    return m.group(0) + " "


def fix_glued_sentences(text: str) -> str:
    """Insert the missing space in "the talks.The minister" (scraped Dawn articles)."""
    return _GLUED.sub(_unglue, text)


def _clean(text: str, unescape: bool = True) -> str:
    """``clean_text`` with entity unescaping optional (HTML text arrives already unescaped)."""
    text = _normalise_chars(text, unescape=unescape)
    paragraphs: list[str] = []
    for block in _BLOCK_SPLIT.split(text):
        for para in _block_paragraphs(block):
            para = _HSPACE.sub(" ", para).strip()
            if para:
                paragraphs.append(fix_glued_sentences(para))
    return "\n\n".join(paragraphs).strip()


def clean_text(text: str) -> str:
    """Normalise an article body: entities, control characters, spacing, paragraphs, glued
    sentences. Paragraphs are separated by exactly ``"\\n\\n"``; everything else is verbatim."""
    return _clean(text, unescape=True)


def clean_title(title: str, unescape: bool = True) -> str:
    """A title is one line: entities unescaped, all whitespace (including newlines) collapsed."""
    title = _normalise_chars(title, unescape=unescape)
    return re.sub(r"\s+", " ", title).strip()


# Trailing boilerplate that is not part of the story: comment-section notices, sign-offs.
_FOOTER_SPAN = 400  # characters at the end of a text searched for footers
_FOOTERS = (
    re.compile(r"\s*Dear visitor, the comments section\b[^\n]*$", re.IGNORECASE),
    re.compile(r"\s*(?:Comments are closed\.?|Comments \(\d+\)|Click here to comment\.?)\s*$", re.IGNORECASE),
    # Reuters sign-off "Reuter"/"REUTER" (not "Reuters", which is usually a real credit line).
    re.compile(r"(?:(?<=[.!?\"\u201d\u2019)])|\n)\s*(?:Reuter|REUTER)\s*$"),
)


def strip_footer(text: str) -> str:
    """Drop recognisable trailing boilerplate (comment notices, the Reuters "Reuter" sign-off)."""
    head, tail = text[:-_FOOTER_SPAN], text[-_FOOTER_SPAN:]  # only the end can be a footer
    changed = True
    while changed:
        changed = False
        for pattern in _FOOTERS:
            new = pattern.sub("", tail)
            if new != tail:
                tail, changed = new.rstrip(), True
    return (head + tail).rstrip()


def article_id(title: str, text: str) -> str:
    """Stable content hash: sha256 of the normalised title + "\\n" + text, first 16 hex chars."""
    norm_title = unicodedata.normalize("NFC", re.sub(r"\s+", " ", title).strip())
    norm_text = unicodedata.normalize("NFC", text)
    return hashlib.sha256(f"{norm_title}\n{norm_text}".encode("utf-8")).hexdigest()[:16]


# --------------------------------------------------------------------------------------------
# Dates

_MONTHS = {
    m: i
    for i, names in enumerate(
        [
            ("jan", "january"), ("feb", "february"), ("mar", "march"), ("apr", "april"),
            ("may",), ("jun", "june"), ("jul", "july"), ("aug", "august"),
            ("sep", "sept", "september"), ("oct", "october"), ("nov", "november"), ("dec", "december"),
        ],
        start=1,
    )
    for m in names
}
_MONTH = r"(?P<mon>[A-Za-z]{3,9})\.?"
_TIME = r"(?:[T ,]+(?:at\s+)?(?P<H>\d{1,2}):(?P<M>\d{2})(?::(?P<S>\d{2}))?(?:\.\d+)?\s*(?P<ampm>[AaPp]\.?[Mm]\.?)?)?"
_TZ = r"(?:\s*(?:Z|[+-]\d{2}:?\d{2}|UTC|GMT|PKT|EST|EDT|BST|CET|IST)\b)?"
_DATE_FORMS = (
    # 2024-11-13, 2024-11-13T10:20:30Z, 2024/11/13 10:20
    re.compile(r"(?P<y>\d{4})[-/.](?P<m>\d{1,2})[-/.](?P<d>\d{1,2})" + _TIME + _TZ),
    # Reuters: 26-FEB-1987 15:01:01.79
    re.compile(r"(?P<d>\d{1,2})-" + _MONTH + r"-(?P<y>\d{4})" + _TIME + _TZ),
    # November 13, 2024 / Nov. 13 2024
    re.compile(_MONTH + r"\s+(?P<d>\d{1,2})(?:st|nd|rd|th)?,?\s+(?P<y>\d{4})" + _TIME + _TZ),
    # 13 Nov 2024 / 13th November, 2024
    re.compile(r"(?P<d>\d{1,2})(?:st|nd|rd|th)?\s+(?:of\s+)?" + _MONTH + r",?\s+(?P<y>\d{4})" + _TIME + _TZ),
)
_DATE_PREFIX = re.compile(
    r"^(?:(?:published|updated|posted|last\s+updated|date|dated|first\s+published)\s*(?:on|:)?\s*)?"
    r"(?:(?:mon|tue|wed|thu|fri|sat|sun)[a-z]*\.?,?\s+)?",
    re.IGNORECASE,
)


def _date_from_match(m: re.Match[str]) -> str | None:
    """Build an ISO string from a matched date form, or None if the date is impossible."""
    g = m.groupdict()
    try:
        year, day = int(g["y"]), int(g["d"])
        month = int(g["m"]) if g.get("m") else _MONTHS.get((g.get("mon") or "").lower())
        if not month:
            return None
        if g.get("H") is None:
            return datetime(year, month, day).date().isoformat()
        hour, minute, sec = int(g["H"]), int(g["M"]), int(g["S"] or 0)
        ampm = (g.get("ampm") or "").lower().replace(".", "")
        if ampm == "pm" and hour < 12:
            hour += 12
        elif ampm == "am" and hour == 12:
            hour = 0
        return datetime(year, month, day, hour, minute, sec).isoformat()
    except (TypeError, ValueError):
        return None


def parse_date(value: object, strict: bool = False) -> str | None:
    """ISO 8601 "YYYY-MM-DD" or "YYYY-MM-DDTHH:MM:SS" from the common forms, else None.

    ``strict`` requires the whole string to be a date (optionally "Published ..." / weekday
    prefixed), which is how a date *line* in a text file is told apart from a body line.
    Time zones are dropped (the local time is kept). Numbers are Unix timestamps (UTC).
    """
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        try:
            ts = value / 1000 if value > 1e11 else value  # milliseconds
            return datetime.fromtimestamp(ts, tz=timezone.utc).replace(tzinfo=None).isoformat()
        except (OverflowError, OSError, ValueError):
            return None
    if not isinstance(value, str):
        return None
    s = clean_title(value)
    if not s or len(s) > 80:
        return None
    s = _DATE_PREFIX.sub("", s, count=1)
    for form in _DATE_FORMS:
        m = form.fullmatch(s) if strict else form.match(s)
        if m:
            iso = _date_from_match(m)
            if iso:
                return iso
    return None


# --------------------------------------------------------------------------------------------
# Reading files


class _Unreadable(Exception):
    """A whole file that cannot be read; the message is the skip reason."""


def _suffix(path: Path) -> str:
    """The format suffix, treating ``.jsonl.gz``/``.json.gz`` as one suffix."""
    name = path.name.lower()
    for double in (".jsonl.gz", ".json.gz"):
        if name.endswith(double):
            return double
    return path.suffix.lower()


def _mb(n: int) -> str:
    """'256 MB', '50.3 MB': sizes in skip reasons."""
    return f"{n // MB} MB" if n % MB == 0 else f"{n / MB:.1f} MB"


def _file_kind(mode: int) -> str:
    """What a directory entry that is not a regular file is, for the skip reason."""
    for test, kind in ((stat.S_ISDIR, "a folder"), (stat.S_ISFIFO, "a FIFO"), (stat.S_ISCHR, "a character device"),
                       (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket")):
        if test(mode):
            return kind
    return "not a plain file"


def _read_bytes(path: Path, limit: int | None = None,
                limit_name: str = "MAX_INPUT_BYTES") -> tuple[bytes, str | None]:
    """All bytes of a file (gunzipped for ``.gz``), plus an error if a gzip stream broke off.

    A truncated gzip keeps everything decompressed before the break, so the records that
    were complete still load. Only a regular file is read (opened non-blocking: a FIFO must not
    hang the run, nor a symlink to ``/dev/zero`` fill memory), and at most ``limit`` bytes of it,
    before and after gunzip (default ``MAX_INPUT_BYTES``); more is ``_Unreadable`` with the size in the reason.
    """
    limit = MAX_INPUT_BYTES if limit is None else limit
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        raise _Unreadable(f"cannot read file: {exc.strerror or exc}") from exc
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise _Unreadable(f"not a regular file ({_file_kind(info.st_mode)})")
        if info.st_size > limit:
            raise _Unreadable(f"file is {_mb(info.st_size)}, over the {_mb(limit)} limit ({limit_name})")
        with open(fd, "rb", closefd=False) as f:
            data = f.read(limit + 1)
    except OSError as exc:
        raise _Unreadable(f"cannot read file: {exc.strerror or exc}") from exc
    finally:
        os.close(fd)
    if len(data) > limit:  # it grew while we read it
        raise _Unreadable(f"file is over the {_mb(limit)} limit ({limit_name})")
    return _gunzip(data, limit, limit_name) if path.name.lower().endswith(".gz") else (data, None)


def _gunzip(data: bytes, limit: int | None = None,
            limit_name: str = "MAX_INPUT_BYTES") -> tuple[bytes, str | None]:
    """Decompress gzip member by member with zlib, keeping whatever came out before a break.

    Output is produced in bounded steps and counted, so a gzip bomb stops at ``limit`` bytes
    (``_Unreadable``) instead of being inflated whole into memory.
    """
    limit = MAX_INPUT_BYTES if limit is None else limit
    out = bytearray()
    while data:
        inflater = zlib.decompressobj(wbits=zlib.MAX_WBITS | 16)
        pending = data
        try:
            while not inflater.eof:
                piece = inflater.decompress(pending, limit + 1 - len(out))
                out += piece
                if len(out) > limit:
                    raise _Unreadable(f"gzip decompresses past {_mb(limit)} ({limit_name}): "
                                      "a gzip bomb, or a file to split into smaller ones")
                pending = inflater.unconsumed_tail
                if not piece and not pending:
                    break  # input used up before the end of the stream
        except zlib.error as exc:
            return bytes(out), f"truncated or corrupt gzip: {exc}"
        if not inflater.eof:
            return bytes(out), "truncated or corrupt gzip: the compressed data ends mid-stream"
        data = inflater.unused_data.lstrip(b"\0")  # a next member, or trailing zero padding
    return bytes(out), None


# Byte-order marks that say the text is not UTF-8 (UTF-32 first: its LE mark starts like UTF-16's).
_UNICODE_BOMS = ((codecs.BOM_UTF32_LE, "utf-32", "UTF-32"), (codecs.BOM_UTF32_BE, "utf-32", "UTF-32"),
                 (codecs.BOM_UTF16_LE, "utf-16", "UTF-16"), (codecs.BOM_UTF16_BE, "utf-16", "UTF-16"))


def _decode(data: bytes, partial: bool = False) -> str:
    """UTF-8 (with or without BOM), or UTF-16/32 when a BOM says so; ``_Unreadable`` otherwise.

    With ``partial`` a multi-byte character cut off at the end (a truncated gzip) is dropped.
    """
    encoding, name = "utf-8-sig", "UTF-8"
    for bom, codec, label in _UNICODE_BOMS:
        if data.startswith(bom):
            encoding, name = codec, label
            break
    try:
        if partial:
            return codecs.getincrementaldecoder(encoding)().decode(data, final=False)
        return data.decode(encoding)
    except UnicodeDecodeError as exc:
        raise _Unreadable(f"not {name} (invalid byte at offset {exc.start})") from exc


def _read_text(path: Path) -> str:
    """A small text file as a string, or ``_Unreadable`` with the reason (too big for one article)."""
    data, _ = _read_bytes(path, MAX_ARTICLE_FILE_BYTES, "MAX_ARTICLE_FILE_BYTES")
    return _decode(data)


def _make_article(title: str, body: str, source: str, date: str | None, url: str = "",
                  stem: str = "") -> _Item:
    """Drop footers and hash an already cleaned title and body; an empty body is a skip."""
    body = strip_footer(body)
    if not body:
        return _Skip(source, "empty body")
    if len(body) > MAX_ARTICLE_CHARS:
        return _Skip(source, _too_long(len(body), "after cleaning", MAX_ARTICLE_CHARS, "MAX_ARTICLE_CHARS"))
    title = _cut_title(title or clean_title(stem) or _first_words(body))
    url = (url or "").strip()
    return Article(id=article_id(title, body), title=title, text=body, date=date,
                   source=source, url=url if len(url) <= MAX_URL_CHARS else "")


def _too_long(chars: int, when: str, limit: int, limit_name: str) -> str:
    """The skip reason for an article over a length cap."""
    return f"article too long: {chars:,} characters of text {when}, over {limit:,} ({limit_name})"


def _cut_title(title: str) -> str:
    """A title of at most ``MAX_TITLE_CHARS``, cut at a word boundary: it is repeated in every chunk."""
    if len(title) <= MAX_TITLE_CHARS:
        return title
    cut = title[: MAX_TITLE_CHARS - 4]
    space = cut.rfind(" ")
    return (cut[:space] if space > MAX_TITLE_CHARS // 2 else cut).rstrip() + " ..."


def _first_words(text: str, n: int = 12) -> str:
    """A stand-in title: the first sentence, cut to ``n`` words."""
    first = re.split(r"(?<=[.!?])\s", text.strip(), maxsplit=1)[0]
    words = first.split()
    return " ".join(words[:n]) + (" ..." if len(words) > n else "")


# --------------------------------------------------------------------------------------------
# Plain text and Markdown

# Site chrome: lines made only of UI words ("Increase font size Decrease font size Reset font
# size", "Share | Tweet | Email", "Advertisement"). A line needs at least one action word so
# that a headline like "Facebook and Twitter" is not mistaken for chrome.
_CHROME_ACTIONS = {
    "increase", "decrease", "reset", "font", "size", "print", "share", "email", "e-mail",
    "tweet", "subscribe", "bookmark", "comment", "comments", "advertisement", "listen",
    "save", "copy", "follow", "zoom", "whatsapp", "a+", "a-",
}
_CHROME_WORDS = _CHROME_ACTIONS | {
    "text", "smaller", "larger", "bigger", "link", "this", "article", "story", "page", "us",
    "on", "via", "to", "the", "a", "aa", "and", "facebook", "twitter", "x", "linkedin",
    "reddit", "pinterest", "telegram", "messenger", "read", "more", "later", "in", "out",
}


def is_chrome_line(line: str) -> bool:
    """True for a line made only of page-UI words (font size, share, print, ...)."""
    tokens = [t for t in re.split(r"[\s|/\u00b7\u2022,:]+", line.strip().lower()) if t]
    if not tokens or len(tokens) > 15:
        return False
    return set(tokens) <= _CHROME_WORDS and not set(tokens).isdisjoint(_CHROME_ACTIONS)


# Each pattern scans at most to the next delimiter of its own kind ("[", "(", "**"), so a line is
# stripped in linear time: the obvious ``[^\]]+`` / ``.+?`` forms rescan the rest of the line from
# every "[" or "**", and a 100 kB line of "[" took 44 s.
_MD_IMAGE = re.compile(r"!\[([^\[\]]*)\]\((?:[^()]|\([^()]*\))*\)")
_MD_LINK = re.compile(r"\[([^\[\]]+)\]\((?:[^()\s]|\([^()]*\))*(?:\s+\"[^\"]*\")?\)")
_MD_REF_LINK = re.compile(r"\[([^\[\]]+)\]\[[^\[\]]*\]")
_MD_REF_DEF = re.compile(r"^\s{0,3}\[[^\]]+\]:\s+\S+.*$")
_MD_BOLD = re.compile(r"\*\*(?=\S)((?:[^*]|\*(?!\*))+?)(?<=\S)\*\*|__(?=\S)((?:[^_]|_(?!_))+?)(?<=\S)__")
_MD_EM_STAR = re.compile(r"(?<![*\w])\*(?=\S)([^*\n]+?)(?<=\S)\*(?![*\w])")
_MD_EM_UNDER = re.compile(r"(?<![_\w])_(?=\S)([^_\n]+?)(?<=\S)_(?![_\w])")
_MD_HEADING = re.compile(r"^\s{0,3}#{1,6}\s+")  # the text after it, less a closing "#" run, is the heading
_MD_RULE = re.compile(r"^\s{0,3}([-*_])(\s*\1){2,}\s*$")


def strip_markdown_line(line: str) -> str:
    """Markdown markup off one line: heading/quote/list markers, emphasis, links -> their text.

    Backticks are left alone (news text uses them as apostrophes)."""
    if _MD_RULE.match(line) or _MD_REF_DEF.match(line):
        return ""
    m = _MD_HEADING.match(line)
    if m:  # "## Title ##" -> "Title"; str methods, not a regex tail that rescans "####...x"
        line = line[m.end():].rstrip().rstrip("#").rstrip()
    line = re.sub(r"^\s{0,3}(?:>\s?)+", "", line)
    line = re.sub(r"^\s*[-*+]\s+", "  ", line)  # a list item: indented, so its own paragraph
    line = _MD_IMAGE.sub("", line)
    line = _MD_LINK.sub(r"\1", line)
    line = _MD_REF_LINK.sub(r"\1", line)
    line = _MD_BOLD.sub(lambda b: b.group(1) or b.group(2), line)
    line = _MD_EM_STAR.sub(r"\1", line)
    return _MD_EM_UNDER.sub(r"\1", line)


def _front_matter(lines: list[str]) -> tuple[dict[str, str], list[str]]:
    """Simple ``key: value`` front matter between ``---`` lines at the top of a Markdown file."""
    if not lines or lines[0].strip() != "---":
        return {}, lines
    for end in range(1, min(len(lines), 60)):
        if lines[end].strip() in ("---", "..."):
            meta = {}
            for ln in lines[1:end]:
                key, sep, value = ln.partition(":")
                if sep:
                    meta[key.strip().lower()] = value.strip().strip("\"'")
            return meta, lines[end + 1:]
    return {}, lines


def _looks_like_title(line: str, next_line: str | None) -> bool:
    """Is the first line a headline rather than the start of a (hard-wrapped) body?"""
    line = line.strip()
    words = len(line.split())
    if not line or len(line) > 200 or words > 30:
        return False
    if line.endswith(".") and words > 8:  # a sentence: headlines rarely end with a full stop
        return False
    if next_line is None or not next_line.strip():
        return True  # on its own, followed by a blank line or nothing
    if parse_date(next_line, strict=True):
        return True
    # "Title\nBody..." with a single newline: accept unless it reads like a wrapped sentence.
    return not line.endswith((".", ",", ";", ":", "-")) and not next_line.strip()[:1].islower()


def parse_text(raw: str, source: str, stem: str, markdown: bool = False) -> _Item:
    """A ``.txt``/``.md`` article: [chrome] title [date] body.

    The first line that is not chrome is the title when it looks like one (short, set apart);
    otherwise the file is all body and the file name stands in as the title. An optional date
    line may come right after (or right before) the title.
    """
    # Entities are unescaped once, by clean_text/clean_title, so "&amp;lt;" stays "&lt;".
    lines = raw.replace("\r\n", "\n").replace("\r", "\n").lstrip("\ufeff").split("\n")
    meta: dict[str, str] = {}
    if markdown:
        meta, lines = _front_matter(lines)
    lines = [ln for ln in lines if not is_chrome_line(ln)]
    md_title = None
    if markdown:
        for i, ln in enumerate(lines):
            if ln.strip():
                if _MD_HEADING.match(ln):
                    md_title = strip_markdown_line(ln)
                    lines = lines[i + 1:]
                break
        lines = [strip_markdown_line(ln) for ln in lines]
    while lines and not lines[0].strip():
        lines.pop(0)

    date = parse_date(meta.get("date")) if meta.get("date") else None
    if lines and parse_date(lines[0], strict=True) and md_title is None:
        date = date or parse_date(lines[0], strict=True)  # date line before the title
        lines = lines[1:]
        while lines and not lines[0].strip():
            lines.pop(0)

    title = md_title or meta.get("title")
    if title is None and lines and _looks_like_title(lines[0], lines[1] if len(lines) > 1 else None):
        title, lines = lines[0], lines[1:]
    while lines and not lines[0].strip():
        lines.pop(0)
    if lines and parse_date(lines[0], strict=True):  # date line after the title
        date = date or parse_date(lines[0], strict=True)
        lines = lines[1:]
    body = "\n".join(lines)
    return _make_article(clean_title(title or ""), clean_text(body), source, date,
                         url=meta.get("url", ""), stem=stem)


# --------------------------------------------------------------------------------------------
# HTML

_DROP_TAGS = {"script", "style", "nav", "header", "footer", "aside", "form", "noscript", "svg",
              "iframe", "template", "button", "select", "canvas", "object"}
_VOID_TAGS = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta",
              "param", "source", "track", "wbr"}
_BLOCK_TAGS = {"p", "div", "br", "li", "ul", "ol", "section", "article", "main", "body",
               "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "pre", "table", "tr", "td",
               "th", "dd", "dt", "dl", "hr", "figure", "figcaption", "address", "details",
               "summary"}
_CONTAINERS = ("article", "main", "body")


class _HTMLExtractor(HTMLParser):
    """Collects the visible text of ``<article>``/``<main>``/``<body>`` and the metadata.

    Text inside dropped elements (scripts, navigation, site header/footer, ...) is ignored;
    block elements become paragraph breaks. Entities are unescaped by the parser.
    """

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.skip: list[str] = []  # open dropped elements
        self.skip_open: dict[str, int] = {}  # how many of each are in ``skip``
        self.depth = dict.fromkeys(_CONTAINERS, 0)
        self.texts: dict[str, list[str]] = {c: [] for c in _CONTAINERS}
        self.articles: list[list[str]] = []  # one buffer per top-level <article>
        self.whole: list[str] = []  # fallback for fragments without <body>
        self.pre = 0
        self.title_tag: list[str] | None = None
        self.title_text = ""
        self.h1: list[tuple[bool, bool, str]] = []  # (in article, in dropped element, text)
        self.h1_buf: list[str] | None = None
        self.h1_flags: tuple[bool, bool] = (False, False)
        self.meta: dict[str, str] = {}
        self.time_attr: str | None = None
        self.canonical: str | None = None

    # -- structure
    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._metadata(tag, {k.lower(): (v or "") for k, v in attrs})
        if tag in _VOID_TAGS:
            if tag in ("br", "hr"):
                self._emit("\n\n")
            return
        if tag == "title" and self.title_tag is None:
            self.title_tag = []
        if tag == "h1" and self.h1_buf is None:
            self.h1_buf = []
            self.h1_flags = (self.depth["article"] > 0, bool(self.skip))
        if tag in _DROP_TAGS:
            self.skip.append(tag)
            self.skip_open[tag] = self.skip_open.get(tag, 0) + 1
        if self.skip:
            return
        if tag in self.depth:
            self.depth[tag] += 1
            if tag == "article" and self.depth["article"] == 1:
                self.articles.append([])
        if tag == "pre":
            self.pre += 1
        if tag in _BLOCK_TAGS:
            self._emit("\n\n")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._metadata(tag, {k.lower(): (v or "") for k, v in attrs})
        if tag in ("br", "hr"):
            self._emit("\n\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in _VOID_TAGS:
            return
        if tag == "title" and self.title_tag is not None:
            self.title_text = self.title_text or "".join(self.title_tag)
            self.title_tag = None
        if tag == "h1" and self.h1_buf is not None:
            self.h1.append((*self.h1_flags, "".join(self.h1_buf)))
            self.h1_buf = None
        if self.skip:
            if self.skip_open.get(tag):  # a count, not ``tag in self.skip``: 100k open <nav>s stay linear
                while self.skip:
                    popped = self.skip.pop()
                    self.skip_open[popped] -= 1
                    if popped == tag:
                        break
            return
        if tag in _BLOCK_TAGS:
            self._emit("\n\n")
        if tag in self.depth and self.depth[tag] > 0:
            self.depth[tag] -= 1
        if tag == "pre" and self.pre:
            self.pre -= 1

    def handle_data(self, data: str) -> None:
        if self.title_tag is not None:  # <title> is metadata, never body text
            self.title_tag.append(data)
            return
        if self.h1_buf is not None:
            self.h1_buf.append(data)
        if not self.skip:
            self._emit(data if self.pre else re.sub(r"\s+", " ", data))

    def _emit(self, text: str) -> None:
        if self.skip:
            return
        self.whole.append(text)
        for c in _CONTAINERS:
            if self.depth[c] > 0:
                self.texts[c].append(text)
        if self.depth["article"] > 0 and self.articles:
            self.articles[-1].append(text)

    # -- metadata
    def _metadata(self, tag: str, a: dict[str, str]) -> None:
        if tag == "meta":
            key = (a.get("property") or a.get("name") or a.get("itemprop") or "").lower()
            if key and "content" in a and key not in self.meta:
                self.meta[key] = a["content"]
        elif tag == "time" and self.time_attr is None and a.get("datetime"):
            self.time_attr = a["datetime"]
        elif tag == "link" and "canonical" in a.get("rel", "").lower().split() and a.get("href"):
            self.canonical = self.canonical or a["href"]

    # -- results
    def body_text(self) -> str:
        """Article text if any, else main, else body, else the whole document."""
        candidates = [max(("".join(b) for b in self.articles), key=lambda t: len(t.strip()), default="")]
        candidates += ["".join(self.texts["main"]), "".join(self.texts["body"]), "".join(self.whole)]
        for text in candidates:
            if text.strip():
                return text
        return ""

    def title(self) -> str:
        """First ``<h1>`` in the article, else outside dropped parts, else any, else ``<title>``."""
        for wanted in (lambda art, drop: art, lambda art, drop: not drop, lambda art, drop: True):
            for in_article, dropped, text in self.h1:
                if wanted(in_article, dropped) and text.strip():
                    return text
        return self.title_text

    def date(self) -> str | None:
        for value in (self.meta.get("article:published_time"), self.time_attr,
                      self.meta.get("date"), self.meta.get("datepublished"),
                      self.meta.get("pubdate"), self.meta.get("dc.date")):
            iso = parse_date(value)
            if iso:
                return iso
        return None

    def url(self) -> str:
        return self.canonical or self.meta.get("og:url", "")


# Python < 3.13.5's ``HTMLParser.close()`` rescans to the end of the input from every tag or
# comment that never closes, which is quadratic (40 kB of "<a" took 0.8 s, a few MB hours).
# ``feed()`` stops at the first such construct, so the text before it is parsed in linear time;
# when the unparsed rest is longer than ``MAX_HTML_UNCLOSED_TAIL`` it is dropped (an HTML5 parser
# also drops an unclosed tag or comment and everything after it); a shorter rest goes through
# ``close()``, whose quadratic worst case is then a fraction of a second.


def _run_html_parser(raw: str) -> _HTMLExtractor:
    """Feed a whole document; a long never-closed tail is dropped rather than parsed."""
    parser = _HTMLExtractor()
    parser.feed(raw)
    if len(parser.rawdata) > MAX_HTML_UNCLOSED_TAIL:
        log.info("html: dropped %d characters after a tag or comment that never closes", len(parser.rawdata))
        parser.rawdata = ""
    parser.close()
    return parser


def parse_html(raw: str, source: str, stem: str) -> _Item:
    """An ``.html`` article: main text, title, date and canonical url."""
    try:
        parser = _run_html_parser(raw)
    except AssertionError:  # Python < 3.13: "<![" not followed by a known section name
        parser = _run_html_parser(raw.replace("<![", "&lt;!["))
    if parser.h1_buf is not None:  # unclosed <h1>
        parser.h1.append((*parser.h1_flags, "".join(parser.h1_buf)))
    title = clean_title(parser.title(), unescape=False)  # the parser already unescaped
    body = _clean(parser.body_text(), unescape=False)
    if title and body.startswith(title):  # the headline is usually repeated inside <article>
        body = body[len(title):].lstrip()
    return _make_article(title, body, source, parser.date(), url=parser.url(), stem=stem)


def _read_html(path: Path) -> str:
    """An HTML file as text: UTF-8, else the encoding its ``<meta charset>`` declares."""
    data, _ = _read_bytes(path, MAX_ARTICLE_FILE_BYTES, "MAX_ARTICLE_FILE_BYTES")
    try:
        return _decode(data)
    except _Unreadable:
        m = re.search(rb"<meta[^>]+charset\s*=\s*[\"']?([A-Za-z0-9_.:-]+)", data[:4096], re.IGNORECASE)
        charset = m.group(1).decode("ascii") if m else ""
        if not charset or charset.lower().replace("-", "") == "utf8":
            raise
        try:
            return data.decode(charset)
        except (LookupError, ValueError) as exc:  # ValueError: UnicodeError, e.g. charset "undefined"
            raise _Unreadable(f"not UTF-8 and not valid {charset}") from exc


# --------------------------------------------------------------------------------------------
# JSON records

TITLE_KEYS = ("title", "headline")
TEXT_KEYS = ("text", "body", "content", "article")
DATE_KEYS = ("date", "published", "published_at", "publish_date", "pubdate", "datePublished")
URL_KEYS = ("url", "link")
LIST_KEYS = ("articles", "data", "records")


def _first_field(record: dict, keys: Iterable[str]) -> object:
    """The first present, non-empty value among ``keys``."""
    for key in keys:
        value = record.get(key)
        if value not in (None, "", []):
            return value
    return None


def _text_value(value: object) -> str | None:
    """A body field as text: a string, or a list of paragraph strings."""
    if isinstance(value, str):
        return value
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return "\n\n".join(value)
    return None


def parse_record(record: object, source: str) -> _Item:
    """One JSON record -> Article. Reuters-style ``dateline`` is kept in front of the body."""
    if not isinstance(record, dict):
        return _Skip(source, f"record is a JSON {type(record).__name__}, not an object")
    if not any(key in record for key in TEXT_KEYS):
        return _Skip(source, "no text field (expected one of: " + ", ".join(TEXT_KEYS) + ")")
    raw_text = _first_field(record, TEXT_KEYS)
    text = _text_value(raw_text) if raw_text is not None else ""
    if text is None:
        return _Skip(source, f"text field is a {type(raw_text).__name__}, not a string")
    if len(text) > MAX_RAW_ARTICLE_CHARS:  # not worth cleaning: it could not come under MAX_ARTICLE_CHARS
        return _Skip(source, _too_long(len(text), "before cleaning", MAX_RAW_ARTICLE_CHARS, "MAX_RAW_ARTICLE_CHARS"))
    body = clean_text(text)
    if not body:
        return _Skip(source, "empty body")
    dateline = clean_title(record.get("dateline") or "") if isinstance(record.get("dateline"), str) else ""
    if dateline and not body.startswith(dateline):  # "SALVADOR, Feb 26 - Showers continued ..."
        body = f"{dateline} {body}"
    title = _first_field(record, TITLE_KEYS)
    date = None
    for key in DATE_KEYS:
        date = parse_date(record.get(key))
        if date:
            break
    url = _first_field(record, URL_KEYS)
    return _make_article(clean_title(title) if isinstance(title, str) else "", body,
                         source, date, url=url if isinstance(url, str) else "")


def _json_records(doc: object) -> list | None:
    """The records of a JSON document: a list, a list under a known key, or one object."""
    if isinstance(doc, list):
        return doc
    if isinstance(doc, dict):
        for key in LIST_KEYS:
            if isinstance(doc.get(key), list):
                return doc[key]
        return [doc]
    return None


def _partial_json_array(text: str) -> tuple[list, str]:
    """The complete elements at the start of a broken JSON array, and where it broke."""
    decoder = json.JSONDecoder()
    items: list = []
    pos = text.index("[") + 1
    while True:
        while pos < len(text) and text[pos] in " \t\r\n,":
            pos += 1
        if pos >= len(text) or text[pos] == "]":
            return items, "unexpected end of data"
        try:
            item, pos = decoder.raw_decode(text, pos)
        except (ValueError, RecursionError) as exc:
            return items, _json_error(exc)
        items.append(item)


def _json_error(exc: ValueError | RecursionError) -> str:
    """Why ``json`` gave up: a syntax error, nesting too deep for the parser, or a huge number."""
    if isinstance(exc, json.JSONDecodeError):
        return f"invalid JSON on line {exc.lineno} column {exc.colno}: {exc.msg}"
    if isinstance(exc, RecursionError):
        return "invalid JSON: nested too deeply to parse"
    return f"invalid JSON: {exc}"  # e.g. an integer of more than 4300 digits


def load_json(path: Path, source: str) -> Iterator[_Item]:
    """A ``.json``/``.json.gz`` file: its records, or as many as can be salvaged."""
    data, gz_error = _read_bytes(path, MAX_JSON_BYTES, "MAX_JSON_BYTES; save bigger feeds as JSON Lines")
    text = _decode(data, partial=gz_error is not None)
    del data
    if not text.strip():
        yield _Skip(source, gz_error or "empty file", is_record=False, unread=bool(gz_error))
        return
    broken = None
    try:
        records = _json_records(json.loads(text))
    except (ValueError, RecursionError) as exc:  # JSONDecodeError, too deep, a 5000-digit number
        if not isinstance(exc, json.JSONDecodeError) or not text.lstrip().startswith("["):
            yield _Skip(source, gz_error or _json_error(exc), is_record=False, unread=True)
            return
        records, broken = _partial_json_array(text)
    if records is None:
        yield _Skip(source, "JSON is neither a record nor a list of records", is_record=False, unread=True)
        return
    if not records and not broken and not gz_error:  # "[]": say so, every input leaves a trace
        yield _Skip(source, "no records (an empty list)", is_record=False)
        return
    for n, record in enumerate(records, start=1):
        yield parse_record(record, f"{source}#{n}")
    if broken or gz_error:
        reason = gz_error or broken
        yield _Skip(source, f"{reason}; the rest of the file after {len(records)} records was not read",
                    is_record=False, unread=True)


def load_jsonl(path: Path, source: str) -> Iterator[_Item]:
    """A ``.jsonl``/``.jsonl.gz`` file: one record per line; a bad line skips only itself."""
    data, gz_error = _read_bytes(path)
    if data.startswith(tuple(bom for bom, _, _ in _UNICODE_BOMS)):  # UTF-16/32: lines are not split on b"\n"
        data = _decode(data, partial=gz_error is not None).encode("utf-8")
    stop = data.rfind(b"\n") + 1 if gz_error else len(data)  # a truncation cut the last line off
    n = 0
    for lineno, line in enumerate(_lines(data, stop), start=1):
        if not line.strip():
            continue
        n += 1
        rec_source = f"{source}#{n}"
        try:
            text = line.decode("utf-8-sig" if lineno == 1 else "utf-8")
        except UnicodeDecodeError:
            yield _Skip(rec_source, f"not UTF-8 on line {lineno}")
            continue
        try:
            record = json.loads(text)
        except json.JSONDecodeError as exc:
            yield _Skip(rec_source, f"invalid JSON on line {lineno}: {exc.msg}")
            continue
        except (ValueError, RecursionError) as exc:  # too deep, a 5000-digit number
            yield _Skip(rec_source, f"{_json_error(exc)} (line {lineno})")
            continue
        yield parse_record(record, rec_source)
    if gz_error:
        yield _Skip(source, f"{gz_error}; the rest of the file after {n} records was not read",
                    is_record=False, unread=True)
    elif n == 0:  # every input leaves a trace: an empty (or blank) file is a file skip, as for .json
        yield _Skip(source, "empty file", is_record=False)


def _lines(data: bytes, stop: int) -> Iterator[bytes]:
    """The lines of ``data[:stop]`` one at a time: ``split`` would hold 100M lines of "1" at once."""
    start = 0
    while start < stop:
        end = data.find(b"\n", start, stop)
        end = stop if end < 0 else end
        yield data[start:end]
        start = end + 1


def _give_up_after_skips(items: Iterator[_Item], source: str) -> Iterator[_Item]:
    """``items``, until ``MAX_SKIPPED_RECORDS_PER_FILE`` records were skipped; then one file skip.

    Each skip is kept (with its source and reason) in the report, so a file of millions of
    non-records would otherwise fill memory; past that many it is not a feed of articles.
    """
    skipped = 0
    for item in items:
        yield item
        if isinstance(item, _Skip) and item.is_record:
            skipped += 1
            if skipped >= MAX_SKIPPED_RECORDS_PER_FILE:
                yield _Skip(source, f"gave up after {skipped:,} skipped records (MAX_SKIPPED_RECORDS_PER_FILE); "
                                    "the rest of the file was not read", is_record=False, unread=True)
                return


# --------------------------------------------------------------------------------------------
# Files and folders


def iter_files(paths: Iterable[str | Path]) -> Iterator[Path]:
    """Input files from files and folders.

    Folders are walked recursively in sorted order, skipping hidden files and folders and
    files with unsupported suffixes; an explicitly named file is always yielded (an
    unsupported one is then reported as skipped by ``load_articles``). Each file once.
    """
    if isinstance(paths, (str, Path)):
        paths = [paths]
    seen: set[Path] = set()
    for raw in paths:
        path = Path(raw).expanduser()
        if not path.exists():
            raise FileNotFoundError(f"article path not found: {path} (give files or folders of articles)")
        candidates = [path] if path.is_file() else _walk(path)
        for file in candidates:
            try:
                key = file.resolve()
            except (OSError, RuntimeError):  # a symlink loop (RuntimeError before Python 3.13)
                key = Path(os.path.abspath(file))  # load_articles reports it as unreadable
            if key not in seen:
                seen.add(key)
                yield file


def _walk(folder: Path) -> list[Path]:
    """Supported, non-hidden files under ``folder``, sorted by their path inside it."""
    def unreadable(exc: OSError) -> None:  # os.walk would skip an unreadable folder silently
        log.warning("cannot read folder %s: %s", exc.filename, exc.strerror or exc)

    found = []
    for root, dirs, files in os.walk(folder, onerror=unreadable):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        for name in files:
            file = Path(root) / name
            if not name.startswith(".") and _suffix(file) in SUPPORTED_SUFFIXES:
                found.append(file)
    return sorted(found, key=lambda f: f.relative_to(folder).parts)


def load_file(path: Path) -> Iterator[_Item]:
    """All items (articles and skips) from one file, dispatching on its suffix."""
    source, suffix, stem = str(path), _suffix(path), path.name[: -len(_suffix(path)) or None]
    try:
        if suffix in (".json", ".json.gz"):
            yield from _give_up_after_skips(load_json(path, source), source)
        elif suffix in (".jsonl", ".jsonl.gz"):
            yield from _give_up_after_skips(load_jsonl(path, source), source)
        elif suffix in (".html", ".htm"):
            raw = _read_html(path)
            yield parse_html(raw, source, stem) if raw.strip() else _Skip(source, "empty file")
        else:
            raw = _read_text(path)
            yield parse_text(raw, source, stem, markdown=suffix == ".md") if raw.strip() else _Skip(source, "empty file")
    except _Unreadable as exc:
        yield _Skip(source, str(exc), is_record=suffix not in (".json", ".json.gz", ".jsonl", ".jsonl.gz"),
                    unread=True)


def load_articles(paths: Iterable[str | Path], progress: bool = False) -> IngestReport:
    """Read every article under ``paths``; bad inputs are skipped with a reason, never raised.

    Only a path that does not exist raises (``FileNotFoundError``), since that is a usage
    error rather than bad data. Exact duplicates (same ``article_id``) keep the first copy.
    """
    from tqdm.auto import tqdm

    report = IngestReport()
    warn = _SkipLog()
    seen: set[str] = set()

    def skip(source: str, reason: str) -> None:
        report.skipped.append((source, reason))
        warn(source, reason)

    files = list(iter_files(paths))
    for path in tqdm(files, desc="ingest", unit="file", disable=not progress):
        suffix = _suffix(path)
        if suffix not in SUPPORTED_SUFFIXES:
            skip(str(path), f"unsupported file type {suffix or '(no suffix)'!r}; "
                            f"supported: {', '.join(SUPPORTED_SUFFIXES)}")
            report.unsupported += 1
            continue
        report.files += 1
        complete = True
        try:
            for item in load_file(path):
                if isinstance(item, _Skip):
                    report.records += item.is_record
                    report.skipped_records += item.is_record
                    complete = complete and not item.unread
                    skip(item.source, item.reason)
                    continue
                report.records += 1
                report.sources.add(item.source)
                if item.id in seen:
                    report.duplicates += 1
                    continue
                seen.add(item.id)
                report.articles.append(item)
        except Exception as exc:  # noqa: BLE001 - one bad file must never stop the run
            skip(str(path), f"unexpected error: {type(exc).__name__}: {exc}")
            complete = False
        if complete:
            report.complete_files.add(str(path))
    warn.close()
    log.info("ingest: %s", report.summary())
    return report
