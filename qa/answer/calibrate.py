"""End-to-end confidence: the probability that an answer shown is right, from retrieval and reading together.

The reader's own score says how sure it is *inside a passage*; it cannot know
that the passage came from the wrong article. On real news that is most of
the errors: "When will the Greyfield library close?" read in a bridge-repair
article still yields a confident date. So the confidence shown is a logistic
model over features of the whole answer:

* reading: the span's margin over the null score, its length, how much of the
  question its sentence holds, whether it is the kind of thing the question
  word asks for (``qa.answer.verify``);
* retrieval: the passage's rank, its dense and BM25 ranks, its fused score;
* topic: the share of the question's key terms that the article's title and
  passage hold (an article that does not mention what the question is about
  should not answer it);
* agreement: how many other passages' spans say the same, and how far the best
  span of another article is behind.

It is fitted by ``qa train-verifier --end-to-end`` on development data only
(SQuAD dev over an index of all dev articles, the NewsQA news dev fifth over an
index of all its stories), stored as plain numbers in ``calibration.json``
beside the reader, and applied by ``qa.answer.decide`` to every finding: each
one, the first and those from other articles alike, must clear its cut-off.
"""

from __future__ import annotations

import math
import re
import string

import numpy as np

from qa.answer.terms import content_stems
from qa.answer.verify import VerifierModel, question_type, sentence_around, type_fits
from qa.types import Passage

CALIBRATION_FILE = "calibration.json"
FEATURES = (
    "margin", "margin_pos", "span_words_log", "overlap", "wh_expects", "wh_fits",
    "passage_rank_rr", "dense_rr", "lexical_rr", "fused_score",
    "article_share", "agreement", "other_article_gap",
)


class Calibrator(VerifierModel):
    """The end-to-end model: ``VerifierModel``'s logistic regression over ``FEATURES``."""

    FILE = CALIBRATION_FILE
    NAMES = FEATURES


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
    words = normalize_words(span)
    same, other_best = 0, None
    for i, other_text, other_margin in others:
        if i == passage:
            continue
        if words and _f1(words, normalize_words(other_text)) >= 0.5:
            same += 1
        if passages[i].chunk.article_id != p.chunk.article_id:
            other_best = other_margin if other_best is None else max(other_best, other_margin)
    gap = float(np.clip(margin - other_best, -30.0, 30.0)) if other_best is not None else 30.0
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
        same / max(1, len(passages) - 1),
        gap,
    ]


def _f1(a: list[str], b: list[str]) -> float:
    common = sum(min(a.count(w), b.count(w)) for w in set(a))
    if not common:
        return 0.0
    precision, recall = common / len(b), common / len(a)
    return 2 * precision * recall / (precision + recall)


_ARTICLES = re.compile(r"\b(a|an|the)\b")
_PUNCT = str.maketrans("", "", string.punctuation)


def normalize_words(text: str) -> list[str]:
    """SQuAD's answer normalisation (lower case, no punctuation or articles), as words; kept here so
    that answering does not import ``qa.evaluation``."""
    return _ARTICLES.sub(" ", text.lower().translate(_PUNCT)).split()
