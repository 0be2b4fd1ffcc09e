"""End-to-end confidence: the probability that an answer shown is right, from retrieval and reading together.

The reader's own score says how sure it is *inside a passage*; it cannot know
that the passage came from the wrong article. On real news that is most of
the errors: "When will the Greyfield library close?" read in a bridge-repair
article still yields a confident date. So the confidence shown is a logistic
model over features of the whole answer:

* reading: the span's margin over the null score, its length, how much of the
  question its sentence holds, whether it is the kind of thing the question
  word asks for (``qa.answer.confidence.verify``);
* retrieval: the passage's rank, its dense and BM25 ranks, its fused score;
* topic: the share of the question's key terms that the article's title and
  passage hold (an article that does not mention what the question is about
  should not answer it);
* agreement: the share of the other articles among the passages whose spans say
  the same, and how far the best span of another article is behind;
* rank: how far the span's margin is below the question's best span (a question's
  spans are fitted together, and the reader's best is right far more often);
* what is asked: the share of the question's predicate terms (its content words
  but names: "killed", "engineers", "attack") in the span's sentence and in its
  passage. "How many Chinese engineers were killed?" read in "the bombing targeted
  two Chinese engineers" has the number but not the killing.

Every candidate span of a question is one row (labelled right when it matches a
gold answer), so the probability ranks the spans of one question as well as it
refuses: the product shows the most confident span first.

It is fitted by ``qa train-calibrator`` on development data only (SQuAD dev
over an index of all dev articles, the NewsQA news dev fifth over an index of
all its stories, and those questions over an index without their story), stored
as plain numbers in ``calibration.json`` beside the reader with the cut-offs
chosen for it (``Cutoffs``), and applied by ``qa.answer.decide`` to every span.
A reader with no calibration shows its own probability, marked uncalibrated.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from typing import ClassVar

import numpy as np

from qa.answer.rules.negation import QuestionPredicate
from qa.text.normalize import normalize_words
from qa.text.terms import content_stems, same_word, word_stems
from qa.answer.confidence.verify import VerifierModel, question_type, sentence_around, type_fits
from qa.types import Passage

CALIBRATION_FILE = "calibration.json"
FEATURES = (
    "margin", "margin_pos", "span_words_log", "overlap", "wh_expects", "wh_fits",
    "passage_rank_rr", "dense_rr", "lexical_rr", "fused_score",
    "article_share", "agreement", "other_article_gap", "predicate_sentence", "predicate_passage", "best_gap",
)


@dataclass(frozen=True)
class Cutoffs:
    """The confidence a span needs to be shown: as the answer, as a further finding, as a possible answer
    below the cut-off (else the closest passages are shown)."""

    answer: float
    further: float
    possible: float


# A reader with no calibration: its own probability, sigmoid(margin - its no-answer threshold), is 0.5
# exactly where the reader itself would stop answering.
UNCALIBRATED = Cutoffs(answer=0.5, further=0.5, possible=0.0)


@dataclass
class Calibrator(VerifierModel):
    """The end-to-end model: ``VerifierModel``'s logistic regression over ``FEATURES``, with its cut-offs
    (``cutoff`` is the answer cut-off)."""

    FILE: ClassVar[str] = CALIBRATION_FILE
    NAMES: ClassVar[tuple[str, ...]] = FEATURES
    further_cutoff: float = 0.5
    possible_cutoff: float = 0.0

    @property
    def cutoffs(self) -> Cutoffs:
        return Cutoffs(self.cutoff, self.further_cutoff, self.possible_cutoff)


def answer_features(question: str, passages: list[Passage], passage: int, start: int, end: int, margin: float,
                    others: list[tuple[int, str, float]]) -> list[float]:
    """The inputs for one span of ``passages[passage]`` (offsets in its chunk text); ``others`` are the
    other candidate spans as (passage index, text, margin). Order as ``FEATURES``."""
    p = passages[passage]
    text = p.chunk.text
    span = text[start:end]
    m = float(np.clip(margin, -30.0, 30.0))
    lo, hi = sentence_around(text, start, end)
    q = content_stems(question)
    overlap = len(q & content_stems(text[lo:hi])) / len(q) if q else 0.0
    article_share = len(q & content_stems(f"{p.title}\n{text}")) / len(q) if q else 0.0
    qtype = question_type(question)
    expects = qtype != "other"
    words = _normalized(span)
    agreeing: set[str] = set()  # other articles with a span that says the same: independent support
    other_best = None
    for i, other_text, other_margin in others:
        other_article = passages[i].chunk.article_id
        if other_article == p.chunk.article_id:
            continue  # overlapping chunks of one article repeat its words: that is not agreement
        if words and _f1(words, _normalized(other_text)) >= 0.5:
            agreeing.add(other_article)
        other_best = other_margin if other_best is None else max(other_best, other_margin)
    other_articles = {x.chunk.article_id for x in passages} - {p.chunk.article_id}
    # With no other article among the passages there is nothing to be ahead of: measured against the
    # no-answer line (margin 0), not as the widest lead, which made a one-article corpus look sure of anything.
    gap = float(np.clip(margin - (other_best if other_best is not None else 0.0), -30.0, 30.0))
    best = max((m for _, _, m in others), default=margin)
    asked = _predicate_terms(question)
    return [
        m,
        max(m, 0.0),
        math.log1p(len(span.split())),
        overlap,
        float(expects),
        float(expects and type_fits(qtype, span)),
        1.0 / (1 + passage),
        1.0 / p.dense_rank if p.dense_rank else 0.0,
        1.0 / p.lexical_rank if p.lexical_rank else 0.0,
        float(p.score),
        article_share,
        len(agreeing) / max(1, len(other_articles)),
        gap,
        _share(asked, text[lo:start] + " " + text[end:hi]),
        _share(asked, f"{p.title}\n{text}"),
        float(np.clip(margin - max(best, margin), -30.0, 0.0)),
    ]


@lru_cache(maxsize=256)
def _predicate_terms(question: str) -> frozenset[str]:
    return QuestionPredicate.of(question).terms


@lru_cache(maxsize=4096)
def _share(terms: frozenset[str], text: str) -> float:
    """The share of ``terms`` (stems) that some word of ``text`` is a form of; 1 when there are none."""
    if not terms:
        return 1.0
    stems = word_stems(text)
    return sum(t in stems or any(same_word(s, t) for s in stems) for t in terms) / len(terms)


@lru_cache(maxsize=4096)
def _normalized(text: str) -> tuple[str, ...]:
    return tuple(normalize_words(text))


def _f1(a: tuple[str, ...], b: tuple[str, ...]) -> float:
    common = sum(min(a.count(w), b.count(w)) for w in set(a))
    if not common:
        return 0.0
    precision, recall = common / len(b), common / len(a)
    return 2 * precision * recall / (precision + recall)

