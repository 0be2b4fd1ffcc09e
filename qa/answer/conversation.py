"""Follow-up questions without a language model: what does "Who did it target?" ask about?

A ``Conversation`` keeps the previous turns. ``resolve`` decides whether a new
question leans on the previous turn and, if so, how to answer it:

* **Ellipsis** — "and China?", "what about the army?", "how about India?":
  the previous question is asked again about the new thing. The first
  capitalised name after its first word is swapped ("What did Pakistan agree
  to?" -> "What did China agree to?"); without a name, in a do-question
  ("Where did last month's bombing happen?"), the words between "did" and the
  last word are swapped ("Where did the Quetta attack happen?"); otherwise
  "…, regarding X?" is appended.
* **A bare question word** — "Why?", "When?", "How?": the previous question's
  question word is swapped when it is a do/modal question ("Where did the
  bombing happen?" -> "When did the bombing happen?"; a trailing "to"/"about"
  of a what-question is dropped). "Who else?"/"What else?" repeat the
  previous question. Otherwise the question is kept as asked.
* **Pronouns and pointers** — it, they, he, she, them, his, its, their, this/that
  (+noun), those, these, there (not "is there"), then, that day, and questions
  of at most three words with no name ("Who won?"): the question is kept as
  asked, because guessing the antecedent wrongly would mislead the reader
  and the user; retrieval is expanded with the previous turn's key terms
  (and, for there/then/that day, the previous answer), and the previous
  answer's article wins ties.

The reader always reads ``ResolvedQuestion.text``; retrieval uses ``query``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from qa.answer.terms import AUXILIARIES, LIGHT_WORDS, PRONOUNS, STOP_WORDS, WH_WORDS, bare, content_words, words
from qa.types import Answer

MAX_TERMS = 8  # key terms carried from turn to turn
DO_AUX = frozenset("do does did will would can could should shall may might must".split())
TRAILING = frozenset("to about for with on in of from at by".split())
_ELLIPSIS = re.compile(
    r"^(?:(?:and|but|so|also)\s+)?(?:(?:what|how)\s+about\s+|and\s+)(?P<x>.+?)(?:\s+(?:too|as\s+well))?\s*[?.!]*$",
    re.IGNORECASE,
)
_BARE_WH = re.compile(
    r"^(?:(?:and|but|so)\s+)?(?P<wh>why|when|where|how|who|what|which|how\s+many|how\s+much)"
    r"(?P<else>\s+else)?(?:\s+(?:then|exactly|so))?\s*[?.!]*$",
    re.IGNORECASE,
)
_LEAD = re.compile(r"^(?:and|but|so|also|ok|okay|then)\b[,\s]*", re.IGNORECASE)
_POINTERS = frozenset(PRONOUNS | {"those", "these"})
_POSSESSIVE = re.compile(r"['’`]s$")
_ENTITY = re.compile(r"\b[A-Z][\w'’`.-]*(?:\s+(?:of\s+|the\s+)?[A-Z][\w'’`.-]*)*")


@dataclass(frozen=True)
class ResolvedQuestion:
    """How a question will be answered: read as ``text``, retrieved with ``query``."""

    text: str  # the question actually answered; shown to the user
    query: str  # what retrieval searches for
    prefer_article: str | None = None  # the previous answer's article: wins ties
    is_follow_up: bool = False
    follows: str | None = None  # the previous question it leans on (its resolved text)


@dataclass(frozen=True)
class Turn:
    """One answered question, as later turns need it."""

    question: str
    resolved: str
    key_terms: tuple[str, ...]
    article_id: str | None
    answer: str = ""


@dataclass
class Conversation:
    """The turns of one chat session; feed each answer back with ``remember``."""

    turns: list[Turn] = field(default_factory=list)
    max_turns: int = 20

    @property
    def last(self) -> Turn | None:
        return self.turns[-1] if self.turns else None

    def reset(self) -> None:
        self.turns.clear()

    def resolve(self, question: str) -> ResolvedQuestion:
        q = " ".join((question or "").split())
        prev = self.last
        if prev is None or not q:
            return ResolvedQuestion(q, q)
        text, deictic = _rewrite(q, prev)
        if text is None:
            return ResolvedQuestion(q, q)
        own = {bare(w.lower) for w in content_words(text)}
        extra = [t for t in prev.key_terms if bare(t) not in own and not _replaced(t, q, text)]
        if deictic and prev.answer:
            extra.append(prev.answer)
        query = " ".join([text, *extra])
        return ResolvedQuestion(text, query, prev.article_id, True, prev.resolved)

    def remember(self, question: str, resolved: ResolvedQuestion, answer: Answer | None = None) -> Turn:
        """Record a turn: its key terms, and the answer's text and article (the best finding's)."""
        terms = key_terms(resolved.text)
        prev = self.last
        if resolved.is_follow_up and prev is not None:
            own = {t.lower() for t in terms}
            terms = [t for t in prev.key_terms if t.lower() not in own and not _replaced(t, question, resolved.text)]
            terms += key_terms(resolved.text)
        article_id = None
        text = ""
        if answer is not None and getattr(answer, "answered", False):
            text = getattr(answer, "text", "") or ""
            cites = getattr(answer, "citations", None) or []
            article_id = cites[0].article_id if cites else None
        turn = Turn(question, resolved.text, tuple(terms[-MAX_TERMS:]), article_id, text)
        self.turns.append(turn)
        del self.turns[: -self.max_turns]
        return turn


def key_terms(question: str) -> list[str]:
    """Content words of a question, in order, unique: names as written, other words lower-cased."""
    out: list[str] = []
    seen: set[str] = set()
    for w in content_words(question):
        term = _POSSESSIVE.sub("", w.text) if w.capitalised and w.start > 0 else bare(w.text)
        if term.lower() in seen or term.lower() in LIGHT_WORDS:
            continue
        seen.add(term.lower())
        out.append(term)
    return out


def leans_on_previous(question: str) -> bool:
    """Whether a question points back at the previous turn (pronouns, there/then, very short)."""
    ws = words(question)
    if not ws:
        return False
    for k, w in enumerate(ws):
        lo = w.lower
        nxt = ws[k + 1].lower if k + 1 < len(ws) else None
        prv = ws[k - 1].lower if k > 0 else None
        if lo in _POINTERS:
            return True
        if lo in ("this", "that") and (nxt is None or (nxt not in STOP_WORDS and not ws[k + 1].capitalised)):
            return True
        if lo == "there" and not ({prv, nxt} & (AUXILIARIES | {"been"})):
            return True
        if lo == "then":
            return True
    has_name = any(w.capitalised for w in ws[1:])
    return len(ws) <= 3 and not has_name


def _deictic(question: str) -> bool:
    ws = [w.lower for w in words(question)]
    return "then" in ws or ("there" in ws and leans_on_previous(question)) or "that day" in " ".join(ws)


def _rewrite(q: str, prev: Turn) -> tuple[str | None, bool]:
    """(text to read, whether it points at the previous answer), or (None, False) if not a follow-up."""
    m = _BARE_WH.match(q)
    if m:
        if m.group("else"):
            return prev.resolved, False
        return _swap_wh(prev.resolved, m.group("wh")) or q, False
    m = _ELLIPSIS.match(q)
    if m and len(m.group("x").split()) <= 6 and content_words(m.group("x")) and not (
        {w.lower for w in words(m.group("x"))} & WH_WORDS
    ):
        return _swap_subject(prev.resolved, m.group("x").strip()), False
    stripped = _LEAD.sub("", q) or q
    if leans_on_previous(stripped):
        return q, _deictic(stripped)
    return None, False


def _swap_wh(prev: str, wh: str) -> str | None:
    ws = words(prev)
    if len(ws) < 3 or ws[0].lower not in WH_WORDS or ws[1].lower not in DO_AUX:
        return None
    rest = prev[ws[1].start :].rstrip(" ?.!")
    tail = words(rest)
    if ws[0].lower in ("what", "which", "who", "whom") and tail and tail[-1].lower in TRAILING:
        rest = rest[: tail[-1].start].rstrip()
    return f"{wh[0].upper()}{wh[1:].lower()} {rest}?"


def _swap_subject(prev: str, new: str) -> str:
    first = words(prev)
    skip = first[0].end if first else 0
    m = _ENTITY.search(prev, skip)
    if m:
        name = m.group(0)
        owner = _POSSESSIVE.search(name)  # "Pakistan`s ministry" -> "India`s ministry"
        return prev[: m.start()] + new + (owner.group(0) if owner else "") + prev[m.end() :]
    ws = words(prev)
    if len(ws) >= 4 and ws[0].lower in WH_WORDS and ws[1].lower in DO_AUX:
        return prev[: ws[2].start] + new + " " + prev[ws[-1].start :]
    return f"{prev.rstrip(' ?.!')}, regarding {new}?"


def _replaced(term: str, question: str, text: str) -> bool:
    """A name the rewrite swapped out ("and China?" replaces "Pakistan"): not carried on.

    Only rewritten questions drop names; "Why did they agree?" keeps "Pakistan".
    """
    rewritten = text != " ".join(question.split())
    return rewritten and term[:1].isupper() and term not in text
