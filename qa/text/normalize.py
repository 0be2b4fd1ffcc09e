"""SQuAD's answer normalisation (the official evaluate-v2.0.py): lower case, no punctuation, no articles.

One definition for the metric (``qa.evaluation``) and for answering, which compares candidate spans
with it and must not import the evaluation code.
"""

from __future__ import annotations

import re
import string

_ARTICLES = re.compile(r"\b(a|an|the)\b")
_PUNCT = str.maketrans("", "", string.punctuation)


def normalize_words(text: str) -> list[str]:
    """The words of ``text`` after SQuAD's normalisation."""
    return _ARTICLES.sub(" ", text.lower().translate(_PUNCT)).split()


def normalize_answer(text: str) -> str:
    """``text`` lower-cased, without punctuation, articles or extra whitespace."""
    return " ".join(normalize_words(text))
