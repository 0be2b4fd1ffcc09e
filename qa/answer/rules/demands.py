"""Is a span what someone asks another to do, rather than what was done or agreed?

Asked "What did Pakistan agree to?", a reader matches "Pakistan" and a verb
phrase and answers "allow its own security staff" from "Beijing is pushing
Pakistan to allow its own security staff": Beijing's demand, the opposite of an
answer. Asked the follow-up "What did China agree to?", the same span is what
China demands, not what it agreed to. Like a denial (``qa.answer.rules.negation``), a
demand is never a finding.

The rule: a span is *demanded* when, in its sentence, it starts in the clause
that follows "<directive verb> <someone> to" ("pushing Pakistan to allow its own
security staff to provide protection to …", "urged Islamabad to", "wants the
government of Pakistan to begin"), up to the next comma, semicolon, colon or
dash, with at most three words between the directive and its object. Directives
are verbs of asking and pressing (push, urge, press, ask, want, demand, call
on, pressure, force, request, insist). It does not apply when the question itself
asks about a directive ("What is Beijing pushing Pakistan to do?"), nor when the
sentence goes on to say, without negation, what the question asks ("India urged
Pakistan to release the fishermen, and Pakistan agreed": the demand was agreed).
"""

from __future__ import annotations

import re

from qa.answer.rules.negation import QuestionPredicate, negated_at
from qa.text.terms import same_word, stem, words

DIRECTIVES = frozenset(stem(w) for w in (
    "push", "urge", "press", "ask", "want", "demand", "call", "pressure", "force", "request", "insist", "prod",
    "lobby", "encourage", "persuade", "compel",
))
GAP_TO_OBJECT = 4  # words allowed between the directive and "to" ("pushing the government of Pakistan to")
_CLAUSE_BREAK = re.compile(r"[,;:–—]|\s-\s")  # where the demanded clause ends


def asks_about_directive(question: str) -> bool:
    """Whether the question is about a demand itself ("What is Beijing pushing Pakistan to do?")."""
    return any(stem(w.lower) in DIRECTIVES for w in words(question))


def demanded_in(question: str, sentence: str, span_start: int, span_end: int) -> bool:
    """Whether ``sentence[span_start:span_end]`` is what a directive in the sentence asks of someone:
    it starts in the clause that follows "<directive> <someone> to" (before the next , ; : or dash),
    and the sentence does not go on to grant what the question asks."""
    if asks_about_directive(question):
        return False
    ws = words(sentence)
    first = next((i for i, w in enumerate(ws) if w.end > span_start), None)
    if first is None:
        return False
    for to in range(1, first):
        if ws[to].lower != "to" or _CLAUSE_BREAK.search(sentence, ws[to].end, ws[first].start):
            continue
        # "<directive> to" with no object is the directive's own infinitive ("wants to go"): not a demand on another.
        if any(stem(ws[d].lower) in DIRECTIVES for d in range(max(0, to - 1 - GAP_TO_OBJECT), to - 1)):
            return not _granted_after(question, ws, span_end, sentence)
    return False


def _granted_after(question: str, ws, span_end: int, sentence: str) -> bool:
    """Whether, after the span, the sentence says what the question asks, not negated ("and Pakistan agreed")."""
    terms = QuestionPredicate.of(question).terms
    return any(w.start >= span_end and any(same_word(stem(w.lower), t) for t in terms) and not negated_at(ws, i, sentence)
               for i, w in enumerate(ws))
