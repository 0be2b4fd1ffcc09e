"""SQuAD 2.0-style unanswerable twins: swapped entities of the same kind, antonyms, negations."""

import random

from qa.evaluation.squad import SquadExample
from qa.training.unanswerable import antonym, article_pool, kind_of, make_unanswerable, negate, spans, swap

ARTICLE = [
    "In March 2024, Pakistan agreed to let Chinese officials sit in on security meetings. Beijing wanted more.",
    "The talks in Islamabad lasted 3 days. Officials from Karachi said 1,200 guards were hired in 2023.",
]


def test_kinds_are_told_by_shape_and_sentence_starts_are_not_names():
    assert [kind_of(x) for x in ("1998", "March", "1,200", "Karachi", "Chinese")] == [
        "year", "month", "number", "name", "demonym"]
    pool = article_pool(ARTICLE)
    assert {"Pakistan", "Islamabad", "Karachi"} <= set(pool["name"])
    assert "The" not in pool["name"] and "Officials" not in pool["name"] and "Beijing" not in pool["name"]
    assert {"3", "1,200"} <= set(pool["number"]) and set(pool["year"]) == {"2024", "2023"}
    q = "When did Pakistan's envoy visit Karachi in 2023?"
    assert [(q[s:e], k) for s, e, k in spans(q)] == [("Pakistan", "name"), ("Karachi", "name"), ("2023", "year")]


def test_swap_replaces_a_span_with_one_of_the_same_kind_from_the_article():
    pool = article_pool(ARTICLE)
    rng = random.Random(0)
    for _ in range(20):
        q = swap("How many guards did Karachi hire in 2023?", pool, rng)
        assert q != "How many guards did Karachi hire in 2023?"
        assert q in {f"How many guards did {n} hire in 2023?" for n in ("Pakistan", "Islamabad")} | {
            "How many guards did Karachi hire in 2024?"}
    assert swap("What did they want?", pool, rng) is None  # nothing of a kind to swap


def test_antonyms_and_negation():
    rng = random.Random(0)
    assert antonym("Which was the largest city?", rng) == "Which was the smallest city?"
    assert antonym("Before what war was it built?", rng) == "After what war was it built?"
    assert antonym("Who lives there?", rng) is None
    assert negate("What did Pakistan agree to?") == "What did Pakistan not agree to?"
    assert negate("What did European empires rely on?") is None  # where the subject ends is unknown
    assert negate("What did Pakistan not agree to?") is None
    assert negate("Why did the army leave?") is None


def test_twins_are_unanswerable_on_the_same_paragraph():
    ex = SquadExample("q1", "What did Pakistan agree to?", ARTICLE[0], ["let Chinese officials sit in on security meetings"],
                      [ARTICLE[0].index("let Chinese")], title="t")
    pool = article_pool(ARTICLE)
    kinds = set()
    for seed in range(30):
        twin = make_unanswerable(ex, pool, random.Random(seed))
        assert twin is not None and twin.is_impossible and twin.context == ex.context
        assert twin.question != ex.question and twin.id.startswith("q1#")
        kinds.add(twin.id.split("#")[1])
    assert kinds == {"swap", "antonym", "negate"}
    assert make_unanswerable(SquadExample("q2", "Who?", ARTICLE[0]), pool, random.Random(0)) is None


def test_a_swap_the_paragraph_also_answers_is_dropped():
    # "Islamabad" swapped in for "Karachi": the paragraph says Islamabad hosted talks of 3 days.
    context = "Karachi hired 1,200 guards. Islamabad hired 1,200 guards too."
    ex = SquadExample("q3", "How many guards did Karachi hire?", context, ["1,200"], [14])
    pool = {"name": ["Karachi", "Islamabad"]}
    assert make_unanswerable(ex, pool, random.Random(0), kinds=("swap",)) is None
