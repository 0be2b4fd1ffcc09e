"""Answer verification: a calibrated probability that the reader's best span answers the question.

The reader's span-minus-null margin alone ranks answerable above
unanswerable questions poorly, and its sigmoid is not a probability. A small logistic model over features the
pipeline already has (the margin and its parts, span length, how much of the
question the answer's sentence shares, whether the span is the kind of thing
the question word asks for, negation the question does not have) turns them
into P(correct), which is what the chat shows as confidence and what decides
answering versus refusing.

The model is a few numbers in ``verifier.json`` beside the reader (no pickle);
it is fitted by ``qa train-verifier`` on SQuAD dev questions.
"""

from __future__ import annotations

import json
import math
import re
from functools import lru_cache
from dataclasses import asdict, dataclass, field
from typing import ClassVar
from pathlib import Path

import numpy as np

from qa.text.sentences import split_sentences
from qa.answer.rules.negation import denies
from qa.text.terms import content_stems
from qa.util.atomic import atomic_write_text

VERIFIER_FILE = "verifier.json"

FEATURES = (
    "margin", "margin_pos", "span_score", "null_score", "span_words_log",
    "overlap", "wh_expects", "wh_fits", "denied", "span_is_sentence_start",
)

_MONTHS = ("january february march april may june july august september october november december "
           "jan feb mar apr jun jul aug sep sept oct nov dec monday tuesday wednesday thursday friday saturday sunday "
           "today yesterday tomorrow week month year century decade morning evening night spring summer autumn winter")
_DATE = re.compile(r"\b(1[0-9]{3}|20[0-9]{2})\b|\b(" + "|".join(_MONTHS.split()) + r")\b|\d{1,2}[:/.-]\d{1,2}", re.I)
_NUMBER = re.compile(
    r"\d|\b(one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|twenty|thirty|forty|fifty|hundred|"
    r"thousand|million|billion|dozen|several|few|many|half)\b", re.I)
_CAPITAL = re.compile(r"\b[A-Z][a-z]+")


def question_type(question: str) -> str:
    """The kind of answer the question word asks for: date, number, name, place or other."""
    q = question.lower()
    if re.search(r"\bhow (many|much|long|old|far|big|large|often)\b|\bwhat (percentage|percent|number|amount)\b", q):
        return "number"
    if re.search(r"\bwhen\b|\bwhat (year|date|day|month|time|century|decade)\b|\bwhich (year|day|month)\b", q):
        return "date"
    if re.search(r"\bwho(m|se)?\b", q):
        return "name"
    if re.search(r"\bwhere\b", q):
        return "place"
    return "other"


def type_fits(qtype: str, span: str) -> bool:
    """Whether the span looks like what the question word asks for (a number for "how many"...)."""
    if qtype == "number":
        return bool(_NUMBER.search(span))
    if qtype == "date":
        return bool(_DATE.search(span))
    if qtype in ("name", "place"):
        return bool(_CAPITAL.search(span))
    return True


def sentence_around(text: str, start: int, end: int) -> tuple[int, int]:
    """Character bounds of the sentence(s) of ``text`` (split as chunks are) that hold ``[start, end)``."""
    bounds = [(a, b) for a, b in _sentences(text) if b > start and a < max(end, start + 1)]
    return (bounds[0][0], bounds[-1][1]) if bounds else (0, len(text))


@lru_cache(maxsize=1024)
def _sentences(text: str) -> tuple[tuple[int, int], ...]:
    """``split_sentences``, cached: every span of a passage asks for the same sentences."""
    return tuple(split_sentences(text))


def features(question: str, passage: str, start: int, end: int, span_score: float, null_score: float) -> list[float]:
    """The verifier's inputs for one span; order as ``FEATURES``."""
    margin = float(np.clip(span_score - null_score, -30.0, 30.0))
    span = passage[start:end]
    lo, hi = sentence_around(passage, start, end)
    q = content_stems(question)
    overlap = len(q & content_stems(passage[lo:hi])) / len(q) if q else 0.0
    qtype = question_type(question)
    expects = qtype != "other"
    return [
        margin,
        max(margin, 0.0),
        float(np.clip(span_score, -30.0, 30.0)),
        float(np.clip(null_score, -30.0, 30.0)),
        math.log1p(len(span.split())),
        overlap,
        float(expects),
        float(expects and type_fits(qtype, span)),
        float(denies(question, passage[lo:hi], start - lo, end - lo)),
        float(start <= lo + 1),
    ]


@dataclass
class VerifierModel:
    """Standardised logistic regression over ``FEATURES``; ``cutoff`` is the answer/refuse line."""

    FILE: ClassVar[str] = VERIFIER_FILE
    NAMES: ClassVar[tuple[str, ...]] = FEATURES
    names: list[str]
    mean: list[float]
    scale: list[float]
    coef: list[float]
    intercept: float
    cutoff: float = 0.5
    meta: dict = field(default_factory=dict)
    # Optional monotone map of the logistic output to the rate of right answers seen at it (isotonic
    # regression, as knots for np.interp): a linear model keeps rising with the margin while the share
    # of right answers levels off below 1, so without it the top scores overclaim.
    isotonic_x: list[float] = field(default_factory=list)
    isotonic_y: list[float] = field(default_factory=list)

    def probability(self, x: list[float] | np.ndarray) -> np.ndarray:
        x = np.atleast_2d(np.asarray(x, dtype=np.float64))
        z = (x - np.asarray(self.mean)) / np.asarray(self.scale)
        p = 1.0 / (1.0 + np.exp(-(z @ np.asarray(self.coef) + self.intercept)))
        if self.isotonic_x:
            p = np.interp(p, self.isotonic_x, self.isotonic_y)
        return p

    def save(self, folder: str | Path) -> Path:
        path = Path(folder) / self.FILE
        atomic_write_text(path, json.dumps(asdict(self), indent=2) + "\n")
        return path

    @classmethod
    def load(cls, folder: str | Path) -> "VerifierModel | None":
        """The verifier stored beside a reader, or None (then the margin's sigmoid is used)."""
        path = Path(folder) / cls.FILE
        if not path.exists():
            return None
        data = json.loads(path.read_text(encoding="utf-8"))
        model = cls(**data)
        if tuple(model.names) != cls.NAMES:
            tool = "train-verifier" if cls.FILE == VERIFIER_FILE else "train-calibrator"
            raise ValueError(f"{path}: features {model.names} differ from this version's {list(cls.NAMES)}; "
                             f"refit it (`qa {tool} --reader {folder}`)")
        return model


def fit(x: np.ndarray, y: np.ndarray, c: float = 1.0, model: type[VerifierModel] = VerifierModel) -> VerifierModel:
    """Logistic regression (scikit-learn) on standardised features, as ``model`` (its ``NAMES`` in order)."""
    from sklearn.linear_model import LogisticRegression

    x = np.asarray(x, dtype=np.float64)
    mean, scale = x.mean(axis=0), x.std(axis=0)
    scale[scale < 1e-9] = 1.0
    lr = LogisticRegression(C=c, max_iter=2000).fit((x - mean) / scale, y)
    return model(list(model.NAMES), mean.tolist(), scale.tolist(), lr.coef_[0].tolist(), float(lr.intercept_[0]))


def fit_isotonic(x: np.ndarray, y: np.ndarray, groups: np.ndarray, c: float = 1.0,
                 model: type[VerifierModel] = VerifierModel, folds: int = 5) -> VerifierModel:
    """``fit``, then isotonic regression (scikit-learn) from its probability to the share of right
    answers. The map is learnt on out-of-fold probabilities (``folds`` groups of ``groups``, e.g.
    articles, so one article's questions are never scored by a model that saw them), as
    scikit-learn's ``CalibratedClassifierCV(ensemble=False)`` does, so it corrects the fit's
    overconfidence rather than memorising its training rows."""
    from sklearn.isotonic import IsotonicRegression

    x, y = np.asarray(x, dtype=np.float64), np.asarray(y)
    fold = group_folds(np.asarray(groups), folds)
    if fold is None:  # one article: no out-of-fold probabilities to learn the map from
        return fit(x, y, c, model)
    oof = np.zeros(len(y))
    for k in np.unique(fold):
        oof[fold == k] = fit(x[fold != k], y[fold != k], c, model).probability(x[fold == k])
    iso = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip").fit(oof, y)
    out = fit(x, y, c, model)
    out.isotonic_x = [float(v) for v in iso.X_thresholds_]
    out.isotonic_y = [float(v) for v in iso.y_thresholds_]
    return out


def group_folds(groups: np.ndarray, folds: int) -> np.ndarray | None:
    """Fold number of each row, ``folds`` folds of whole groups (scikit-learn's ``GroupKFold``; fewer
    folds when there are fewer groups), or None when there is only one group."""
    from sklearn.model_selection import GroupKFold

    n = min(folds, len(np.unique(groups)))
    if n < 2:
        return None
    out = np.zeros(len(groups), dtype=int)
    for k, (_, test) in enumerate(GroupKFold(n_splits=n).split(groups, groups=groups)):
        out[test] = k
    return out
