"""Unanswerable questions made from answerable ones, the way SQuAD 2.0's writers made theirs.

SQuAD 2.0's crowd workers wrote questions that a paragraph *seems* to answer
but does not (Rajpurkar et al. 2018, table 2): mostly by swapping an entity,
number or date for another of the same kind, by negating the predicate, or by
replacing a word with its antonym. A reader that has only seen real
unanswerables and off-topic paragraphs still answers "What did China agree
to?" from a paragraph about what Pakistan agreed to; these pairs are that
near miss, labelled "no answer", paired with the paragraph that answered the
original question.

Three edits, each tried in turn on a question until one applies:

* **swap** a name, number, year or month of the question for another of the
  same kind that the same article mentions (so the new question stays on
  topic) and the question does not;
* **antonym**: a word with a clear opposite (largest/smallest, before/after,
  won/lost, …) replaced by it;
* **negate**: "did <Name> agree" -> "did <Name> not agree" when the subject
  after the auxiliary is a name (where the predicate starts is then known).

Names are found by capitalisation and kinds by shape, not by a tagger: no
English tagger with its model installs from PyPI (spaCy's models are not on
it), and a wrong kind only makes a pair a little easier, not wrong: the edited
question is still not answered by the paragraph unless the paragraph also
states the swapped fact, which ``is_still_answered`` checks for the swapped
text. Antonyms are a short table rather than WordNet, whose data would have to
be downloaded.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass

from qa.evaluation.squad import SquadExample
from qa.text.normalize import normalize_answer
from qa.text.terms import WH_WORDS

MONTHS = ("January February March April May June July August September October November December").split()
_MONTH = re.compile(r"\b(?:" + "|".join(MONTHS) + r")\b")
_YEAR = re.compile(r"\b(?:1[5-9]\d\d|20\d\d)s?\b")
_NUMBER = re.compile(r"(?<![\w.,-])\d{1,3}(?:,\d{3})+(?:\.\d+)?(?![\w-])|(?<![\w.,-])\d+(?:\.\d+)?(?![\w-])")
_NAME = re.compile(r"\b[A-Z][a-z][\w'’–-]*(?:\s+(?:of\s+|de\s+|the\s+)?[A-Z][\w'’–-]+)*")
_POSSESSIVE = re.compile(r"['’]s?$")
_DEMONYM = re.compile(r"[A-Z][a-z]+(?:ish|ese|ian|ean)")  # "Irish", "Chinese", "Indian": not swapped with names
# Capitalised words that start no name. Fewer than qa.text.terms.STOP_WORDS on purpose: the full list changes
# which words are swapped, and so about half the edited questions a mixture builds from the same seed.
_NOT_NAMES = WH_WORDS | frozenset(
    "did does do is are was were can could will would should has have had "
    "in on at the a an of for by to from and or but after before during if".split()
) | {m.lower() for m in MONTHS}

_PAIRS = [
    ("largest", "smallest"), ("biggest", "smallest"), ("highest", "lowest"), ("most", "least"), ("first", "last"),
    ("earliest", "latest"), ("oldest", "youngest"), ("longest", "shortest"), ("before", "after"),
    ("increase", "decrease"), ("increased", "decreased"), ("rise", "fall"), ("rose", "fell"), ("won", "lost"),
    ("win", "lose"), ("north", "south"), ("east", "west"), ("northern", "southern"), ("eastern", "western"),
    ("maximum", "minimum"), ("began", "ended"), ("start", "end"), ("started", "ended"), ("opened", "closed"),
    ("accepted", "rejected"), ("allowed", "banned"), ("support", "oppose"), ("supported", "opposed"),
    ("agreed", "refused"), ("agree", "refuse"), ("more", "less"), ("larger", "smaller"), ("higher", "lower"),
    ("better", "worse"), ("best", "worst"), ("strongest", "weakest"), ("major", "minor"), ("success", "failure"),
    ("gained", "lost"), ("joined", "left"), ("private", "public"), ("inside", "outside"), ("upper", "lower"),
]
ANTONYMS = {a: b for a, b in _PAIRS} | {b: a for a, b in _PAIRS}
NEGATABLE_AUX = frozenset("did does do can could will would should has have had".split())
EDITS = ("swap", "antonym", "negate")


@dataclass(frozen=True)
class Edit:
    """One edited question and how it was made (kept in the example id, for counting by kind)."""

    question: str
    kind: str  # one of EDITS


def kind_of(text: str) -> str | None:
    """The shape-kind of a span: year, month, number or name."""
    if _YEAR.fullmatch(text):
        return "year"
    if _MONTH.fullmatch(text):
        return "month"
    if _NUMBER.fullmatch(text):
        return "number"
    if _NAME.fullmatch(text) and text.split()[0].lower() not in _NOT_NAMES:
        return "demonym" if _DEMONYM.fullmatch(text) else "name"
    return None


def spans(text: str, skip_first_word: bool = True) -> list[tuple[int, int, str]]:
    """(start, end, kind) of the years, months, numbers and names in a text; not its first word."""
    out: list[tuple[int, int, str]] = []
    taken: list[tuple[int, int]] = []
    for rx, kind in ((_YEAR, "year"), (_MONTH, "month"), (_NUMBER, "number"), (_NAME, "name")):
        for m in rx.finditer(text):
            s, e = m.span()
            if skip_first_word and s == 0:
                # "What did ..." starts with a capital: drop the first word, keep a name after it.
                rest = m.group(0).split(maxsplit=1)
                if len(rest) < 2:
                    continue
                s = m.start() + m.group(0).index(rest[1])
            owner = _POSSESSIVE.search(text[s:e]) if kind == "name" else None
            if owner:  # "Jacksonville's ranking": swap the name, keep the 's
                e -= len(owner.group(0))
            word = text[s:e]
            if kind == "name":
                if word.split()[0].lower() in _NOT_NAMES:
                    continue
                kind = "demonym" if _DEMONYM.fullmatch(word) else "name"
            if any(s < te and ts < e for ts, te in taken):
                continue
            taken.append((s, e))
            out.append((s, e, kind))
    return sorted(out)


def article_pool(paragraphs: list[str]) -> dict[str, list[str]]:
    """Every year, month, number and name an article mentions, by kind, in order of first mention.

    A capitalised word that starts a sentence ("Its", "Several") is not taken for a name: only
    names met inside a sentence are.
    """
    pool: dict[str, list[str]] = {}
    for para in paragraphs:
        for s, e, kind in spans(para, skip_first_word=False):
            text = para[s:e]
            before = para[:s].rstrip()
            if kind in ("name", "demonym") and (not before or before[-1] in ".!?:;\"'“"):
                continue
            if text not in pool.setdefault(kind, []):
                pool[kind].append(text)
    return pool


def swap(question: str, pool: dict[str, list[str]], rng: random.Random) -> str | None:
    """The question with one of its names, numbers, years or months replaced by another of the article's."""
    found = spans(question)
    rng.shuffle(found)
    for s, e, kind in found:
        old = question[s:e]
        choices = [c for c in pool.get(kind, []) if c != old and c.lower() not in question.lower()
                   and old.lower() not in c.lower()]
        if choices:
            return question[:s] + rng.choice(choices) + question[e:]
    return None


def antonym(question: str, rng: random.Random) -> str | None:
    ws = list(re.finditer(r"[A-Za-z]+", question))
    rng.shuffle(ws)
    for m in ws:
        opposite = ANTONYMS.get(m.group(0).lower())
        if opposite:
            if m.group(0)[0].isupper():
                opposite = opposite.capitalize()
            return question[: m.start()] + opposite + question[m.end():]
    return None


def negate(question: str) -> str | None:
    """ "What did Pakistan agree to?" -> "What did Pakistan not agree to?" (subject a name, so its end is known)."""
    m = re.match(r"^(\w+\s+)(" + "|".join(sorted(NEGATABLE_AUX)) + r")\s+", question, re.IGNORECASE)
    if not m:
        return None
    rest = question[m.end():]
    name = _NAME.match(rest)
    if not name or name.group(0).split()[0].lower() in _NOT_NAMES or _DEMONYM.fullmatch(name.group(0)):
        return None  # "did European empires rely": a demonym starts a longer subject, whose end is unknown
    after = rest[name.end():]
    if not re.match(r"\s+[a-z]", after) or re.match(r"\s+(?:not|never)\b", after):
        return None
    return question[: m.end()] + name.group(0) + " not" + after


def is_still_answered(new_question: str, old_question: str, context: str, answers: list[str]) -> bool:
    """Whether the paragraph plainly answers the edited question too (then the pair would not be unanswerable).

    The text the edit put in appears in a sentence of the paragraph that holds a gold answer or at
    least half of the question's other content words: "How many guards did Islamabad hire?" on
    "... Islamabad hired 1,200 guards too." Conservative and cheap; a tagger would do no better here.
    """
    added = [w.strip("?,.") for w in new_question.split() if w not in old_question.split()]
    added_text = " ".join(w for w in added if w)
    if not added_text:
        return True
    rest = {w for w in re.findall(r"\w+", new_question.lower()) if len(w) > 3} - set(added_text.lower().split())
    for sentence in re.split(r"(?<=[.!?])\s+", context):
        if added_text not in sentence:
            continue
        low = sentence.lower()
        if any(a and a.lower() in low for a in answers):
            return True
        if rest and sum(w[:5] in low for w in rest) * 2 >= len(rest):
            return True
    return False


def make_unanswerable(ex: SquadExample, pool: dict[str, list[str]], rng: random.Random,
                      kinds: tuple[str, ...] = EDITS) -> SquadExample | None:
    """A SQuAD 2.0-style unanswerable twin of an answerable question, on the same paragraph; None if no edit fits.

    ``pool`` is ``article_pool`` of the question's article (computed once per article by the caller).
    """
    if ex.is_impossible:
        return None
    order = list(kinds)
    rng.shuffle(order)
    golds = {normalize_answer(a) for a in ex.answers}
    for kind in order:
        if kind == "swap":
            q = swap(ex.question, pool, rng)
        elif kind == "antonym":
            q = antonym(ex.question, rng)
        else:
            q = negate(ex.question)
        if not q or q == ex.question or is_still_answered(q, ex.question, ex.context, ex.answers):
            continue
        if kind == "swap" and any(g and g in normalize_answer(q) for g in golds):
            continue  # the gold answer swapped into the question: a different, odd question
        return SquadExample(id=f"{ex.id}#{kind}", question=q, context=ex.context, title=ex.title)
    return None
