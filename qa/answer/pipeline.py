"""The question-answering pipeline: retrieve passages, read them, cite the answer.

``Pipeline`` wires the stages from one ``Settings`` and loads each model on
first use, so the CLI, the chat and the evaluation share one code path.
"""

from __future__ import annotations

import functools
import logging
import re
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from qa.store.chunk import Chunker
from qa.config import Settings
from qa.answer.followups.conversation import Conversation, ResolvedQuestion
from qa.answer.decide import decide
from qa.store.embed import Embedder
from qa.answer.rules.findings import DecisionRules
from qa.store.versions import IndexData, IndexStore
from qa.answer.reader.read import Reader, ReadResult
from qa.answer.retrieve import HybridRetriever
from qa.text.sources import source_label
from qa.types import Answer, Filters, Passage, article_day

if TYPE_CHECKING:  # indexing is imported when it runs: `qa ask` on an existing index never reads files
    from qa.store.update import Indexer, IndexReport

log = logging.getLogger(__name__)

LOAD_TRIES = 3  # loads of the current version while writers keep switching it
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2066-\u2069\ufeff]")


@dataclass(frozen=True)
class IndexOverview:
    """What the loaded index holds, for the chat's status line."""

    articles: int
    chunks: int
    earliest: str | None  # YYYY-MM-DD of the oldest dated article
    latest: str | None


@dataclass(frozen=True)
class IndexSnapshot:
    """One loaded index version and the retriever over it: what a question answers from, whole."""

    data: IndexData
    retriever: HybridRetriever


class Pipeline:
    """ingest → chunk → embed → index, and retrieve → read → cite, from one configuration.

    Safe to share between threads (the chat answers several questions at once): a new index
    version is loaded whole beside the current one and swapped in as one reference, and each
    question works on the snapshot it started with. ``threads``: ONNX Runtime threads per model
    (None: all cores), so that questions answered at once do not oversubscribe the cores.
    """

    def __init__(self, settings: Settings | None = None, threads: int | None = None) -> None:
        self.settings = settings or Settings.from_env()
        s = self.settings
        self.store = IndexStore(s.index_dir, vectors=s.vectors)  # the writer's (indexer)
        self._reads = IndexStore(s.index_dir, vectors=s.vectors)  # answering's: never the writer's
        self.threads = threads
        self.embedder = Embedder(s.embedder_path(), batch_size=s.embed_batch, runtime=_embed_runtime(s),
                                 threads=threads)
        self.chunker = Chunker(s.embedder_path(), max_tokens=s.chunk_tokens, overlap=s.chunk_overlap)
        self.reader = Reader(s.reader_model, null_threshold=s.null_threshold, runtime=s.reader_runtime,
                             threads=threads)
        self._snapshot: IndexSnapshot | None = None
        self._loading = threading.RLock()  # one load at a time; questions never wait for it once one is loaded
        self.rules = DecisionRules(answer_cutoff=s.answer_cutoff)

    # --- indexing (qa.store.update) -----------------------------------------
    def indexer(self, ray: str | None = None, ray_workers: int | None = None) -> Indexer:
        """The indexing half, with this pipeline's store, chunker and (current) embedder; ``ray`` (a
        cluster address, or "" for a local Ray) reads, chunks and embeds on Ray instead."""
        from qa.store.update import Indexer, preparer

        return Indexer(self.store, self.chunker, self.embedder,
                       preparer=preparer(self.chunker, self.embedder, ray, ray_workers))

    def index(self, paths: list[str | Path] | None = None, progress: bool = True,
              prune: bool = False, ray: str | None = None, ray_workers: int | None = None) -> IndexReport:
        """``Indexer.run`` on ``paths`` (default: the corpus and the uploads folder); a pipeline that
        answers questions switches to the new version before it returns (an upload is searchable when
        the chat says so)."""
        report = self.indexer(ray, ray_workers).run(list(paths or self.settings.article_paths()),
                                                    progress=progress, prune=prune)
        self._index_written()
        return report

    def ensure_index(self, progress: bool = True) -> IndexReport | None:
        """``Indexer.ensure``: index the configured corpus when there is no index yet."""
        report = self.indexer().ensure(self.settings, progress=progress)
        if report is not None:
            self._index_written()
        return report

    def _index_written(self) -> None:
        """After this process wrote a version: switch to it now if questions are being answered;
        else the first question loads it. A version that fails to load is reported by that question."""
        if self._snapshot is None:
            return
        try:
            self._switch(wait=True)
        except (OSError, ValueError) as exc:
            log.warning("the new index version did not load: %s", exc)
            self._snapshot = None

    # --- answering --------------------------------------------------------
    @property
    def retriever(self) -> HybridRetriever:
        return self.snapshot().retriever

    def snapshot(self) -> IndexSnapshot:
        """The index version questions answer from now, loaded on first use."""
        snap = self._snapshot
        return snap if snap is not None else self._switch(wait=True)

    def refresh(self) -> bool:
        """Switch to the version another process (a `qa index`) has made current since the snapshot
        was loaded. True when it did (or when the index is gone: the next use says so).

        Costs one read of the small CURRENT file: the chat calls it before every question and page
        load. While another thread is loading that version, returns False at once: questions go on
        with the snapshot they have, and each answer comes from one whole version, old or new.
        """
        snap = self._snapshot
        if snap is None:
            return False
        now = self._reads.current()
        if now is not None and now.name == snap.data.root.name:
            return False
        log.info("index %s changed (%s -> %s): reloading", self.settings.index_dir, snap.data.root.name,
                 now.name if now else "none")
        if now is None:
            self._snapshot = None
            return True
        new = self._switch(wait=False)
        return new is not None and new is not snap

    def _switch(self, wait: bool) -> IndexSnapshot | None:
        """Load the current version whole, then swap it in; None at once when another thread is
        loading and ``wait`` is False."""
        if not self._loading.acquire(blocking=wait):
            return None
        try:
            snap, now = self._snapshot, self._reads.current()
            if snap is not None and now is not None and now.name == snap.data.root.name:
                return snap  # another thread switched while this one waited
            data = self._load_whole()
            self._follow_index_precision(data)
            snap = IndexSnapshot(data, HybridRetriever(data, self.embedder, candidates=self.settings.candidates))
            self._snapshot = snap
            return snap
        finally:
            self._loading.release()

    def _load_whole(self) -> IndexData:
        """``IndexStore.load``; when a writer switched versions (and removed the one being read)
        during the load, the new version is loaded instead of failing."""
        for _ in range(LOAD_TRIES - 1):
            before = self._reads.current()
            try:
                return self._reads.load()
            except (OSError, ValueError):
                after = self._reads.current()
                if before is None or after is None or after.name == before.name:
                    raise
                log.info("index switched to %s while %s was loading: loading that", after.name, before.name)
        return self._reads.load()

    def _follow_index_precision(self, data: IndexData) -> None:
        """With ``embed_runtime`` auto, questions are embedded at the loaded index's precision; a
        rebuild elsewhere at another precision swaps the embedder."""
        if self.settings.embed_runtime != "auto":
            return
        from qa.util.onnx import auto_embed_runtime

        runtime = auto_embed_runtime((data.manifest.get("settings") or {}).get("embedder"))
        if runtime != self.embedder.runtime:
            s = self.settings
            self.embedder = Embedder(s.embedder_path(), batch_size=s.embed_batch, runtime=runtime,
                                     threads=self.threads)

    def check_ready(self) -> None:
        """Fail early, with what to do, when the index or the reader model is missing."""
        if not self.store.exists():
            raise FileNotFoundError(
                f"no index in {self.settings.index_dir}: run `qa index PATH...` (or `qa index` for "
                f"{', '.join(map(str, self.settings.corpus))})"
            )
        model = Path(self.reader.model_path)
        if not (model / "config.json").exists() and not _looks_like_hub_name(self.reader.model_path):
            raise FileNotFoundError(
                f"no reader model at {model}: set QA_READER_MODEL (or --reader) to a question-answering "
                "model folder, or train one with `qa train-reader`"
            )

    def answer_cutoff(self) -> float:
        """The confidence an answer needs: ``QA_ANSWER_CUTOFF``, else the one fitted with the reader."""
        from qa.answer.confidence.calibrate import UNCALIBRATED

        self.reader.load()
        if self.rules.answer_cutoff is not None:
            return self.rules.answer_cutoff
        if self.reader.calibrator is not None:
            return self.reader.calibrator.cutoff
        return self.reader.verifier.cutoff if self.reader.verifier is not None else UNCALIBRATED.answer

    def warm_up(self) -> None:
        """Load the index and both models now, so the first question is not the slow one."""
        self.check_ready()
        _ = self.retriever
        self.embedder.encode(["warm up"])
        self.reader.load()

    def ask(
        self,
        question: str,
        k: int | None = None,
        filters: Filters | None = None,
        conversation: Conversation | None = None,
    ) -> Answer:
        """Answer one question from the index; any text gets an Answer, except that a question
        with no words at all (empty, whitespace, only symbols) raises ValueError saying so.

        With ``conversation``, a follow-up is resolved against the previous turn:
        retrieval searches its expanded query, the reader reads its resolved text
        (``Answer.resolved_question``), and the turn is remembered. ``filters``
        restricts the articles searched.
        """
        question = clean_question(question)
        self.refresh()  # a `qa index` in another process since the last question: answer from its index
        retriever = self.retriever
        asked = asked_part(question)
        if conversation is not None and asked == question:
            resolved = conversation.resolve(question)
        else:  # a pasted text with a question in it is never a follow-up
            resolved = ResolvedQuestion(asked, asked)
        t0 = time.perf_counter()
        passages = retriever.retrieve(
            resolved.query, top_k=k or self.settings.top_k, filters=filters, prefer_article=resolved.prefer_article
        )
        t1 = time.perf_counter()
        roots = self._source_roots(retriever.data)
        texts = [p.chunk.text for p in passages]
        answer = decide(resolved.text, passages, functools.partial(self.reader.read, passages=texts), self.rules,
                        prefer_article=resolved.prefer_article, roots=roots, filters=filters, asked=question)
        t2 = time.perf_counter()
        answer.question = question
        answer.resolved_question = resolved.text
        answer.follows = resolved.follows if resolved.is_follow_up else None
        answer.timings = {"retrieve": t1 - t0, "read": t2 - t1, "total": t2 - t0}
        if conversation is not None:
            conversation.remember(question, resolved, answer)
        return answer

    def retrieve_and_read(self, question: str, k: int | None = None) -> tuple[list[Passage], ReadResult]:
        """What ``ask`` decides from, for a question that is not a follow-up: the passages and the
        reader's spans (read for every question, yes/no ones too, so a rule can be switched off later)."""
        question = asked_part(clean_question(question))
        passages = self.retriever.retrieve(question, top_k=k or self.settings.top_k)
        return passages, self.reader.read(question, [p.chunk.text for p in passages])

    # --- what the chat's controls offer ----------------------------------
    def sources(self) -> list[str]:
        """Source labels of the indexed articles (URL hosts, corpus files/folders), for a source filter."""
        return sorted({value for _, value in self.source_choices()})

    def source_choices(self) -> list[tuple[str, str]]:
        """(what to show, filter value) for each source label: a label that stands for one article
        with a title shows that title ("Beijing pushing Islamabad…", not "000_5f21….txt"); a host or
        folder of several articles shows its name. Sorted by what is shown."""
        data = self._loaded()
        roots = self._source_roots(data)
        titles: dict[str, list[str]] = {}
        for a in data.articles.values():
            label = source_label(a.source, a.url, roots)
            if label:
                titles.setdefault(label, []).append(" ".join((a.title or "").split()))
        shown = {label: (ts[0] if len(ts) == 1 and ts[0] else label) for label, ts in titles.items()}
        clash = {s for s in shown.values() if list(shown.values()).count(s) > 1}
        choices = [(f"{s} ({label})" if s in clash and s != label else s, label) for label, s in shown.items()]
        return sorted(choices, key=lambda c: (c[0].casefold(), c[1]))

    def date_range(self) -> tuple[str | None, str | None]:
        """Earliest and latest article date (YYYY-MM-DD), (None, None) when no article is dated."""
        return _date_range(self._loaded())

    def overview(self) -> IndexOverview:
        """The current index in numbers (reloaded first if another process changed it)."""
        data = self._loaded()
        lo, hi = _date_range(data)
        return IndexOverview(len(data.articles), len(data.chunks), lo, hi)

    def _loaded(self) -> IndexData:
        self.refresh()
        return self.snapshot().data

    def _source_roots(self, data: IndexData | None) -> list[Path]:
        """Folders (or files) articles were read from: the index's own record, then the settings."""
        roots = [Path(p) for p in (data.manifest.get("corpus_paths", []) if data else [])]
        return roots + [Path(p) for p in (*self.settings.corpus, self.settings.uploads)]

def _date_range(data: IndexData) -> tuple[str | None, str | None]:
    days = [d for d in (article_day(a.date) for a in data.articles.values()) if d]
    return (min(days), max(days)) if days else (None, None)


def clean_question(question: str | None) -> str:
    """The question as the pipeline handles it: control characters gone, whitespace collapsed.

    Raises ValueError, with what is wrong, for a question with nothing to search for.
    Length is not limited here: the reader keeps the end of a long question.
    """
    text = _CONTROL.sub(" ", question or "")
    text = " ".join(text.split())
    if not text:
        raise ValueError("the question is empty")
    if not any(ch.isalnum() for ch in text):
        raise ValueError("the question has no words to search for (only symbols or emoji)")
    return text


PASTE_CHARS = 400  # a "question" this long is a pasted text with a question in it, not a question
_SENTENCE = re.compile(r"[^.!?]*[.!?]+|[^.!?]+$")


def asked_part(text: str) -> str:
    """What is asked in a long pasted text: its last sentence ending in "?", else its last sentence.

    A pasted article with a question at the end is a new question about that text, never a
    follow-up (its pronouns point into the text, not at the previous turn); retrieval and the
    reader get the question, not 30k characters of article. Shorter questions are kept whole.
    """
    if len(text) <= PASTE_CHARS:
        return text
    sentences = [m.group(0).strip() for m in _SENTENCE.finditer(text) if m.group(0).strip()]
    asking = [x for x in sentences if x.endswith("?") and any(ch.isalnum() for ch in x)]
    last = asking[-1] if asking else next((x for x in reversed(sentences) if any(ch.isalnum() for ch in x)), text)
    return last if len(last) <= PASTE_CHARS else last[-PASTE_CHARS:].lstrip()


def _embed_runtime(s: Settings) -> str:
    """``auto``: the precision the index was built with, so questions are embedded as its chunks were;
    without an index (or with a damaged one), int8 where the CPU is fast at it."""
    if s.embed_runtime != "auto":
        return s.embed_runtime
    from qa.util.onnx import auto_embed_runtime

    try:
        manifest = IndexStore(s.index_dir).manifest() or {}  # a throwaway store: reading marks what it saw
    except Exception:  # noqa: BLE001 - a damaged index is reported when it is used, not here
        manifest = {}
    return auto_embed_runtime((manifest.get("settings") or {}).get("embedder"))


def _looks_like_hub_name(name: str) -> bool:
    """'org/model' that is not a local path: allowed when a user points at a cached hub model."""
    return name.count("/") == 1 and not Path(name).exists() and not name.startswith((".", "/"))
