"""What an ingestion run reports: the articles, and every input it left out with the reason.

Kept apart from the readers so the indexer can import the report and its summary line without
the parsers, and so every reader speaks the same ``Skip`` language.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from qa.ingest import limits
from qa.types import Article

# One logger for the whole package ("qa.ingest"), not one per module: it is what users configure.
log = logging.getLogger("qa.ingest")


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
class Skip:
    """A record (or the rest of a file) that could not become an article."""

    source: str
    reason: str
    is_record: bool = True  # False for file-level problems that are not one record
    unread: bool = False  # the file (or its rest) could not be read: its old articles may still be in it


Item = Article | Skip  # what every reader yields


class SkipLog:
    """Logs the first few skips as warnings and counts the rest, so a corpus with thousands
    of empty bodies does not flood the log."""

    def __init__(self, limit: int | None = None) -> None:
        self.limit = limits.MAX_SKIP_WARNINGS if limit is None else limit
        self.count = 0

    def __call__(self, source: str, reason: str) -> None:
        self.count += 1
        if self.count <= self.limit:
            log.warning("skipped %s: %s", source, reason)

    def close(self) -> None:
        hidden = self.count - self.limit
        if hidden > 0:
            log.warning("... and %d more skipped inputs not shown (see IngestReport.skipped)", hidden)
