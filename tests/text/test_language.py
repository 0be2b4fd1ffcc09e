"""Telling an English question from one in another language (for the refusal's message)."""

import pytest

from qa.text.language import looks_english


@pytest.mark.parametrize("question", [
    "What did Pakistan agree to?", "Which ministries did not respond to requests for comment?",
    "What did Macron say in Orléans?", "Who is the ministre de la défense?", "Karachi?", "2024?",
    "Le Monde says what?", "Where is Gwadar?",
])
def test_english_questions(question):
    assert looks_english(question)


@pytest.mark.parametrize("question", [
    "Qu'est-ce que le Pakistan a accepté ?", "Où a eu lieu l'attentat ?", "Quel est le nom du porte-parole ?",
    "پاکستان نے کس بات پر اتفاق کیا؟", "ما الذي وافقت عليه باكستان؟", "¿Qué aceptó Pakistán?",
    "Что согласился сделать Пакистан?", "巴基斯坦同意了什么？",
])
def test_questions_in_other_languages(question):
    assert not looks_english(question)
