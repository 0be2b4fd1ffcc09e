"""The run: every file under the given paths, read by the reader for its format, into one report.

This is where the promise "nothing raises on bad input" is kept: readers turn what they can
foresee into skips, and anything else one file throws becomes a skip for that file here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from qa.ingest.files import SUPPORTED_SUFFIXES, Unreadable, iter_files, read_text, suffix
from qa.ingest.html import parse_html, read_html
from qa.ingest.records import give_up_after_skips, load_json, load_jsonl
from qa.ingest.report import IngestReport, Item, Skip, SkipLog, log
from qa.ingest.text import parse_text
from qa.types import Article

_JSON_SUFFIXES = (".json", ".json.gz", ".jsonl", ".jsonl.gz")


def load_file(path: Path) -> Iterator[Item]:
    """All items (articles and skips) from one file, dispatching on its suffix."""
    kind = suffix(path)
    source, stem = str(path), path.name[: -len(kind) or None]
    try:
        if kind in (".json", ".json.gz"):
            yield from give_up_after_skips(load_json(path, source), source)
        elif kind in (".jsonl", ".jsonl.gz"):
            yield from give_up_after_skips(load_jsonl(path, source), source)
        elif kind in (".html", ".htm"):
            raw = read_html(path)
            yield parse_html(raw, source, stem) if raw.strip() else Skip(source, "empty file")
        else:
            raw = read_text(path)
            yield parse_text(raw, source, stem, markdown=kind == ".md") if raw.strip() else Skip(source, "empty file")
    except Unreadable as exc:
        yield Skip(source, str(exc), is_record=kind not in _JSON_SUFFIXES, unread=True)


class _CallerError(Exception):
    """Carries an exception out of ``on_article`` past the per-file catch-all."""


def load_articles(paths: Iterable[str | Path], progress: bool = False,
                  on_article: Callable[[Article], None] | None = None) -> IngestReport:
    """Read every article under ``paths``; bad inputs are skipped with a reason, never raised.

    Only a path that does not exist raises (``FileNotFoundError``), since that is a usage
    error rather than bad data. Exact duplicates (same ``article_id``) keep the first copy.
    ``on_article`` is called with each kept article as soon as it is read (the indexer chunks
    and embeds while later files are still being parsed).
    """
    return load_files(list(iter_files(paths)), progress=progress, on_article=on_article)


def load_files(files: list[Path], progress: bool = False,
               on_article: Callable[[Article], None] | None = None) -> IngestReport:
    """``load_articles`` over exactly these files, in this order, as a walk of their folders gave them.

    For readers that split one walk between workers (``qa.store.distributed``): each reads its share.
    """
    from tqdm.auto import tqdm

    report = IngestReport()
    warn = SkipLog()
    seen: set[str] = set()

    def skip(source: str, reason: str) -> None:
        report.skipped.append((source, reason))
        warn(source, reason)

    for path in tqdm(files, desc="ingest", unit="file", disable=not progress):
        kind = suffix(path)
        if kind not in SUPPORTED_SUFFIXES:
            skip(str(path), f"unsupported file type {kind or '(no suffix)'!r}; "
                            f"supported: {', '.join(SUPPORTED_SUFFIXES)}")
            report.unsupported += 1
            continue
        report.files += 1
        complete = True
        try:
            for item in load_file(path):
                if isinstance(item, Skip):
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
                if on_article is not None:
                    try:
                        on_article(item)
                    except BaseException as exc:  # the caller's failure, not the file's: not a skip
                        raise _CallerError() from exc
        except _CallerError as exc:
            raise exc.__cause__ from None
        except Exception as exc:  # noqa: BLE001 - one bad file must never stop the run
            skip(str(path), f"unexpected error: {type(exc).__name__}: {exc}")
            complete = False
        if complete:
            report.complete_files.add(str(path))
    warn.close()
    log.info("ingest: %s", report.summary())
    return report
