"""Is a span what someone else wants the question's subject to do, rather than what it did?

Asked "What did Pakistan agree to?", a reader matches "Pakistan" and a verb
phrase and answers "allow its own security staff" from "Beijing is pushing
Pakistan to allow its own security staff": Beijing's demand, the opposite of an
answer. Like a denial (``qa.answer.negation``), a demand is never a finding.

The rule: a span is *demanded* when, in its sentence, it starts in the clause
that follows "<directive verb> <the question's subject> to" ("pushing Pakistan
to allow its own security staff to provide protection to …", "urged Islamabad
to", "wants Pakistan to begin"), up to the next comma, semicolon, colon or
dash, with at most three words between the directive and the subject. Directives are verbs of
asking and pressing (push, urge, press, ask, want, demand, call on, pressure,
force, request, insist). It applies only when the question names a subject
(a capitalised word after its first) and does not itself ask about a directive
("What is Beijing pushing Pakistan to do?" keeps such spans).
"""

from __future__ import annotations

import re

from qa.answer.terms import bare, stem, words

DIRECTIVES = frozenset(stem(w) for w in (
    "push", "urge", "press", "ask", "want", "demand", "call", "pressure", "force", "request", "insist", "prod",
    "lobby", "encourage", "persuade", "compel",
))
GAP_TO_SUBJECT = 3  # words allowed between the directive and the subject ("pushing the government of Pakistan")
_CLAUSE_BREAK = re.compile(r"[,;:–—]|\s-\s")  # where the demanded clause ends


def question_subjects(question: str) -> set[str]:
    """Names of the question (capitalised words after the first), lower-cased; empty when it asks
    about a directive itself."""
    ws = words(question)
    if any(stem(w.lower) in DIRECTIVES for w in ws):
        return set()
    return {bare(w.lower) for w in ws[1:] if w.capitalised}


def demanded_in(subjects: set[str], sentence: str, span_start: int, span_end: int) -> bool:
    """Whether ``sentence[span_start:span_end]`` is what a directive in the sentence asks of a subject:
    it starts in the clause that follows "<directive> <subject> to" (before the next , ; : or dash)."""
    if not subjects:
        return False
    ws = words(sentence)
    first = next((i for i, w in enumerate(ws) if w.end > span_start), None)
    if first is None:
        return False
    for to in range(first):
        if ws[to].lower != "to" or _CLAUSE_BREAK.search(sentence, ws[to].end, ws[first].start):
            continue
        for subj in range(max(0, to - 1 - GAP_TO_SUBJECT), to):
            if bare(ws[subj].lower) not in subjects:
                continue
            if any(stem(ws[d].lower) in DIRECTIVES for d in range(max(0, subj - 1 - GAP_TO_SUBJECT), subj)):
                return True
    return False
