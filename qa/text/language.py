"""Is a question in English? The reader and the articles are English-only, so a refusal of a question
in another language says so, instead of leaving the user to guess why nothing was found.

A cheap rule, not a language model: most letters outside the Latin alphabets (Urdu, Arabic, Chinese,
Cyrillic…) means not English; in Latin script, more function words of French, Spanish, German,
Italian or Portuguese than of English does. Words shared with English ("a", "on", "die", "was") are
left out of the foreign lists, so an English question is never flagged for them.
"""

from __future__ import annotations

import re

ONLY_ENGLISH = "Only English is read here: the articles and the reader are English, so please ask in English."

_WORD = re.compile(r"[^\W\d_]+(?:['’][^\W\d_]+)?")
_LATIN_END = 0x250  # Basic Latin, Latin-1, Latin Extended-A and -B

# Weighed word for word against FOREIGN, so not all of qa.text.terms.STOP_WORDS: its "also", "so", "me", "se"…
# are German or Italian words too, and would pass "Wer kam also so spät?" as English.
ENGLISH = frozenset("""
the a an of to in on at for with from by about as is are was were be been has have had do does did
what which who whom whose when where why how and or not no this that these those it its they their
there he she his her we our you your i will would can could should many much any some
""".split())

FOREIGN = frozenset("""
le la les des du un une est sont été que qui quoi quel quelle quels quelles où comment pourquoi combien
avec pour dans sur par pas ne au aux ce cette ces et ou il elle ils elles nous vous leur leurs qu'est
c'est d'accord accepté
el los las del qué quién quiénes dónde cuándo cómo cuál cuántos por para con es está están fue y
der das und ist wer wann wo wie warum welche nicht mit von zu dem den ein eine hat haben wurde
il lo gli della delle che chi dove quando perché sono è
o os da das dos quem onde porque não são foi
""".split())


def looks_english(text: str) -> bool:
    """False when ``text`` is clearly in another language (by script or by function words)."""
    letters = [ch for ch in text if ch.isalpha()]
    if not letters:
        return True
    latin = sum(1 for ch in letters if ord(ch) < _LATIN_END)
    if latin * 2 < len(letters):
        return False
    words = [w.lower().replace("’", "'") for w in _WORD.findall(text)]
    english = sum(w in ENGLISH for w in words)
    foreign = sum(w in FOREIGN for w in words)
    accented = any(ord(ch) > 0x7F for ch in letters)  # é, ù, ñ, ß… tip a tie ("Où a eu lieu…?")
    return foreign < english or foreign == 0 or (foreign == english and not accented)
