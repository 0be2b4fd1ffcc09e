"""The part of a passage shown to a reader: whole sentences around the answer, never a cut word.

One function for every display (chat, CLI), so a passage reads the same
everywhere. It widens from the sentence(s) holding the answer to neighbouring
sentences while they fit in ``max_chars``; when even the answer's own sentence
is too long, it cuts at word boundaries around the answer instead. The answer
itself is never cut, even when it alone is longer than ``max_chars``.
"""

from __future__ import annotations

from dataclasses import dataclass

from qa.text.sentences import split_sentences
from qa.text.terms import bare, key_stems, same_word, stem, words


@dataclass(frozen=True)
class Excerpt:
    """``before + span + after`` is ``passage[start:end]``; clipped_* say whether text was left out."""

    before: str
    span: str  # the answer ('' when there is none)
    after: str
    clipped_start: bool
    clipped_end: bool
    start: int  # offsets of the excerpt in the passage
    end: int

    @property
    def text(self) -> str:
        return self.before + self.span + self.after


def excerpt(passage: str, start: int | None = None, end: int | None = None, max_chars: int = 500) -> Excerpt:
    """Trim ``passage`` around ``passage[start:end]`` to whole sentences (else whole words).

    Without a span, the excerpt is the passage's beginning. Offsets are
    clamped to the passage, so a stale citation cannot raise.
    """
    n = len(passage)
    if start is None or end is None:
        a = b = _skip_space(passage, 0)
    else:
        a = min(max(int(start), 0), n)
        b = min(max(int(end), a), n)
    lo, hi = _window(passage, a, b, max(int(max_chars), 1))
    first, last = _skip_space(passage, 0), _trim_end(passage, n)
    return Excerpt(
        before=passage[lo:a] if start is not None and end is not None else "",
        span=passage[a:b] if start is not None and end is not None else "",
        after=passage[b:hi] if start is not None and end is not None else passage[lo:hi],
        clipped_start=lo > first,
        clipped_end=hi < last,
        start=lo,
        end=hi,
    )


def _window(text: str, a: int, b: int, max_chars: int) -> tuple[int, int]:
    sentences = split_sentences(text)
    if not sentences:
        return a, b
    # The sentences the span touches (an empty span: the one it sits in or before).
    touched = [i for i, (s, e) in enumerate(sentences) if s < b and e > a] or [
        next((i for i, (s, e) in enumerate(sentences) if e >= a), len(sentences) - 1)
    ]
    i, j = touched[0], touched[-1]
    lo, hi = min(sentences[i][0], a), max(sentences[j][1], b)
    if hi - lo > max_chars:
        return _words_around(text, a, b, max_chars, lo, hi)
    # Grow by whole sentences, alternating after/before, while they fit.
    grew = True
    while grew:
        grew = False
        if j + 1 < len(sentences) and sentences[j + 1][1] - lo <= max_chars:
            j += 1
            hi = sentences[j][1]
            grew = True
        if i > 0 and hi - sentences[i - 1][0] <= max_chars:
            i -= 1
            lo = sentences[i][0]
            grew = True
    return lo, hi


def _words_around(text: str, a: int, b: int, max_chars: int, lo: int, hi: int) -> tuple[int, int]:
    """Cut inside [lo, hi) at word boundaries, the room left by the span split evenly around it."""
    room = max(max_chars - (b - a), 0)
    left = min(room // 2, a - lo)
    right = min(room - left, hi - b)
    left = min(room - right, a - lo)  # give the right side's unused room back to the left
    start, end = a - left, b + right
    if start > lo:  # move forward to the start of a word
        while start < a and not text[start - 1].isspace():
            start += 1
    if end < hi:  # move back to the end of a word
        while end > b and not text[end].isspace():
            end -= 1
    start = _skip_space(text, start, a)
    end = _trim_end(text, end, b)
    return start, end


def _skip_space(text: str, i: int, limit: int | None = None) -> int:
    limit = len(text) if limit is None else limit
    while i < limit and text[i].isspace():
        i += 1
    return i


def _trim_end(text: str, i: int, limit: int = 0) -> int:
    while i > limit and text[i - 1].isspace():
        i -= 1
    return i


def best_sentence(question: str, text: str) -> tuple[int, int] | None:
    """The sentence of ``text`` holding most of the question's key terms (None when none holds any).

    A refusal shows its closest passages around this sentence, so the words that came closest
    are visible rather than cut off after the passage's first sentence.
    """
    terms = key_stems(question)
    best, best_n = None, 0
    for a, b in split_sentences(text) or [(0, len(text))]:
        stems = {stem(bare(w.lower)) for w in words(text[a:b])}
        n = sum(any(same_word(s, t) for s in stems) for t in terms)
        if n > best_n:
            best, best_n = (a, b), n
    return best
