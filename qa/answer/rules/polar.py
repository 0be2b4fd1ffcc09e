"""Yes/no questions: show what the articles say, never a span as "the answer".

An extractive reader answers "Did Pakistan agree to let Chinese security
staff in?" with "pushing Pakistan to allow its own security staff", which
reads as yes while the article says "Pakistan had not agreed to such a step".
No span is a yes or a no. So a polar question (one that starts with an
auxiliary: did, does, is, was, can, has, will, …) gets *evidence*: the
sentences of the retrieved passages that hold most of the question's key
terms, each marked when it denies the question's predicate (the rule of
``qa.answer.rules.negation``), with the key terms located for highlighting. The
user reads them and decides; the product claims nothing it cannot know.

A sentence is evidence when it holds at least half of the question's key
terms (content words, names included) and at least two of them (one when the
question has only one). Sentences are ranked by the share of terms they hold,
then by their passage's retrieval rank; one sentence is shown once even when
overlapping chunks both hold it.
"""

from __future__ import annotations

from dataclasses import dataclass

from qa.answer.rules.negation import QuestionPredicate
from qa.text.terms import AUXILIARIES, WH_WORDS, bare, key_stems, same_word, stem, words
from qa.text.sentences import split_sentences
from qa.types import Passage

POLAR_STARTS = frozenset(AUXILIARIES - {"be", "been", "being", "done", "having"})
_LEADS = frozenset("and but so also then ok okay".split())
MAX_EVIDENCE = 5


def is_polar(question: str) -> bool:
    """Whether a question asks yes or no: its first word (after "and", "so", …) is an auxiliary.

    "Did Pakistan agree…?", "Is there a deal?", "And has China replied?" are; "What did Pakistan
    agree to?" and "Who is Imran Khan?" are not, and neither are a wh-question behind a polite
    opening ("Can you tell me who won the election?", "Does anyone know when it opens?") nor a
    choice between named options ("Was it Khan or Sharif who resigned?"): those ask for a span.
    """
    ws = [w.lower for w in words(question)]
    while ws and ws[0] in _LEADS:
        ws = ws[1:]
    if len(ws) < 2 or ws[0] not in POLAR_STARTS:
        return False
    if any(w in WH_WORDS for w in ws[1:6]) and any(w in _ASKING for w in ws[1:4]):
        return False  # "can you tell me who …", "do you know when …", "does anyone know where …"
    return not _alternative(question)


_ASKING = frozenset("tell know say explain remember show".split())


def _alternative(question: str) -> bool:
    """"Was it Khan or Sharif …?", "Is it 2019 or 2020?": "or" between two names or two numbers, or
    any "or" after "was it" / "is it" ("Was it signed or not?" stays yes/no)."""
    ws = words(question)
    which = len(ws) > 2 and ws[1].lower in ("it", "they", "that", "this")
    for i in range(1, len(ws) - 1):
        if ws[i].lower != "or" or ws[i + 1].lower == "not":
            continue
        before, after = ws[i - 1], ws[i + 1]
        if which or (before.capitalised and after.capitalised) or (before.text.isdigit() and after.text.isdigit()):
            return True
    return False


@dataclass(frozen=True)
class Evidence:
    """One sentence that bears on a yes/no question, placed in its passage."""

    passage: int  # index into the passages read
    start: int  # the sentence, as offsets into the passage's chunk text
    end: int
    share: float  # share of the question's key terms the sentence holds
    denies: bool  # the sentence negates what the question asks ("had not agreed")
    terms: tuple[tuple[int, int], ...]  # where the key terms are, passage offsets


def evidence(question: str, passages: list[Passage], limit: int = MAX_EVIDENCE) -> list[Evidence]:
    """The sentences of ``passages`` that bear on ``question``, best first (see the module docstring)."""
    terms = key_stems(question)
    if not terms:
        return []
    need = 1 if len(terms) == 1 else 2
    predicate = QuestionPredicate.of(question)
    found: list[tuple[float, int, Evidence]] = []
    seen: set[tuple[str, int]] = set()
    for rank, p in enumerate(passages):
        text = p.chunk.text
        for a, b in split_sentences(text) or [(0, len(text))]:
            key = (p.chunk.article_id, p.chunk.start + a)
            if key in seen:
                continue
            sentence = text[a:b]
            hits: list[tuple[int, int]] = []
            matched: set[str] = set()
            for w in words(sentence):
                s = stem(bare(w.lower))
                for t in terms:
                    if same_word(s, t):
                        hits.append((a + w.start, a + w.end))
                        matched.add(t)
                        break
            share = len(matched) / len(terms)
            if len(matched) < need or share < 0.5:
                continue
            seen.add(key)
            denies = predicate.denied_in(sentence, 0, len(sentence))
            found.append((-share, rank, Evidence(rank, a, b, share, denies, tuple(hits))))
    found.sort(key=lambda x: (x[0], x[1], x[2].start))
    return [e for *_, e in found[:limit]]
