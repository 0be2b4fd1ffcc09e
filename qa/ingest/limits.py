"""The caps that keep hostile input bounded, in one place (see ``bench/hostile_ingest.py``).

Modules read them as ``limits.NAME`` at call time, never ``from ... import NAME``, so a test or
a caller can lower one with ``monkeypatch.setattr(qa.ingest.limits, NAME, value)`` and every
reader sees it. The names re-exported by ``qa.ingest`` are copies, for reading only.
"""

from __future__ import annotations

MB = 1 << 20
MAX_ARTICLE_CHARS = 1_000_000  # cleaned text of one article; longer ones are skipped
MAX_RAW_ARTICLE_CHARS = 4 * MAX_ARTICLE_CHARS  # a JSON text field longer than this is skipped uncleaned
MAX_ARTICLE_FILE_BYTES = 8 * MB  # a .txt/.md/.html bigger than this is skipped unread
MAX_TITLE_CHARS = 500  # longer titles are cut at a word boundary
MAX_URL_CHARS = 4096  # longer urls are dropped
MAX_INPUT_BYTES = 256 * MB  # bytes read from one file, after gunzip; also the gzip-bomb cap
MAX_JSON_BYTES = 64 * MB  # a .json is parsed whole (objects take ~20x their text): JSON Lines scale
MAX_SKIPPED_RECORDS_PER_FILE = 100_000  # then the rest of the file is skipped as one file problem
MAX_SKIP_WARNINGS = 20  # after this many skip warnings, only a final count is logged
