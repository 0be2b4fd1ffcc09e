"""What a pronoun can stand for in a conversation: the article it is about, and the names said so far.

An ``Entity`` is a name with what agreement needs: whether it is a person, its gender and whether it
is plural. Gender of a person's name comes from its first name, looked up in gender-guesser (a
list of ~40,000 first names by country, from PyPI, read offline); nothing else here needs a library:
capitalised runs of words are names, and a title is a name when it reads like one (a short run of
capitalised words, not a headline). What the conversation's own pronouns say ("Did they tour?"
about "Cancer Bats") overrides the guess, since the person who asked knew.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache

from qa.text.terms import AUXILIARIES, PRONOUNS, STOP_WORDS, WH_WORDS, words

MAX_NAME_WORDS = 7  # a longer title is a headline, not a name ("Beijing pushing Islamabad on joint ...")
_PARENS = re.compile(r"\s*\(([^)]*)\)")
# Lower-case words that may stand inside a name ("Fiddler on the Roof", "Ludwig Mies van der Rohe").
_NAME_JOINERS = frozenset("of the and on in at a an for to de del della der di du van von la le da y & 's".split())
# "Hugo (film)", "Public Enemy (band)": what the parenthesis of a title says the thing is.
_GROUP_KINDS = frozenset("band group duo trio team club party tribe people family".split())
_PERSON_KINDS = frozenset(
    "activist actor actress artist author baseball basketball boxer comedian composer cricketer footballer "
    "golfer journalist musician painter poet politician rapper singer soccer tennis wrestler writer "
    "american british english canadian australian irish scottish".split()
)
PRONOUN_GROUPS = {
    "male": frozenset({"he", "him", "his", "himself"}),
    "female": frozenset({"she", "her", "hers", "herself"}),
    "plural": frozenset({"they", "them", "their", "theirs", "themselves"}),
    "thing": frozenset({"it", "its", "itself"}),
}


@dataclass(frozen=True)
class Entity:
    """A name a pronoun may stand for, with what agreement needs (None: not known)."""

    name: str
    person: bool | None = None
    gender: str | None = None  # "male" or "female" for a person whose first name says so
    plural: bool | None = None

    def agrees(self, pronoun: str) -> bool | None:
        """Whether ``pronoun`` can stand for this entity: True, False, or None when nothing says."""
        p = pronoun.lower()
        if p in PRONOUN_GROUPS["male"] or p in PRONOUN_GROUPS["female"]:
            if self.plural or self.person is False:
                return False
            if self.gender:
                return (self.gender == "male") == (p in PRONOUN_GROUPS["male"])
            return True if self.person else None
        if p in PRONOUN_GROUPS["plural"]:
            if self.plural is not None:
                return self.plural
            return False if self.person else None
        if p in PRONOUN_GROUPS["thing"]:
            if self.person is not None:
                return not self.person and not self.plural
            return None
        return None


@lru_cache(maxsize=1)
def _detector():
    import gender_guesser.detector as gender_guesser

    return gender_guesser.Detector(case_sensitive=False)


@lru_cache(maxsize=4096)
def first_name_gender(name: str) -> str | None:
    """'male' or 'female' when the first word is a first name mostly given to one; else None."""
    ws = words(name)
    if not ws or ws[0].lower in STOP_WORDS or not ws[0].capitalised:
        return None
    guess = _detector().get_gender(ws[0].text)
    if guess in ("male", "mostly_male"):
        return "male"
    if guess in ("female", "mostly_female"):
        return "female"
    return None


def name_of_title(title: str) -> tuple[str, str]:
    """(the title without its parenthesis, the parenthesis' words): "Hugo (film)" -> ("Hugo", "film")."""
    kinds = " ".join(m.group(1) for m in _PARENS.finditer(title or ""))
    return " ".join(_PARENS.sub("", title or "").split()), kinds.lower()


def looks_like_name(text: str) -> bool:
    """A short run of capitalised words (joiners allowed), as titles of people, bands and films are."""
    ws = words(text)
    if not ws or len(ws) > MAX_NAME_WORDS or not ws[0].text[:1].isupper() and not ws[0].text[:1].isdigit():
        return False
    return all(w.text[:1].isupper() or w.text[:1].isdigit() or w.lower in _NAME_JOINERS for w in ws)


def title_entity(title: str, evidence: Counter | None = None) -> Entity | None:
    """The entity an article's title names, or None for a headline.

    ``evidence`` counts the pronoun groups ("male", "female", "plural", "thing") the conversation
    used so far; the most used one decides what the title is when its name does not, except
    "it", which mostly points at a work or an event of a title's person rather than at the title
    (ignoring it: +0.1 BLEU on the development part).
    """
    name, kinds = name_of_title(title)
    if not looks_like_name(name):
        return None
    kind_words = set(kinds.split())
    gender = first_name_gender(name)
    person: bool | None = True if gender or kind_words & _PERSON_KINDS else None
    plural: bool | None = None
    if kind_words & _GROUP_KINDS:
        person, plural = False, True
    elif kinds and person is None:
        person, plural = False, False  # "(film)", "(song)", "(novel)": a thing
    if evidence:
        said, _ = evidence.most_common(1)[0]
        if said in ("male", "female") and plural is None:
            person, gender, plural = True, said, False
        elif said == "plural" and not gender:
            person, plural = False, True
    return Entity(name, person, gender, plural)


def pronoun_evidence(texts: list[str]) -> Counter:
    """How often each pronoun group occurs in these texts (the conversation's questions)."""
    counts: Counter = Counter()
    for text in texts:
        for w in words(text):
            for group, forms in PRONOUN_GROUPS.items():
                if w.lower in forms:
                    counts[group] += 1
    return counts


_SENTENCE_OPENERS = AUXILIARIES | WH_WORDS | PRONOUNS | {"i", "you", "we"}
_NAME_RUN = re.compile(r"[A-Z][\w'’`.-]*(?:\s+(?:(?:of|de|van|von|der|da|del|la|le)\s+)?[A-Z][\w'’`.-]*)*")


def names_in(text: str) -> list[str]:
    """Capitalised runs of words in a text, in order, that are not a sentence's first word alone."""
    out = []
    for m in _NAME_RUN.finditer(text or ""):
        name = re.sub(r"['’`]s$", "", m.group(0)).rstrip(".")
        before = text[: m.start()].rstrip()
        first_word = not before or before[-1] in ".!?\"“:;"
        if first_word:  # "Did Kasa-Vubu agree?": the auxiliary is capitalised only because it starts the sentence
            lead = name.split(" ", 1)
            if len(lead) == 2 and lead[0].lower() in _SENTENCE_OPENERS:
                name = lead[1]
        if first_word and " " not in name:
            continue  # "The", "He", "In": capitalised because a sentence starts there
        if name.lower() in STOP_WORDS:
            continue
        out.append(name)
    return out


@dataclass(frozen=True)
class Referents:
    """What the pronouns of the next question may stand for."""

    title: Entity | None = None  # the article's (or the topic's), when its title is a name
    people: tuple[Entity, ...] = ()  # people named in the recent turns, latest first
    last_names: tuple[str, ...] = ()  # every name of the latest turn's question and answer, latest first


def person_entity(name: str) -> Entity | None:
    """A name from the conversation as a person, when its first name says a gender; else None."""
    gender = first_name_gender(name)
    return Entity(name, True, gender, False) if gender else None
