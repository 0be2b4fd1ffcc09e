"""JSON and JSON Lines feeds: one article per record, and as many records as can be salvaged.

A broken record skips only itself; a broken or truncated file keeps the records before the break;
a file that is mostly non-records is given up on after ``MAX_SKIPPED_RECORDS_PER_FILE`` skips.
The field names (``title``/``headline``, ``text``/``body``/..., Reuters' ``dateline``) are those
of the feeds we ingest.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from pathlib import Path

from qa.ingest import limits
from qa.ingest.article import make_article, too_long
from qa.ingest.clean import clean_text, clean_title
from qa.ingest.dates import parse_date
from qa.ingest.files import UNICODE_BOMS, decode, read_bytes
from qa.ingest.report import Item, Skip

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


def parse_record(record: object, source: str) -> Item:
    """One JSON record -> Article. Reuters-style ``dateline`` is kept in front of the body."""
    if not isinstance(record, dict):
        return Skip(source, f"record is a JSON {type(record).__name__}, not an object")
    if not any(key in record for key in TEXT_KEYS):
        return Skip(source, "no text field (expected one of: " + ", ".join(TEXT_KEYS) + ")")
    raw_text = _first_field(record, TEXT_KEYS)
    text = _text_value(raw_text) if raw_text is not None else ""
    if text is None:
        return Skip(source, f"text field is a {type(raw_text).__name__}, not a string")
    if len(text) > limits.MAX_RAW_ARTICLE_CHARS:  # not worth cleaning: it could not come under MAX_ARTICLE_CHARS
        return Skip(source, too_long(len(text), "before cleaning", limits.MAX_RAW_ARTICLE_CHARS,
                                     "MAX_RAW_ARTICLE_CHARS"))
    body = clean_text(text)
    if not body:
        return Skip(source, "empty body")
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
    return make_article(clean_title(title) if isinstance(title, str) else "", body,
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


def load_json(path: Path, source: str) -> Iterator[Item]:
    """A ``.json``/``.json.gz`` file: its records, or as many as can be salvaged."""
    data, gz_error = read_bytes(path, limits.MAX_JSON_BYTES, "MAX_JSON_BYTES; save bigger feeds as JSON Lines")
    text = decode(data, partial=gz_error is not None)
    del data
    if not text.strip():
        yield Skip(source, gz_error or "empty file", is_record=False, unread=bool(gz_error))
        return
    broken = None
    try:
        records = _json_records(json.loads(text))
    except (ValueError, RecursionError) as exc:  # JSONDecodeError, too deep, a 5000-digit number
        if not isinstance(exc, json.JSONDecodeError) or not text.lstrip().startswith("["):
            yield Skip(source, gz_error or _json_error(exc), is_record=False, unread=True)
            return
        records, broken = _partial_json_array(text)
    if records is None:
        yield Skip(source, "JSON is neither a record nor a list of records", is_record=False, unread=True)
        return
    if not records and not broken and not gz_error:  # "[]": say so, every input leaves a trace
        yield Skip(source, "no records (an empty list)", is_record=False)
        return
    for n, record in enumerate(records, start=1):
        yield parse_record(record, f"{source}#{n}")
    if broken or gz_error:
        reason = gz_error or broken
        yield Skip(source, f"{reason}; the rest of the file after {len(records)} records was not read",
                    is_record=False, unread=True)


def load_jsonl(path: Path, source: str) -> Iterator[Item]:
    """A ``.jsonl``/``.jsonl.gz`` file: one record per line; a bad line skips only itself."""
    data, gz_error = read_bytes(path)
    if data.startswith(tuple(bom for bom, _, _ in UNICODE_BOMS)):  # UTF-16/32: lines are not split on b"\n"
        data = decode(data, partial=gz_error is not None).encode("utf-8")
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
            yield Skip(rec_source, f"not UTF-8 on line {lineno}")
            continue
        try:
            record = json.loads(text)
        except json.JSONDecodeError as exc:
            yield Skip(rec_source, f"invalid JSON on line {lineno}: {exc.msg}")
            continue
        except (ValueError, RecursionError) as exc:  # too deep, a 5000-digit number
            yield Skip(rec_source, f"{_json_error(exc)} (line {lineno})")
            continue
        yield parse_record(record, rec_source)
    if gz_error:
        yield Skip(source, f"{gz_error}; the rest of the file after {n} records was not read",
                    is_record=False, unread=True)
    elif n == 0:  # every input leaves a trace: an empty (or blank) file is a file skip, as for .json
        yield Skip(source, "empty file", is_record=False)


def _lines(data: bytes, stop: int) -> Iterator[bytes]:
    """The lines of ``data[:stop]`` one at a time: ``split`` would hold 100M lines of "1" at once."""
    start = 0
    while start < stop:
        end = data.find(b"\n", start, stop)
        end = stop if end < 0 else end
        yield data[start:end]
        start = end + 1


def give_up_after_skips(items: Iterator[Item], source: str) -> Iterator[Item]:
    """``items``, until ``MAX_SKIPPED_RECORDS_PER_FILE`` records were skipped; then one file skip.

    Each skip is kept (with its source and reason) in the report, so a file of millions of
    non-records would otherwise fill memory; past that many it is not a feed of articles.
    """
    skipped = 0
    for item in items:
        yield item
        if isinstance(item, Skip) and item.is_record:
            skipped += 1
            if skipped >= limits.MAX_SKIPPED_RECORDS_PER_FILE:
                yield Skip(source, f"gave up after {skipped:,} skipped records (MAX_SKIPPED_RECORDS_PER_FILE); "
                                    "the rest of the file was not read", is_record=False, unread=True)
                return
