"""Does a sentence deny what the question asks? A small, explainable rule, no model.

The reader matches words, not meaning: asked "What did Pakistan agree to?", it
happily answers "not agreed to such a step". This module spots that case so the
pipeline never presents a denial as an answer.

The rule, for a question that is not itself negative:

1. The question's *predicate terms* are its content words (not question words,
   auxiliaries, pronouns, stop words, or capitalised names after the first
   word), stemmed: "What did Pakistan agree to?" -> {"agre"}. A sentence word
   is a form of a term when its stem equals the term's or, for terms of four
   letters or more, starts with it ("agreement").
2. A span is denied when it *begins* with a negator ("not agreed to …",
   "no agreement on …"), or when the occurrence of a predicate term in its
   sentence that lies nearest the span is negated. Nearest, so that
   "Pakistan agreed to X but did not agree to Y" keeps X and drops Y.
3. An occurrence is negated when, within the four words before it, there is
   a negator ("not", "n't", "no", "never", …) or a refusal verb ("declined
   to", "refused to", "failed to", "rejected", "denied") separated from it
   only by filler words (auxiliaries, "to", "yet", "formally", articles,
   "reach"/"sign"/"give"…: "had not yet agreed", "declined to comment",
   "failed to reach an agreement"). Subject negators ("neither … nor",
   "nobody", "none") count with any words between ("Neither Beijing nor
   Islamabad have confirmed"). "not only" is not a negation.

A question that is negative itself ("Which ministries did not respond…?")
disables the rule: its answers live in negative sentences.
Known gaps: negation after the term ("an agreement was not reached"),
lexical negation ("averse to", "opposed"), and double negation.
"""

from __future__ import annotations

from dataclasses import dataclass

from qa.text.terms import AUXILIARIES, STOP_WORDS, WH_WORDS, Word, bare, same_word, stem, words

NEGATORS = frozenset("not no never none nothing nobody neither nor cannot without nowhere".split())
SUBJECT_NEGATORS = frozenset("neither nor nobody none nothing".split())
REFUSAL_STEMS = frozenset(stem(w) for w in ("decline", "refuse", "fail", "reject", "deny"))
FILLERS = AUXILIARIES | frozenset(
    "to yet so far ever even any a an the such this that its their his her one single formal final "
    "clear further specific real reach reached sign signed give gave given make made come came "
    "been be".split()
)
WINDOW = 4  # words looked at before an occurrence


def is_negator(w: Word, text: str = "") -> bool:
    """A negating word; "No." before a number ("No. 10 Downing Street") is an abbreviation, not one."""
    if w.lower == "no" and text[w.end:w.end + 1] == "." and text[w.end + 1:w.end + 3].strip()[:1].isdigit():
        return False
    return w.lower in NEGATORS or w.lower.endswith("n't")


# A span that begins with one of these is the denial itself ("not agreed to …", "no agreement");
# "without" is not: "without a visa" answers "How did they travel?".
SPAN_NEGATORS = NEGATORS - {"without"}


def _is_cue(ws: list[Word], j: int, text: str = "") -> bool:
    w = ws[j]
    if w.lower == "not" and j + 1 < len(ws) and ws[j + 1].lower == "only":
        return False
    return is_negator(w, text) or stem(w.lower) in REFUSAL_STEMS


def _is_filler(w: Word) -> bool:
    return w.lower in FILLERS or (w.lower.endswith("ly") and len(w.lower) > 4)


def negated_at(ws: list[Word], i: int, text: str = "") -> bool:
    """Whether word ``i`` of ``text`` is negated by what precedes it (rule 3 above)."""
    only_fillers = True
    for j in range(i - 1, max(-1, i - 1 - WINDOW), -1):
        w = ws[j]
        if w.lower in SUBJECT_NEGATORS:
            return True
        if only_fillers and _is_cue(ws, j, text):
            return True
        if not _is_filler(w):
            only_fillers = False
    return False


@dataclass(frozen=True)
class QuestionPredicate:
    """What a question asks about, as far as denial goes: its stemmed predicate terms."""

    terms: frozenset[str]
    negative: bool  # the question is negative itself: nothing is ever denied

    @classmethod
    def of(cls, question: str) -> "QuestionPredicate":
        ws = words(question)
        negative = any(_is_cue(ws, j, question) for j in range(len(ws)))
        terms = set()
        for k, w in enumerate(ws):
            b = bare(w.lower)
            if b in STOP_WORDS or b in WH_WORDS or b.isdigit() or len(b) < 2 or is_negator(w, question):
                continue
            if k > 0 and w.capitalised:
                continue  # a name: the question's subject or object, not what it asks
            if k > 0 and ws[k - 1].lower == "how":
                continue  # "how many", "how long": part of the question word
            terms.add(stem(b))
        return cls(frozenset(terms), negative)

    def denied_in(self, sentence: str, span_start: int, span_end: int) -> bool:
        """Whether the span ``sentence[span_start:span_end]`` comes from a denial of the question."""
        if self.negative:
            return False
        ws = words(sentence)
        inside = [i for i, w in enumerate(ws) if w.start < span_end and w.end > span_start]
        if inside and is_negator(ws[inside[0]], sentence) and (
                ws[inside[0]].lower in SPAN_NEGATORS or ws[inside[0]].lower.endswith("n't")):
            return True
        occurrences = [i for i, w in enumerate(ws) if any(same_word(stem(w.lower), t) for t in self.terms)]
        if not occurrences:
            return False
        if inside:
            a, b = inside[0], inside[-1]
        else:  # an empty or punctuation-only span: place it between words
            a = b = next((i for i, w in enumerate(ws) if w.start >= span_start), len(ws))

        def distance(i: int) -> int:
            return 0 if a <= i <= b else (a - i if i < a else i - b)

        nearest = min(distance(i) for i in occurrences)
        return any(negated_at(ws, i, sentence) for i in occurrences if distance(i) == nearest)


def denies(question: str, sentence: str, span_start: int, span_end: int) -> bool:
    """Shorthand for ``QuestionPredicate.of(question).denied_in(...)``."""
    return QuestionPredicate.of(question).denied_in(sentence, span_start, span_end)
