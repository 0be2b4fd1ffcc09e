"""Words of questions and sentences: tokens with offsets, stems, and the small word lists the
answer logic needs (question words, auxiliaries, pronouns, stop words).

Kept apart from ``qa.answer.rules.negation`` and ``qa.answer.followups.conversation`` so both read words the same way.
News text writes apostrophes as ', ’ or ` ("Beijing`s"); all three count as one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

_WORD = re.compile(r"\w+(?:['’`]\w+)*")

WH_WORDS = frozenset("what which who whom whose where when why how".split())
AUXILIARIES = frozenset(
    "am is are was were be been being do does did done have has had having will would shall should "
    "can could may might must".split()
)
PRONOUNS = frozenset(
    "it its itself they them their theirs themselves he him his himself she her hers herself".split()
)
STOP_WORDS = frozenset(
    "a an the and or but if so as at by for from in into of off on onto out over to up upon with "
    "within without about above after against along among around before behind below between "
    "beyond during except inside near through toward towards under until via i me my we us our you "
    "your this that these those there here then than also too very just only still even again any "
    "some all both each few more most other such own same not no nor never else last next first "
    "ever yet ago s".split()
) | WH_WORDS | AUXILIARIES | PRONOUNS
# Verbs that say little about what is asked ("Where did it happen?"): not worth carrying over.
LIGHT_WORDS = frozenset("happen happened happens occur occurred take took taken place thing things".split())

# Common irregular forms, so "said" meets "say" and "told" meets "tell".
IRREGULAR = {
    "said": "say", "says": "say", "told": "tell", "made": "make", "took": "take", "taken": "take",
    "gave": "give", "given": "give", "went": "go", "gone": "go", "came": "come", "won": "win",
    "lost": "lose", "left": "leave", "met": "meet", "held": "hold", "sent": "send", "paid": "pay",
    "sold": "sell", "bought": "buy", "found": "find", "thought": "think", "began": "begin",
    "begun": "begin", "brought": "bring", "built": "build", "kept": "keep", "led": "lead",
    "ran": "run", "saw": "see", "seen": "see", "knew": "know", "known": "know", "got": "get",
    "chose": "choose", "chosen": "choose", "spoke": "speak", "spoken": "speak", "stood": "stand",
    "fell": "fall", "fallen": "fall", "rose": "rise", "risen": "rise", "struck": "strike",
    "shot": "shoot", "wrote": "write", "written": "write", "drove": "drive", "driven": "drive",
    "fought": "fight", "caught": "catch", "sought": "seek", "taught": "teach", "heard": "hear",
    "meant": "mean", "spent": "spend", "felt": "feel", "grew": "grow", "grown": "grow",
    "threw": "throw", "thrown": "throw", "forbade": "forbid", "forbidden": "forbid",
}


@dataclass(frozen=True)
class Word:
    """One word of a text: lower-cased form (apostrophes unified) and its character span."""

    text: str  # as written
    lower: str
    start: int
    end: int

    @property
    def capitalised(self) -> bool:
        return self.text[:1].isupper()


def words(text: str) -> list[Word]:
    out = []
    for m in _WORD.finditer(text):
        raw = m.group(0)
        out.append(Word(raw, raw.lower().replace("’", "'").replace("`", "'"), m.start(), m.end()))
    return out


def bare(word: str) -> str:
    """A lower-cased word without its possessive: "month's" -> "month"."""
    word = word.lower().replace("’", "'").replace("`", "'")
    return word[:-2] if word.endswith("'s") else word


@lru_cache(maxsize=1)
def _stemmer():
    import Stemmer

    return Stemmer.Stemmer("english")


@lru_cache(maxsize=8192)
def stem(word: str) -> str:
    """Snowball stem of a word, irregular forms first mapped to their base."""
    w = bare(word)
    return _stemmer().stemWord(IRREGULAR.get(w, w))


def same_word(token_stem: str, term_stem: str) -> bool:
    """Whether a token is a form of a term: same stem, or the term's stem begins a derivation.

    Snowball leaves derivations apart ("agre" vs "agreement"); a prefix of at
    least four letters joins them without joining short unrelated words.
    """
    return token_stem == term_stem or (len(term_stem) >= 4 and token_stem.startswith(term_stem))


def content_words(text: str) -> list[Word]:
    """Words that carry meaning: not stop words, question words, auxiliaries, pronouns or digits only."""
    out = []
    for w in words(text):
        b = bare(w.lower)
        if b not in STOP_WORDS and not b.isdigit() and len(b) > 1:
            out.append(w)
    return out


@lru_cache(maxsize=4096)
def content_stems(text: str) -> frozenset[str]:
    """The stems of a text's content words: what "holds the question's words" compares. Cached: the
    decision asks it of the same passages and sentences for every span of a question."""
    return frozenset(stem(w.lower) for w in content_words(text))


@lru_cache(maxsize=4096)
def word_stems(text: str) -> frozenset[str]:
    """The stems of all of a text's words (cached as ``content_stems``)."""
    return frozenset(stem(w.lower) for w in words(text))


def key_stems(question: str) -> list[str]:
    """The question's content words, stemmed, names included ("Pakistan", "agre", "secur", "staff")."""
    out: list[str] = []
    for w in words(question):
        b = bare(w.lower)
        if b in STOP_WORDS or len(b) < 2 or b.isdigit():
            continue
        s = stem(b)
        if s not in out:
            out.append(s)
    return out
