"""The development sets read once: every question retrieved and read end to end, kept for the decision.

Fitting the calibration (``qa train-calibrator``) and measuring each decision rule
(``bench/finding_rules.py``) both need the same thing: what retrieval found and what the reader
scored for every development question, asked as a user asks, over an index of the set's articles.
The decision itself (``qa.answer.decide``) is cheap, so it is taken again from these reads for
every fit, cut-off and rule switched off, instead of reading 3,000 questions again each time.

Sets (``DEV_SETS``):

* ``squad``: SQuAD 2.0 dev (``squad/dev.json``) over an index of all its articles;
* ``news``: the NewsQA news dev fifth (held out from training) over an index of all NewsQA stories;
* ``news-unanswerable``: the same questions, each asked over an index that does not hold its story
  (the held-out stories in two halves; each half's questions over all the other stories), so every
  answer is wrong: what the product does when the articles do not say.

Reads can be kept in a cache folder (``cache``; outside the repository), keyed by the reader's
weights, the set and the retrieval settings, so a second fit with the same reader reads nothing.
"""

from __future__ import annotations

import hashlib
import logging
import pickle
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from qa.answer.reader.read import ReadResult
from qa.types import Passage

log = logging.getLogger(__name__)

DEV_SETS = ("squad", "news", "news-unanswerable")


@dataclass
class DevRead:
    """One development question as the product saw it: its passages and the reader's spans."""

    set: str
    id: str
    question: str
    answers: list[str]  # empty: unanswerable (every question of news-unanswerable)
    group: str  # the question's article: cross-fitting keeps an article's questions in one fold
    passages: list[Passage]
    result: ReadResult  # with no calibrator attached: the decision attaches the one it is given


@dataclass
class DevSet:
    name: str
    reads: list[DevRead] = field(default_factory=list)
    seconds: float = 0.0


def set_paths(data_dir: Path) -> dict[str, Path]:
    """Where each set's questions are, under the development data folder."""
    news = data_dir / "qa_train" / "newsqa_train.json.gz"
    return {"squad": data_dir / "squad" / "dev.json", "news": news, "news-unanswerable": news}


def read_sets(names: list[str], paths: dict[str, Path], settings, reader_path: str | Path,
              cache: Path | None = None, limit: int = 0) -> list[DevSet]:
    """Each named set, read end to end by the reader at ``reader_path`` (from ``cache`` when there)."""
    return [read_set(name, Path(paths[name]), settings, reader_path, cache, limit) for name in names]


def read_set(name: str, path: Path, settings, reader_path: str | Path, cache: Path | None = None,
             limit: int = 0) -> DevSet:
    key = _cache_key(name, path, settings, reader_path, limit)
    hit = cache / f"{name}-{key}.pkl" if cache else None
    if hit is not None and hit.exists():
        with hit.open("rb") as f:
            out = pickle.load(f)  # our own cache, written below; never a file from elsewhere
        log.info("%s: %d reads from %s", name, len(out.reads), hit)
        return out
    from qa.evaluation.questions import held_out_only, load_questions

    qset = load_questions(path)
    if name.startswith("news"):
        qset = held_out_only(qset)
    questions = qset.questions[:limit] if limit else qset.questions
    # A smoke run (``limit``) indexes only the articles of its questions, not the whole file.
    titles = {q.article_title or "" for q in questions} if limit else None
    t0 = time.time()
    if name == "news-unanswerable":
        reads = []
        for half in (0, 1):
            mine = [q for q in questions if _half(q.article_title or "") == half]
            # Every story except this half's held-out ones: the question's own story is never there.
            reads += _ask(name, path, mine, settings, reader_path, unanswerable=True,
                          keep=lambda t, h=half: not (_held_out(t) and _half(t) == h) and (titles is None or t in titles))
    else:
        reads = _ask(name, path, questions, settings, reader_path,
                     keep=None if titles is None else (lambda t: t in titles))
    out = DevSet(name, reads, time.time() - t0)
    log.info("%s: %d questions read in %.0f s", name, len(reads), out.seconds)
    if hit is not None:
        from qa.util.atomic import atomic_write_bytes

        hit.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(hit, pickle.dumps(out))
    return out


def _ask(name: str, path: Path, questions, settings, reader_path, keep=None, unanswerable: bool = False):
    from qa.answer.pipeline import Pipeline
    from qa.evaluation.evaluate import write_context_corpus

    reads = []
    with tempfile.TemporaryDirectory(prefix=f"qa-dev-{name}-") as tmp:
        articles = Path(tmp) / "articles"
        n = write_context_corpus(path, articles, keep=keep)
        s = settings.with_overrides(corpus=(articles,), index_dir=Path(tmp) / "index", reader_model=Path(reader_path))
        pipe = Pipeline(s)
        report = pipe.index([articles], progress=False)
        log.info("%s: %d articles written, %d indexed (%d chunks); reading %d questions", name, n,
                 report.articles, report.chunks, len(questions))
        pipe.warm_up()
        pipe.reader.calibrator = None
        for q in questions:
            passages, result = pipe.retrieve_and_read(q.question)
            reads.append(DevRead(name, q.id, q.question, [] if unanswerable else list(q.answers),
                                 f"{name.split('-')[0]}:{q.article_title or ''}", passages, result))
    return reads


def _held_out(title: str) -> bool:
    from qa.training.mixture import is_held_out

    return is_held_out(title)


def _half(title: str) -> int:
    return int(hashlib.sha1(("half:" + title).encode("utf-8")).hexdigest(), 16) % 2


def _cache_key(name: str, path: Path, settings, reader_path, limit: int) -> str:
    """The reader's weights and the settings that change retrieval or reading."""
    h = hashlib.sha1()
    folder = Path(reader_path)
    for f in sorted(folder.glob("*")):
        if f.name in ("calibration.json", "verifier.json", "README.md") or f.is_dir():
            continue
        st = f.stat()
        h.update(f"{f.name}:{st.st_size}:{int(st.st_mtime)}".encode())
    for part in (name, str(path), path.stat().st_size if path.exists() else 0, limit, settings.top_k,
                 settings.candidates, settings.chunk_tokens, settings.chunk_overlap, settings.reader_runtime,
                 settings.embed_runtime, settings.null_threshold):
        h.update(f"|{part}".encode())
    return h.hexdigest()[:16]
