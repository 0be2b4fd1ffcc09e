"""Follow-up questions without a language model: what does "Where was he born?" ask about?

A ``Conversation`` keeps the previous turns and, optionally, the ``topic`` it opened on (an
article's title). ``resolve`` decides whether a new question leans on what came before and, if
so, how to answer it. The rules, in the order they are tried (``qa.answer.followups.rules``, which
gives each one's CANARD number):

* **A bare question word** — "Why?", "When?", "How?": the previous question's question word is
  swapped when it is a do/modal question ("Where did the bombing happen?" -> "When did the
  bombing happen?"). "What else?" / "Anything else?" / "other than that" ask again besides what
  the previous answer said.
* **Ellipsis** — "and China?", "what about the police?": the previous question asked again about
  the new thing, put in place of its subject ("What did the army say about the attack?" -> "What
  did the police say about the attack?").
* **Pronouns** — he, she, it, they, him, her, them, his, its, their: the first one is replaced by
  what it stands for (``qa.answer.followups.entities``): the title of the article the previous answer came
  from when that title is a name (not a headline), or the conversation's topic, checked for
  gender and number; else a person of that gender named in the recent turns ("Where was he
  born?" -> "Where was Neil Diamond born?"). "What happened in 1985?" asks about the title too.
  A question that names its own subject (a word of that name) is never rewritten.
* **Other pointers** — there, then, this/that (+noun), and short questions without a subject
  ("Who won?", not "What is inflation?"): kept as asked; retrieval is expanded with the previous
  turn's key terms (and, for there/then/that day, the previous answer).

A turn that is only a question word left unresolved ("Why?" refused) is never what a later turn
leans on. The reader always reads ``ResolvedQuestion.text``; retrieval uses ``query``. Measured
on CANARD with ``qa eval --followups`` (``qa.evaluation.followups``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from qa.answer.followups.entities import Entity, Referents, names_in, person_entity, pronoun_evidence, title_entity
from qa.answer.followups.rules import leans_on_previous, rewrite
from qa.text.terms import LIGHT_WORDS, bare, content_words
from qa.types import Answer

__all__ = ["Conversation", "ResolvedQuestion", "Turn", "key_terms", "leans_on_previous"]

MAX_TERMS = 8  # key terms carried from turn to turn
NAME_TURNS = 3  # recent turns whose names a pronoun may stand for
_POSSESSIVE_END = ("'s", "’s", "`s")


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
    title: str = ""  # title of the article the answer came from ("" when refused)


@dataclass
class Conversation:
    """The turns of one chat session; feed each answer back with ``remember``.

    ``topic`` is what the conversation is about before any answer says so (the title of the
    article it opened on; ``qa eval --followups`` gives CANARD's title); ``section`` its part.
    """

    turns: list[Turn] = field(default_factory=list)
    max_turns: int = 20
    topic: str = ""
    section: str = ""

    @property
    def last(self) -> Turn | None:
        return self.turns[-1] if self.turns else None

    @property
    def antecedent(self) -> Turn | None:
        """The latest turn a follow-up can lean on: not one that is only an unresolved question word."""
        for turn in reversed(self.turns):
            if content_words(turn.resolved):
                return turn
        return None

    def reset(self) -> None:
        self.turns.clear()

    def referents(self) -> Referents:
        """What a pronoun may stand for: the title, then people named in the recent turns."""
        evidence = pronoun_evidence([t.question for t in self.turns])
        title = next((t.title for t in reversed(self.turns) if t.title), "") or self.topic
        main = title_entity(title, evidence) if title else None
        seen = {main.name.lower()} if main else set()
        people: list[Entity] = []
        for turn in reversed(self.turns[-NAME_TURNS:]):
            for name in reversed(names_in(turn.question) + names_in(turn.answer)):
                person = person_entity(name) if name.lower() not in seen else None
                if person:
                    seen.add(name.lower())
                    people.append(person)
        last = self.turns[-1] if self.turns else None
        latest = tuple(reversed(names_in(last.question) + names_in(last.answer))) if last else ()
        return Referents(main, tuple(people), latest)

    def resolve(self, question: str) -> ResolvedQuestion:
        q = " ".join((question or "").split())
        prev = self.antecedent
        if not q or (prev is None and not self.topic):
            return ResolvedQuestion(q, q)
        text, deictic = rewrite(q, prev.resolved if prev else None, self.referents(), prev.answer if prev else "")
        if text is None:
            return ResolvedQuestion(q, q)
        if prev is None:  # only the topic: a rewrite, not a follow-up to any turn
            return ResolvedQuestion(text, text, is_follow_up=text != q)
        own = {bare(w.lower) for w in content_words(text)}
        extra = [t for t in prev.key_terms if bare(t) not in own and not _replaced(t, q, text)]
        if deictic and prev.answer:
            extra.append(prev.answer)
        query = " ".join([text, *extra])
        return ResolvedQuestion(text, query, prev.article_id, True, prev.resolved)

    def remember(self, question: str, resolved: ResolvedQuestion, answer: Answer | None = None) -> Turn:
        """Record a turn: its key terms, and the answer's text, article and title (the best finding's)."""
        terms = key_terms(resolved.text)
        prev = self.antecedent
        if resolved.is_follow_up and prev is not None:
            own = {t.lower() for t in terms}
            terms = [t for t in prev.key_terms if t.lower() not in own and not _replaced(t, question, resolved.text)]
            terms += key_terms(resolved.text)
        article_id = None
        text = title = ""
        if answer is not None and getattr(answer, "answered", False):
            text = getattr(answer, "text", "") or ""
            cites = getattr(answer, "citations", None) or []
            article_id = cites[0].article_id if cites else None
            title = (getattr(cites[0], "title", "") or "") if cites else ""
        turn = Turn(question, resolved.text, tuple(terms[-MAX_TERMS:]), article_id, text, title)
        self.turns.append(turn)
        del self.turns[: -self.max_turns]
        return turn


def key_terms(question: str) -> list[str]:
    """Content words of a question, in order, unique: names as written, other words lower-cased."""
    out: list[str] = []
    seen: set[str] = set()
    for w in content_words(question):
        term = w.text[:-2] if w.capitalised and w.start > 0 and w.text.endswith(_POSSESSIVE_END) else (
            w.text if w.capitalised and w.start > 0 else bare(w.text))
        if term.lower() in seen or term.lower() in LIGHT_WORDS:
            continue
        seen.add(term.lower())
        out.append(term)
    return out


def _replaced(term: str, question: str, text: str) -> bool:
    """A name the rewrite swapped out ("and China?" replaces "Pakistan"): not carried on.

    Only rewritten questions drop names; "Why did they agree?" keeps "Pakistan".
    """
    rewritten = text != " ".join(question.split())
    return rewritten and term[:1].isupper() and term not in text

