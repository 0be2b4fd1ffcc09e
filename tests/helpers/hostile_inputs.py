"""Hostile and malformed article files, to fuzz ``qa.ingest.load_articles`` with.

``generate(folder, n, seed)`` writes ``n`` directory entries under ``folder``, cycling through
``KINDS`` (broken encodings, gzip bombs, 100k-deep JSON, 50 MB lines, script-laden HTML, FIFOs,
symlink loops, odd file names, ...) over every format in ``SUPPORTED_SUFFIXES``. Each ``Case``
says which outcome is acceptable, so ``check`` can tell a handled input from a lost one or a
wrong answer; what counts as a crash is an exception escaping ``load_articles`` (or the process
dying, which the runner in ``hostile_ingest.py`` sees) or a skip that only the catch-all
in ``load_articles`` produced ("unexpected error: ...").

The first round writes every kind once; later rounds repeat them with new content and the next
format. Heavy kinds (50 MB lines) are written once per format at most, so n=1000 stays a few
hundred MB on disk.
"""

from __future__ import annotations

import dataclasses
import gzip
import html
import json
import os
import random
import re
import shutil
import textwrap
import zlib
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from qa.ingest import MAX_ARTICLE_CHARS, MAX_TITLE_CHARS, MAX_URL_CHARS, SUPPORTED_SUFFIXES

MB = 1 << 20
HUGE_LINE_BYTES = 50 * MB  # "a 50 MB single line"
BOMB_BYTES = 1 << 30  # a gzip bomb inflates to 1 GiB of zeros (about 1 MB compressed)
DEEP_NESTING = 100_000  # levels of JSON arrays
MANY_SCALARS = 3_000_000  # elements of the huge JSON array of numbers
MANY_RECORDS = 5_000  # valid records in the huge array of records
SHORT_LINES_CHARS = 600_000  # a hard-wrapped body this long: minutes if clean_text's unwrapping went quadratic
HOSTILE_LINE_CHARS = 300_000  # regex-hostile line ("[[[[", "**a **a", "<a<a<a")
MARKER = "HOSTILE_MARKER_"  # text that must never reach an article (script bodies, navigation, ...)

GZ = (".jsonl.gz", ".json.gz")
JSONS = (".json", ".jsonl", ".json.gz", ".jsonl.gz")
HTMLS = (".html", ".htm")
TEXTS = (".txt", ".md", ".html", ".htm")  # one file, one article

_WORDS = ("minister said talks bank rates harbour floods cricket captain farmers wheat province court "
          "election budget inflation river market police school hospital city council").split()


@dataclass(frozen=True)
class Case:
    """One directory entry written by ``generate`` and the outcome that is acceptable for it.

    expect: "article" (at least one article, or a duplicate of one), "skip" (no article, at least
    one skip, whose reason matches ``reason`` when given), "mixed" (articles and skips), "any"
    (at least one of them), "ignored" (never read: hidden or unsupported names in a folder).
    """

    kind: str
    path: Path
    expect: str
    reason: str = ""  # regex a skip reason must match ("skip" and "mixed")
    own_text: bool = False  # an article must contain this case's "Case N body" sentence
    note: str = ""
    index: int = -1  # the case number (set by ``generate``; "Case N body" in its text)
    fmt: str = ""  # the format (a SUPPORTED_SUFFIXES entry) it was written as


@dataclass
class _Ctx:
    """What a kind's writer needs: where, which format, and randomness."""

    folder: Path
    i: int
    suffix: str
    rng: random.Random
    used: set[str] = field(default_factory=set)  # link targets already written in this run

    def path(self, kind: str, suffix: str | None = None) -> Path:
        return self.folder / f"{self.i:05d}-{kind}{suffix or self.suffix}"


@dataclass(frozen=True)
class Kind:
    """A way to make a hostile input: its name, the formats it applies to, its writer."""

    name: str
    suffixes: tuple[str, ...]
    write: Callable[[_Ctx, str], Case]
    max_rounds: int = 10**9  # heavy kinds are written in the first few rounds only


# ---------------------------------------------------------------------------------------------
# Content


def story(rng: random.Random, i: int, sentences: int = 0) -> tuple[str, str]:
    """A plausible, unique title and body; the body starts "Case i body." so it can be traced."""
    title = f"Hostile case {i}: " + " ".join(rng.choice(_WORDS) for _ in range(5))
    n = sentences or rng.randint(3, 8)
    body = " ".join(" ".join(rng.choice(_WORDS) for _ in range(rng.randint(6, 14))).capitalize() + "."
                    for _ in range(n))
    return title, f"Case {i} body. {body}"


def record(title: object, text: object, **extra: object) -> dict:
    return {"title": title, "text": text, **extra}


def render(suffix: str, title: str, body: str, charset: str = "utf-8") -> str:
    """A valid file of this format holding one article (as text, before encoding/gzip)."""
    base = suffix.removesuffix(".gz")
    if base == ".txt":
        return f"{title}\n\n{body}\n"
    if base == ".md":
        return f"# {title}\n\n{body}\n"
    if base in HTMLS:
        return (f'<!doctype html><html><head><meta charset="{charset}"><title>{html.escape(title)}</title></head>'
                f"<body><article><h1>{html.escape(title)}</h1><p>{html.escape(body)}</p></article></body></html>\n")
    if base == ".json":
        return json.dumps([record(title, body)], ensure_ascii=False)
    return json.dumps(record(title, body), ensure_ascii=False) + "\n"  # .jsonl


def packed(suffix: str, data: bytes) -> bytes:
    """``data`` gzipped when the format is, as is."""
    return gzip.compress(data, compresslevel=1) if suffix.endswith(".gz") else data


def _write(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


_BOMB: bytes | None = None


def gzip_bomb() -> bytes:
    """1 GiB of zeros as one gzip member, compressed a megabyte at a time (never held whole)."""
    global _BOMB
    if _BOMB is None:
        deflate = zlib.compressobj(9, zlib.DEFLATED, zlib.MAX_WBITS | 16)
        zeros = bytes(MB)
        parts = [deflate.compress(zeros) for _ in range(BOMB_BYTES // MB)]
        parts.append(deflate.flush())
        _BOMB = b"".join(parts)
    return _BOMB


# ---------------------------------------------------------------------------------------------
# Kinds that apply to every format: encodings, bytes, sizes


def _valid(c: _Ctx, kind: str) -> Case:
    title, body = story(c.rng, c.i)
    path = _write(c.path(kind), packed(c.suffix, render(c.suffix, title, body).encode()))
    return Case(kind, path, "article", own_text=True)


def _utf8_bom(c: _Ctx, kind: str) -> Case:
    title, body = story(c.rng, c.i)
    path = _write(c.path(kind), packed(c.suffix, render(c.suffix, title, body).encode("utf-8-sig")))
    return Case(kind, path, "article", own_text=True)


def _utf16_bom(c: _Ctx, kind: str) -> Case:
    title, body = story(c.rng, c.i)
    codec = c.rng.choice(("utf-16", "utf-16-be", "utf-32"))
    text = render(c.suffix, title, body + " Café owner Zoë said naïve things.")
    data = ("\ufeff" + text).encode(codec) if codec != "utf-16" and codec != "utf-32" else text.encode(codec)
    path = _write(c.path(kind), packed(c.suffix, data))
    return Case(kind, path, "article", own_text=True, note=codec)


def _utf16_nobom(c: _Ctx, kind: str) -> Case:
    title, body = story(c.rng, c.i)
    text = render(c.suffix, title, body + c.rng.choice(("", " Café naïve.")))
    path = _write(c.path(kind), packed(c.suffix, text.encode("utf-16-le")))
    return Case(kind, path, "any")


def _latin1(c: _Ctx, kind: str) -> Case:
    title, body = story(c.rng, c.i)
    text = render(c.suffix, title, body + " The café owner paid £5, said naïve Zoë.")
    path = _write(c.path(kind), packed(c.suffix, text.encode("latin-1")))
    return Case(kind, path, "skip", reason="not UTF-8")


def _cp1252(c: _Ctx, kind: str) -> Case:
    """Smart quotes in Windows-1252; an HTML page that declares it is readable."""
    title, body = story(c.rng, c.i)
    declared = c.suffix in HTMLS
    text = render(c.suffix, title, body + " \u201cWe agreed\u201d \u2014 the minister said.",
                  charset="windows-1252" if declared else "utf-8")
    path = _write(c.path(kind), packed(c.suffix, text.encode("cp1252")))
    return Case(kind, path, "article", own_text=True) if declared else Case(kind, path, "skip", reason="not UTF-8")


def _invalid_utf8(c: _Ctx, kind: str) -> Case:
    title, body = story(c.rng, c.i)
    data = render(c.suffix, title, body).encode()
    cut = len(data) // 2
    bad = c.rng.choice((b"\xff", b"\xc3\x28", b"\xe2\x82", b"\xed\xa0\x80", b"\xf8\x88\x80\x80\x80", b"\x80\x80"))
    path = _write(c.path(kind), packed(c.suffix, data[:cut] + bad + data[cut:]))
    return Case(kind, path, "skip", reason="not UTF-8", note=repr(bad))


def _mixed_encoding(c: _Ctx, kind: str) -> Case:
    """UTF-8 then Latin-1 in one file; in JSON Lines, one line of each."""
    t1, b1 = story(c.rng, c.i)
    t2, b2 = story(c.rng, c.i)
    if c.suffix.removesuffix(".gz") == ".jsonl":
        data = (json.dumps(record(t1, b1 + " café"), ensure_ascii=False).encode() + b"\n"
                + json.dumps(record(t2, b2 + " café"), ensure_ascii=False).encode("latin-1") + b"\n")
        return Case(kind, _write(c.path(kind), packed(c.suffix, data)), "mixed", reason="not UTF-8", own_text=True)
    text = render(c.suffix, t1, b1 + " Café in UTF-8. " + "Café in Latin-1.")
    half = text.index("Café in Latin-1.")
    data = text[:half].encode() + text[half:].encode("latin-1")
    return Case(kind, _write(c.path(kind), packed(c.suffix, data)), "skip", reason="not UTF-8")


def _nul_bytes(c: _Ctx, kind: str) -> Case:
    title, body = story(c.rng, c.i)
    text = render(c.suffix, title, body.replace(" ", " \x00", 3) + "\x00\x00")
    readable = c.suffix in TEXTS  # NUL is dropped from text; inside a JSON string it is invalid JSON
    return Case(kind, _write(c.path(kind), packed(c.suffix, text.encode())), "article" if readable else "any",
                own_text=readable)


def _binary_garbage(c: _Ctx, kind: str) -> Case:
    size = c.rng.choice((1, 17, 4096, 65536))
    data = bytes(c.rng.getrandbits(8) for _ in range(size))
    return Case(kind, _write(c.path(kind), packed(c.suffix, data)), "any", note=f"{size} random bytes")


def _empty(c: _Ctx, kind: str) -> Case:
    return Case(kind, _write(c.path(kind), packed(c.suffix, b"")), "skip", reason="empty")


def _whitespace(c: _Ctx, kind: str) -> Case:
    data = c.rng.choice((b"\n\n\n", b"   \t  \r\n", b"\xc2\xa0\n\xe2\x80\x8b"))  # NBSP, zero-width space
    # a zero-width space is not whitespace to str.strip: in a .json it is invalid JSON, not an empty file
    return Case(kind, _write(c.path(kind), packed(c.suffix, data)), "skip", reason="empty|invalid JSON")


def _huge_line(c: _Ctx, kind: str) -> Case:
    """One 50 MB line: a body, or a JSON text field, of a single article."""
    unit = "lorem ipsum dolor sit amet "
    line = (unit * (HUGE_LINE_BYTES // len(unit) + 1))[:HUGE_LINE_BYTES]
    title, _ = story(c.rng, c.i)
    data = render(c.suffix, title, line).encode()
    del line
    return Case(kind, _write(c.path(kind), packed(c.suffix, data)), "skip", reason=r"too long|over the .* limit")


def _over_cap(c: _Ctx, kind: str) -> Case:
    """Ordinary prose, a little over MAX_ARTICLE_CHARS once cleaned."""
    title, body = story(c.rng, c.i, sentences=1)
    filler = " ".join(story(c.rng, c.i, sentences=40)[1] for _ in range(4))
    body = (body + " ") + (filler + " ") * (int(MAX_ARTICLE_CHARS * 1.2) // (len(filler) + 1))
    return Case(kind, _write(c.path(kind), packed(c.suffix, render(c.suffix, title, body).encode())),
                "skip", reason="article too long")


def _short_lines(c: _Ctx, kind: str) -> Case:
    """A long hard-wrapped body (every line under 100 characters, no blank line)."""
    title, body = story(c.rng, c.i, sentences=2)
    words = []
    while sum(map(len, words)) < SHORT_LINES_CHARS:
        words.append(" ".join(c.rng.choice(_WORDS) for _ in range(8)) + ("-" if c.rng.random() < 0.1 else ""))
    text = "\n".join(textwrap.wrap(body, 80) + words)  # every line short: the whole body is one block
    if c.suffix.removesuffix(".gz") in (".json", ".jsonl"):
        data = render(c.suffix, title, text)
    else:
        data = render(c.suffix, title, "PLACEHOLDER").replace("PLACEHOLDER", text if c.suffix not in HTMLS
                                                              else html.escape(text))
    return Case(kind, _write(c.path(kind), packed(c.suffix, data.encode())), "article", own_text=True)


_HOSTILE_UNITS = ("[", "![", "[a](", "**a ", "__a ", "*a ", "# ", "#", "<a", "<!--", "&#", "a.B", "Mr. A ", "](")


def _regex_hostile(c: _Ctx, kind: str) -> Case:
    """One long line of a unit that made a regex backtrack (Markdown links, emphasis, headings)."""
    unit = c.rng.choice(_HOSTILE_UNITS)
    title, body = story(c.rng, c.i)
    line = unit * (HOSTILE_LINE_CHARS // len(unit))
    text = render(c.suffix, title, body + "\n\n" + line)
    return Case(kind, _write(c.path(kind), packed(c.suffix, text.encode())), "any", note=repr(unit))


# ---------------------------------------------------------------------------------------------
# HTML


def _html_page(c: _Ctx, kind: str, inside: str, after: str = "", expect: str = "article") -> Case:
    title, body = story(c.rng, c.i)
    page = (f"<!doctype html><html><head><title>{title}</title></head><body><article><h1>{title}</h1>"
            f"<p>{body}</p>{inside}</article>{after}")
    return Case(kind, _write(c.path(kind), page.encode()), expect, own_text=expect == "article")


def _html_scripts(c: _Ctx, kind: str) -> Case:
    """Scripts, styles, iframes, navigation: none of their text may reach the article."""
    m = MARKER
    title, body = story(c.rng, c.i)
    page = f"""<!doctype html><html><head><title>{title}</title>
<script>var secret = "{m}SCRIPT"; document.write("<p>{m}WRITE</p>");</script>
<style>body::after {{ content: "{m}STYLE" }}</style></head>
<body><nav><a href="/">{m}NAV</a></nav><header>{m}HEADER</header>
<iframe src="javascript:alert('{m}')">{m}IFRAME</iframe><noscript>{m}NOSCRIPT</noscript>
<article><h1>{title}</h1><p onclick="alert('{m}ATTR')">{body}</p>
<script type="text/javascript">//<![CDATA[
if (a < b && c > d) {{ x = "</p>{m}CDATA"; }}
//]]></script><template><p>{m}TEMPLATE</p></template><form><input value="{m}FORM"></form>
<svg><script>{m}SVG</script><text>{m}SVGTEXT</text></svg><object data="x">{m}OBJECT</object>
<p>More of the story.</p></article><aside>{m}ASIDE</aside><footer>{m}FOOTER</footer>
<script>{m}UNCLOSED_SCRIPT"""
    return Case(kind, _write(c.path(kind), page.encode()), "article", own_text=True)


def _html_unclosed_tags(c: _Ctx, kind: str) -> Case:
    return _html_page(c, kind, "<div><p>open<b>bold<i>italic</div></p><table><tr><td>cell<ul><li>item", "</span></html")


def _html_tag_flood(c: _Ctx, kind: str) -> Case:
    unit = c.rng.choice(("<a", "</", "<!", "<?", "<a b='", "'<a b=' <!-- -- >", "<![CDATA[", "<![if x"))
    return _html_page(c, kind, "", unit * (HOSTILE_LINE_CHARS // len(unit)), expect="any")


def _html_unclosed_comment(c: _Ctx, kind: str) -> Case:
    return _html_page(c, kind, "", "<!-- never closed " + "<p>hidden text</p>" * 10_000)


def _html_marked_section(c: _Ctx, kind: str) -> Case:
    return _html_page(c, kind, "<![foo bar]><p>after a bogus section</p><![endif]>")


def _html_deep_nesting(c: _Ctx, kind: str) -> Case:
    depth = DEEP_NESTING
    return _html_page(c, kind, "<div>" * depth + "<p>deep</p>" + "</div>" * depth)


def _html_nav_flood(c: _Ctx, kind: str) -> Case:
    """100k open dropped elements, then 100k unrelated end tags (quadratic work for a naive extractor)."""
    return _html_page(c, kind, "", "<nav>" * 100_000 + "</x>" * 100_000)


def _html_huge_title(c: _Ctx, kind: str) -> Case:
    title, body = story(c.rng, c.i)
    big = " ".join(c.rng.choice(_WORDS) for _ in range(400_000))
    page = f"<html><head><title>{big}</title></head><body><h1>{big}</h1><p>{body}</p></body></html>"
    return Case(kind, _write(c.path(kind), page.encode()), "article", own_text=True)


def _html_bad_charset(c: _Ctx, kind: str) -> Case:
    title, body = story(c.rng, c.i)
    charset = c.rng.choice(("undefined", "rot13", "zlib", "x-no-such-charset", "utf-32", "idna"))
    page = render(c.suffix, title, body + " caf\u00e9", charset=charset).encode("latin-1")
    return Case(kind, _write(c.path(kind), page), "any", note=charset)


# ---------------------------------------------------------------------------------------------
# JSON


def _json_file(c: _Ctx, kind: str, records: list, expect: str, reason: str = "", raw: bytes | None = None,
               own_text: bool = False) -> Case:
    """``records`` as a JSON array or as JSON Lines, gzipped for .gz."""
    if raw is None:
        if c.suffix.removesuffix(".gz") == ".json":
            raw = json.dumps(records, ensure_ascii=False, allow_nan=True).encode()
        else:
            raw = "".join(json.dumps(r, ensure_ascii=False, allow_nan=True) + "\n" for r in records).encode()
    return Case(kind, _write(c.path(kind), packed(c.suffix, raw)), expect, reason=reason, own_text=own_text)


def _json_deep(c: _Ctx, kind: str) -> Case:
    doc = "[" * DEEP_NESTING + "]" * DEEP_NESTING
    return _json_file(c, kind, [], "skip", reason="nested too deeply", raw=(doc + "\n").encode())


def _json_deep_field(c: _Ctx, kind: str) -> Case:
    title, body = story(c.rng, c.i)
    line = json.dumps(record(title, body))[:-1] + ', "extra": ' + "[" * DEEP_NESTING + "]" * DEEP_NESTING + "}"
    raw = ("[" + line + "]" if c.suffix.removesuffix(".gz") == ".json" else line + "\n").encode()
    return _json_file(c, kind, [], "skip", reason="nested too deeply", raw=raw)


def _json_scalars(c: _Ctx, kind: str) -> Case:
    """Millions of numbers: a skip each, until the file is given up on."""
    if c.suffix.removesuffix(".gz") == ".json":
        raw = ("[" + ",".join(["1"] * MANY_SCALARS) + "]").encode()
    else:
        raw = b"1\n" * MANY_SCALARS
    return _json_file(c, kind, [], "skip", reason="gave up after", raw=raw)


def _json_many(c: _Ctx, kind: str) -> Case:
    records = [record(*story(c.rng, c.i)) for _ in range(MANY_RECORDS)]
    for n, r in enumerate(records):
        r["text"] += f" Record {n}."
    return _json_file(c, kind, records, "article", own_text=True)


def _json_wrong_types(c: _Ctx, kind: str) -> Case:
    """Every field with the wrong type; the one good record must still load."""
    title, body = story(c.rng, c.i)
    wrong: list[object] = [
        record(["a", "list"], body + " list title"), record(42, body + " number title"),
        record(None, body + " null title"), record({"an": "object"}, body + " object title"),
        record(True, body + " bool title"),
        record(title, {"a": "dict"}), record(title, 42), record(title, None), record(title, [1, 2, 3]),
        record(title, ["para", 2]), record(title, ""), record(title, True), record(title, [[["x"]]]),
        {"title": title, "body": ["para one.", "para two."], "date": {"y": 2024}},
        {"title": title, "text": body + " bad dates", "date": 1e308, "published": float("nan"), "pubdate": -1},
        {"title": title, "text": body + " huge ts", "date": 10**300, "datePublished": "not a date"},
        {"title": title, "text": body + " bad url", "url": ["x"], "link": 42, "dateline": ["LONDON"]},
        {"headline": 3.5, "content": body + " numeric headline"},
        {"no": "text field"}, [], "a string record", 7, None, True,
        record(title, body),  # the good one
    ]
    return _json_file(c, kind, wrong, "mixed", own_text=True)


def _json_big_int(c: _Ctx, kind: str) -> Case:
    title, body = story(c.rng, c.i)
    line = json.dumps(record(title, body))[:-1] + ', "id": ' + "9" * 10_000 + "}"
    raw = ("[" + line + "]" if c.suffix.removesuffix(".gz") == ".json" else line + "\n").encode()
    return _json_file(c, kind, [], "skip", reason="invalid JSON", raw=raw)


def _json_nan(c: _Ctx, kind: str) -> Case:
    title, body = story(c.rng, c.i)
    return _json_file(c, kind, [record(float("nan"), body, date=float("inf"), url=float("-inf"))], "article",
                      own_text=True)


def _json_surrogates(c: _Ctx, kind: str) -> Case:
    title, body = story(c.rng, c.i)
    line = json.dumps(record(title + " \ud800 lone", body + " \udfff and \ud83d\ude00 emoji"))  # ASCII escapes
    raw = ("[" + line + "]" if c.suffix.removesuffix(".gz") == ".json" else line + "\n").encode()
    return _json_file(c, kind, [], "article", raw=raw, own_text=True)


def _json_scalar_doc(c: _Ctx, kind: str) -> Case:
    doc = c.rng.choice(('"just a string"', "42", "null", "true", "[]", "{}", "[[]]", "[{}]", '{"data": "x"}'))
    return _json_file(c, kind, [], "skip", raw=(doc + "\n").encode())


def _json_truncated(c: _Ctx, kind: str) -> Case:
    records = [record(*story(c.rng, c.i)) for _ in range(5)]
    whole = _json_file(c, kind, records, "any").path
    raw = gzip.decompress(whole.read_bytes()) if c.suffix.endswith(".gz") else whole.read_bytes()
    cut = int(len(raw) * 0.6)
    cut -= 3 if raw[cut - 1: cut] == b"\n" else 0  # never at a line end: the cut must break a record
    return _json_file(c, kind, [], "mixed", raw=raw[:cut], own_text=True)


def _json_huge_fields(c: _Ctx, kind: str) -> Case:
    """A 5 MB title and a 1 MB url on an ordinary article: the title is cut, the url dropped."""
    _, body = story(c.rng, c.i)
    big_title = " ".join(c.rng.choice(_WORDS) for _ in range(700_000))
    return _json_file(c, kind, [record(big_title, body, url="http://x.test/" + "a" * MB)], "article", own_text=True)


def _json_wrapped(c: _Ctx, kind: str) -> Case:
    title, body = story(c.rng, c.i)
    key = c.rng.choice(("articles", "data", "records"))
    raw = json.dumps({key: [record(title, body)], "meta": {"n": 1}}).encode()
    if c.suffix.removesuffix(".gz") == ".jsonl":
        raw += b"\n"
    return _json_file(c, kind, [], "article" if c.suffix.removesuffix(".gz") == ".json" else "any", raw=raw)


def _json_dup_keys(c: _Ctx, kind: str) -> Case:
    title, body = story(c.rng, c.i)
    line = '{"text": "first", "title": %s, "text": %s}' % (json.dumps(title), json.dumps(body))
    raw = ("[" + line + "]" if c.suffix.removesuffix(".gz") == ".json" else line + "\n").encode()
    return _json_file(c, kind, [], "article", raw=raw, own_text=True)


# ---------------------------------------------------------------------------------------------
# gzip


def _gz_content(c: _Ctx, records: int = 50) -> bytes:
    recs = [record(*story(c.rng, c.i)) for _ in range(records)]
    if c.suffix == ".json.gz":
        return json.dumps(recs).encode()
    return "".join(json.dumps(r) + "\n" for r in recs).encode()


def _gz_truncated(c: _Ctx, kind: str) -> Case:
    data = gzip.compress(_gz_content(c))
    cut = data[: int(len(data) * c.rng.uniform(0.4, 0.9))]
    return Case(kind, _write(c.path(kind), cut), "mixed", reason="truncated or corrupt gzip", own_text=True)


def _gz_corrupt(c: _Ctx, kind: str) -> Case:
    data = bytearray(gzip.compress(_gz_content(c)))
    for _ in range(c.rng.randint(1, 8)):
        pos = c.rng.randrange(10, len(data))
        data[pos] ^= 1 << c.rng.randrange(8)
    return Case(kind, _write(c.path(kind), bytes(data)), "any")


def _gz_not_gzip(c: _Ctx, kind: str) -> Case:
    return Case(kind, _write(c.path(kind), _gz_content(c, 3)), "skip", reason="gzip")


def _gz_bomb(c: _Ctx, kind: str) -> Case:
    return Case(kind, _write(c.path(kind), gzip_bomb()), "skip", reason="decompresses past")


def _gz_multi_member(c: _Ctx, kind: str) -> Case:
    """Two good members, then garbage: the first two load, the rest is a file skip."""
    one, two = _gz_content(c, 3), _gz_content(c, 3)
    if c.suffix == ".json.gz":  # two JSON documents back to back are not one document
        data = gzip.compress(one[:-1] + b",") + gzip.compress(two[1:]) + b"\x00\x00garbage"
    else:
        data = gzip.compress(one) + gzip.compress(two) + b"\x00\x00garbage"
    return Case(kind, _write(c.path(kind), data), "mixed", reason="gzip", own_text=True)


def _gz_header_only(c: _Ctx, kind: str) -> Case:
    return Case(kind, _write(c.path(kind), gzip.compress(_gz_content(c))[:10]), "skip", reason="gzip|empty")


# ---------------------------------------------------------------------------------------------
# The file system: links, FIFOs, permissions, names


def _symlink_loop(c: _Ctx, kind: str) -> Case:
    """a -> .loops/b -> a (the second link sits in a hidden folder, so it is not an input itself)."""
    a = c.path(kind)
    b = c.folder / ".loops" / a.name
    b.parent.mkdir(exist_ok=True)
    os.symlink(os.path.join("..", a.name), b)
    os.symlink(os.path.join(".loops", a.name), a)
    return Case(kind, a, "skip", reason="cannot read|symbolic")


def _self_symlink(c: _Ctx, kind: str) -> Case:
    a = c.path(kind)
    os.symlink(a.name, a)
    return Case(kind, a, "skip", reason="cannot read|symbolic")


def _dangling_symlink(c: _Ctx, kind: str) -> Case:
    a = c.path(kind)
    os.symlink(f"no-such-file-{c.i}{c.suffix}", a)  # a target of its own: inputs that resolve alike are read once
    return Case(kind, a, "skip", reason="cannot read")


def _fifo(c: _Ctx, kind: str) -> Case:
    """A named pipe with no writer: reading it naively blocks forever."""
    a = c.path(kind)
    os.mkfifo(a)
    return Case(kind, a, "skip", reason="not a regular file")


_DEVICES = ("/dev/zero", "/dev/urandom", "/dev/full", "/dev/null")


def _dev_zero(c: _Ctx, kind: str) -> Case:
    """A symlink to /dev/zero (or another device): reading it naively fills memory or never ends.

    Links that resolve to a device an earlier case already links to are the same input, which
    ``iter_files`` reads once: those are expected to be ignored.
    """
    a = c.path(kind)
    device = _DEVICES[c.rng.randrange(len(_DEVICES))]
    os.symlink(device, a)
    if device in c.used:
        return Case(kind, a, "ignored", note=f"{device} again: the same file, read once")
    c.used.add(device)
    return Case(kind, a, "skip", reason="not a regular file", note=device)


def _unreadable(c: _Ctx, kind: str) -> Case:
    """chmod 000. Root reads it anyway (tests often run as root), so either outcome is honest."""
    case = _valid(c, kind)
    os.chmod(case.path, 0)
    as_root = os.geteuid() == 0
    return Case(kind, case.path, "any" if as_root else "skip", reason="" if as_root else "cannot read",
                note="root ignores chmod 000" if as_root else "")


def _dir_with_suffix(c: _Ctx, kind: str) -> Case:
    """A folder named like an article file: not an input; the file inside it is."""
    inner = _Ctx(c.path(kind), c.i, c.suffix, c.rng)
    case = _valid(inner, kind)
    return case


def _hidden(c: _Ctx, kind: str) -> Case:
    case = _valid(c, kind)
    hidden = case.path.with_name("." + case.path.name)
    case.path.rename(hidden)
    return Case(kind, hidden, "ignored")


def _unsupported(c: _Ctx, kind: str) -> Case:
    case = _valid(c, kind)
    other = case.path.with_name(case.path.name + c.rng.choice((".bak", ".pdf", "~", ".part")))
    case.path.rename(other)
    return Case(kind, other, "ignored")


def _named(c: _Ctx, kind: str, name: str | bytes) -> Case:
    """A valid article under an odd name."""
    title, body = story(c.rng, c.i)
    data = packed(c.suffix, render(c.suffix, title, body).encode())
    if isinstance(name, bytes):  # not valid UTF-8: the str path carries surrogate escapes
        raw = os.fsencode(c.folder) + b"/" + name
        with open(raw, "wb") as f:
            f.write(data)
        path = Path(os.fsdecode(raw))
    else:
        path = _write(c.folder / name, data)
    return Case(kind, path, "article", own_text=True)


def _odd_name(c: _Ctx, kind: str) -> Case:
    i, s = c.i, c.suffix
    names: list[str | bytes] = [
        f"{i:05d} with  spaces {s}", f"{i:05d}-line\nbreak{s}", f"{i:05d}-tab\tand\rreturn{s}",
        f"-{i:05d}-leading-dash{s}", f"--{i:05d}{s}", f"{i:05d}-ünïcödé-日本語-\u202eRTL-😀{s}",
        f"{i:05d}-nfd-cafe\u0301{s}", f"{i:05d}-{'x' * (250 - len(s) - 6)}{s}",
        f"{i:05d}-{'é' * ((250 - len(s) - 6) // 2)}{s}", f"{i:05d}-hash#12{s}", f"{i:05d}-glob*?[x]{s}",
        f"{i:05d}-$(touch pwned){s}", f"{i:05d}-quote'\"{s}", f"{i:05d}-back\\slash{s}",
        f"{i:05d}-UPPER{s.upper()}", f"{i:05d}-bad-\xff".encode("latin-1") + s.encode(),
    ]
    return _named(c, kind, names[c.rng.randrange(len(names))])


ALL = tuple(SUPPORTED_SUFFIXES)
KINDS: tuple[Kind, ...] = (
    Kind("valid", ALL, _valid),
    Kind("utf8_bom", ALL, _utf8_bom),
    Kind("utf16_32_bom", ALL, _utf16_bom),
    Kind("utf16_no_bom", ALL, _utf16_nobom),
    Kind("latin1", ALL, _latin1),
    Kind("cp1252", ALL, _cp1252),
    Kind("invalid_utf8", ALL, _invalid_utf8),
    Kind("mixed_encoding", ALL, _mixed_encoding),
    Kind("nul_bytes", ALL, _nul_bytes),
    Kind("binary_garbage", ALL, _binary_garbage),
    Kind("empty", ALL, _empty),
    Kind("whitespace_only", ALL, _whitespace),
    Kind("huge_line_50mb", ALL, _huge_line, max_rounds=len(ALL)),
    Kind("over_article_cap", ALL, _over_cap, max_rounds=2 * len(ALL)),
    Kind("hard_wrapped_600k", ALL, _short_lines, max_rounds=2 * len(ALL)),
    Kind("regex_hostile_line", ALL, _regex_hostile),
    Kind("html_scripts_iframes", HTMLS, _html_scripts),
    Kind("html_unclosed_tags", HTMLS, _html_unclosed_tags),
    Kind("html_tag_flood", HTMLS, _html_tag_flood),
    Kind("html_unclosed_comment", HTMLS, _html_unclosed_comment),
    Kind("html_marked_section", HTMLS, _html_marked_section),
    Kind("html_deep_nesting", HTMLS, _html_deep_nesting),
    Kind("html_nav_flood", HTMLS, _html_nav_flood),
    Kind("html_huge_title", HTMLS, _html_huge_title),
    Kind("html_bad_charset", HTMLS, _html_bad_charset),
    Kind("json_deep_100k", JSONS, _json_deep),
    Kind("json_deep_field", JSONS, _json_deep_field),
    Kind("json_3m_numbers", JSONS, _json_scalars, max_rounds=2 * len(JSONS)),
    Kind("json_5k_records", JSONS, _json_many, max_rounds=len(JSONS)),
    Kind("json_wrong_types", JSONS, _json_wrong_types),
    Kind("json_big_int", JSONS, _json_big_int),
    Kind("json_nan_inf", JSONS, _json_nan),
    Kind("json_lone_surrogates", JSONS, _json_surrogates),
    Kind("json_not_records", JSONS, _json_scalar_doc),
    Kind("json_truncated", JSONS, _json_truncated),
    Kind("json_huge_title_url", JSONS, _json_huge_fields, max_rounds=2 * len(JSONS)),
    Kind("json_wrapped", JSONS, _json_wrapped),
    Kind("json_duplicate_keys", JSONS, _json_dup_keys),
    Kind("gzip_truncated", GZ, _gz_truncated),
    Kind("gzip_corrupt", GZ, _gz_corrupt),
    Kind("gzip_not_gzip", GZ, _gz_not_gzip),
    Kind("gzip_bomb_1gb", GZ, _gz_bomb),
    Kind("gzip_multi_member", GZ, _gz_multi_member),
    Kind("gzip_header_only", GZ, _gz_header_only),
    Kind("symlink_loop", ALL, _symlink_loop),
    Kind("self_symlink", ALL, _self_symlink),
    Kind("dangling_symlink", ALL, _dangling_symlink),
    Kind("fifo", ALL, _fifo),
    Kind("symlink_dev_zero", ALL, _dev_zero),
    Kind("chmod_000", ALL, _unreadable),
    Kind("folder_named_like_file", ALL, _dir_with_suffix),
    Kind("hidden_file", ALL, _hidden),
    Kind("unsupported_suffix", ALL, _unsupported),
    Kind("odd_name", ALL, _odd_name),
)


def generate(folder: Path, n: int, seed: int = 0, formats: tuple[str, ...] | None = None) -> list[Case]:
    """Write ``n`` hostile inputs into ``folder`` (created, must be empty) and say what each should become.

    Round r writes every kind whose ``max_rounds`` allows it, kind k in format
    ``suffixes[(r + k) % len(suffixes)]``, so the first round covers every kind and, across
    kinds, every format; n >= len(KINDS) covers every kind at least once. ``formats`` (e.g.
    ``(".html", ".htm")``) keeps only those formats, and the kinds that apply to them; fewer
    than ``n`` inputs come out when the heavy kinds have used up their rounds.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    if any(folder.iterdir()):
        raise ValueError(f"{folder} is not empty")
    rng = random.Random(seed)
    cases: list[Case] = []
    used: set[str] = set()
    r = 0
    while len(cases) < n:
        before = len(cases)
        for k, kind in enumerate(KINDS):
            if len(cases) >= n:
                break
            suffixes = tuple(s for s in kind.suffixes if formats is None or s in formats)
            if r >= kind.max_rounds or not suffixes:
                continue
            suffix = suffixes[(r + k) % len(suffixes)]
            ctx = _Ctx(folder, len(cases), suffix, random.Random(rng.getrandbits(64)), used)
            cases.append(dataclasses.replace(kind.write(ctx, kind.name), index=ctx.i, fmt=suffix))
        if len(cases) == before:  # no kind applies any more
            break
        r += 1
    return cases


def cleanup(folder: Path) -> None:
    """Remove what ``generate`` wrote (chmod 000 files and FIFOs included)."""
    shutil.rmtree(folder, ignore_errors=True)


# ---------------------------------------------------------------------------------------------
# Checking an ingest run against the cases


_RECORD = re.compile(r"#\d+$")
_OWN_TEXT = re.compile(r"Case (\d+) body")


@dataclass
class Verdict:
    """What happened to the cases: the figures for the table and every problem found."""

    inputs: int = 0
    crashes: list[str] = field(default_factory=list)
    articles: int = 0
    duplicates: int = 0
    skips: Counter = field(default_factory=Counter)  # normalised reason -> count
    outcomes: Counter = field(default_factory=Counter)  # (kind, outcome) -> count
    unaccounted: list[str] = field(default_factory=list)
    wrong: list[str] = field(default_factory=list)
    leaks: list[str] = field(default_factory=list)  # MARKER text in an article, caps exceeded

    @property
    def ok(self) -> bool:
        return not (self.crashes or self.unaccounted or self.wrong or self.leaks)

    def problems(self) -> list[str]:
        return ([f"crash: {c}" for c in self.crashes] + [f"unaccounted: {u}" for u in self.unaccounted]
                + [f"wrong outcome: {w}" for w in self.wrong] + [f"leak: {x}" for x in self.leaks])


def normalise_reason(reason: str) -> str:
    """A skip reason without its numbers, offsets and quoted bits, for counting by kind."""
    reason = re.sub(r"'[^']*'|\"[^\"]*\"", "'…'", reason)
    reason = re.sub(r"(?<![A-Za-z-])\d[\d,.]*", "N", reason)  # "UTF-8", "Error -3" stay
    return reason[:110]


def check(cases: list[Case], result: dict) -> Verdict:
    """Match an ingest result (``hostile_ingest.run_ingest``) to the cases that made it.

    Accounting: every input (file) that was not meant to be ignored must show up as an article,
    a duplicate of one, or a skip with a reason; the report's own sum must hold
    (records == articles + skipped records + duplicates).
    """
    v = Verdict(inputs=len(cases))
    if result.get("crash"):
        v.crashes.append(result["crash"])
        return v
    by_path = {str(c.path): c for c in cases}

    def case_of(source: str) -> Case | None:
        return by_path.get(source) or by_path.get(_RECORD.sub("", source))

    arts: dict[str, int] = Counter()
    own: dict[str, bool] = {}
    dups: dict[str, int] = Counter()
    skips: dict[str, list[str]] = {}
    for a in result["articles"]:
        case = case_of(a["source"])
        key = str(case.path) if case else a["source"]
        arts[key] += 1
        if case and case.index in a["cases"]:
            own[key] = True
        if a["markers"]:
            v.leaks.append(f"{a['source']!r}: {a['markers']} reached the article")
        if a["text_chars"] > MAX_ARTICLE_CHARS or a["title_chars"] > MAX_TITLE_CHARS or a["url_chars"] > MAX_URL_CHARS:
            v.leaks.append(f"{a['source']!r}: over a cap ({a['text_chars']} text, {a['title_chars']} title, "
                           f"{a['url_chars']} url characters)")
    for source in result["sources"]:
        case = case_of(source)
        dups[str(case.path) if case else source] += 1
    for source, reason in result["skipped"]:
        case = case_of(source)
        skips.setdefault(str(case.path) if case else source, []).append(reason)
        v.skips[normalise_reason(reason)] += 1
        if reason.startswith("unexpected error"):
            v.crashes.append(f"{source!r}: {reason}")
    v.articles = len(result["articles"])
    v.duplicates = result["duplicates"]
    if result["records"] != v.articles + result["skipped_records"] + v.duplicates:
        v.wrong.append(f"report does not add up: {result['records']} records != {v.articles} articles + "
                       f"{result['skipped_records']} skipped + {v.duplicates} duplicates")
    known = set(by_path)
    for key in set(arts) | set(skips) | set(dups):
        if key not in known:
            v.wrong.append(f"{key!r} was read but is no case (a stray file?)")
    for case in cases:
        key = str(case.path)
        n_art, n_skip, n_src = arts.get(key, 0), len(skips.get(key, [])), dups.get(key, 0)
        seen = n_art or n_skip or n_src
        outcome = ("ignored" if not seen else "mixed" if n_src and n_skip else "article" if n_src else "skip")
        v.outcomes[(case.kind, outcome)] += 1
        label = f"{case.kind} {key!r}{' (' + case.note + ')' if case.note else ''}"
        if case.expect == "ignored":
            if seen:
                v.wrong.append(f"{label}: should have been ignored, was read")
            continue
        if not seen:
            v.unaccounted.append(f"{label}: neither an article nor a skip")
            continue
        reasons = skips.get(key, [])
        if case.expect == "article" and not n_src:
            v.wrong.append(f"{label}: expected an article, got skips {reasons[:3]}")
        elif case.expect == "skip" and n_src:
            v.wrong.append(f"{label}: expected a skip, got {n_src} articles")
        elif case.expect == "mixed" and not (n_src and n_skip):
            v.wrong.append(f"{label}: expected articles and skips, got {n_src} articles, {n_skip} skips {reasons[:3]}")
        if case.reason and case.expect in ("skip", "mixed") and not any(re.search(case.reason, r) for r in reasons):
            v.wrong.append(f"{label}: no skip reason matches {case.reason!r}: {reasons[:3]}")
        if case.own_text and n_art and not own.get(key):
            v.wrong.append(f"{label}: its articles do not contain its own 'Case N body' text")
    return v

