"""How an article's source is shown: its URL, or its file relative to the corpus folder.

The index stores the path the article was read from, which may be an absolute
path on the server. Readers get the URL when the article has one, otherwise
the path relative to the corpus folder (or file) it came from, with the
'#N' record suffix of multi-record files kept; never an absolute path.
Done at display time, from what the index stores, so no index needs rebuilding for it.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path, PurePath
from urllib.parse import urlsplit


def split_record(source: str) -> tuple[str, str]:
    """'data/a.jsonl#3' -> ('data/a.jsonl', '#3'); a '#' not followed by digits is part of the name."""
    path, sep, tail = source.rpartition("#")
    if sep and tail.isdigit():
        return path, f"#{tail}"
    return source, ""


def relative_source(source: str, roots: Iterable[str | Path] = ()) -> str:
    """The file part of ``source`` relative to the first root holding it, else its file name."""
    path, record = split_record(source or "")
    if not path:
        return record
    p = Path(path)
    candidates = [p] + ([p.resolve()] if not p.is_absolute() else [])
    for root in roots:
        for base in _forms(str(root)):
            for c in candidates:
                try:
                    rel = c.relative_to(base)
                except ValueError:
                    continue
                if str(rel) == ".":  # the root is the file itself
                    return c.name + record
                return rel.as_posix() + record
    if p.is_absolute() or ".." in p.parts:
        return p.name + record
    return PurePath(path).as_posix() + record


@lru_cache(maxsize=64)
def _forms(root: str) -> tuple[Path, ...]:
    """A root as given and resolved (symlinks, '..'): stored paths may use either."""
    r = Path(root)
    resolved = r.resolve()
    return (r,) if resolved == r else (r, resolved)


def display_source(source: str, url: str = "", roots: Iterable[str | Path] = ()) -> str:
    """What a citation shows as its source: the URL if any, else the relative file (with '#N')."""
    url = (url or "").strip()
    return url if url else relative_source(source, roots)


def source_label(source: str, url: str = "", roots: Iterable[str | Path] = ()) -> str:
    """A short name for a source filter: the URL's host (no 'www.'), else the corpus entry.

    The corpus entry is the first part of the relative path: a sub-folder, or a
    file directly in the corpus folder (a '.jsonl.gz' of many records is one
    label). Each label is a substring of the source or URL it came from, so it
    works as a ``Filters.sources`` entry.
    """
    url = (url or "").strip()
    if url:
        host = urlsplit(url).netloc.lower()
        host = host.rsplit("@", 1)[-1].split(":", 1)[0]
        if host:
            return host[4:] if host.startswith("www.") else host
    rel = relative_source(source, roots)
    path, _ = split_record(rel)
    return PurePath(path).parts[0] if path else ""
