"""Synthetic cloze questions: spans, question forms, offsets and the SQuAD file they go to."""

import json
import random

from qa.evaluation.squad import load_squad
from qa.training.synth import answer_candidates, main, make_question, questions_for
from qa.types import Article

ARTICLE = Article(
    id="a1",
    title="Wimpey shares rise",
    text=(
        "Shares in Wimpey rose 6% on Tuesday after the builder said it had made dollars 120m in 2004. "
        "Analysts at Barclays said 300 homes were sold in March.\n\n"
        "The chairman, John Smith, said the firm would open a new office in Leeds next year. "
        "The firm employs 2,000 people across the north of England.\n\n"
        "Elsewhere, the weather in the region was mild, with light rain expected over the weekend "
        "and temperatures close to the seasonal average for most of the country."
    ),
)


def _kinds(sentence: str) -> dict[str, str]:
    return {sentence[a:b]: wh for a, b, wh in answer_candidates(sentence)}


def test_candidates_cover_amounts_percentages_dates_counts_and_names():
    kinds = _kinds("Shares in Wimpey rose 6% on Tuesday after the builder said it had made dollars 120m in 2004.")
    assert kinds["Wimpey"] == "what"
    assert kinds["6%"] == "what percentage"
    assert kinds["Tuesday"] == "when"
    assert kinds["dollars 120m"] == "how much"
    assert kinds["2004"] == "when"
    assert _kinds("Analysts said 300 homes were sold.")["300"] == "how many"
    # A person is recognised by what follows or precedes the name.
    assert _kinds("The award went to Andy Roddick, who won in 2003.")["Andy Roddick"] == "who"


def test_sentence_initial_and_quote_initial_capitals_are_not_names():
    kinds = _kinds('Whilst the team lost, "Nobody expected it," the coach told Reuters.')
    assert "Whilst" not in kinds and "Nobody" not in kinds
    assert kinds["Reuters"] == "what"


def test_subject_questions_read_naturally_and_others_keep_the_word_in_place():
    s = "Roger Federer won the final in Dubai on Sunday."
    q = make_question(s, 0, len("Roger Federer"), "who", random.Random(0))
    assert q.startswith("Who won") and q.endswith("?")
    a = s.index("Dubai")
    q = make_question(s, a, a + len("Dubai"), "what", random.Random(0))
    assert " what " in f" {q} " and "Dubai" not in q
    assert make_question("Federer won.", 0, 7, "who", random.Random(0)) is None  # too little left to ask


def test_questions_point_at_their_answers_and_unanswerables_lack_them():
    items = questions_for(ARTICLE, random.Random(3), per_article=20, unanswerable=0.4, max_chars=250)
    assert items, "the article has several askable sentences"
    answered = [c for c in items if c.answer]
    refused = [c for c in items if not c.answer]
    assert answered and refused
    for c in answered:
        assert c.context[c.answer_start:c.answer_start + len(c.answer)] == c.answer
        assert c.context in ARTICLE.text
    for c in refused:
        assert c.context in ARTICLE.text
        assert c.answer_start == -1
        assert c.cut and c.cut.lower() not in c.context.lower()
    # Same seed, same questions: the recipe is reproducible.
    again = questions_for(ARTICLE, random.Random(3), per_article=20, unanswerable=0.4, max_chars=250)
    assert [c.question for c in again] == [c.question for c in items]


def test_the_command_writes_a_squad_file_that_training_reads(tmp_path):
    src = tmp_path / "news.jsonl"
    rows = [{"title": f"Story {i}", "text": ARTICLE.text.replace("Wimpey", f"Firm{i}")} for i in range(5)]
    src.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    out = tmp_path / "synth" / "cloze.json"
    assert main([str(src), "--out", str(out), "--max-questions", "12", "--unanswerable", "0.5"]) == 0
    assert not list(out.parent.glob("*.tmp"))
    examples = load_squad(out)
    assert 0 < len(examples) <= 12
    for ex in examples:
        if ex.is_impossible:
            continue
        assert ex.context[ex.answer_starts[0]:].startswith(ex.answers[0])
    doc = json.loads(out.read_text())
    assert doc["version"].startswith("v2.0")
