"""Follow-up questions resolved against the conversation, without a language model.

Garbles a rewrite must not make (a verb lost, a bare "Why?" leaned on) are tests here; the CANARD
evaluation (``qa eval --followups``) is tested on a tiny file made here, and on the real file when
../shared/data has it.
"""

import argparse
import gzip
import json
from types import SimpleNamespace

import pytest
from conftest import need_shared

from qa.answer.followups.conversation import Conversation, key_terms, leans_on_previous
from qa.text.terms import bare, content_words
from qa.evaluation import followups as F

BOMBING = "Where did last month's bombing happen?"
AGREE = "What did Pakistan agree to?"
HEADLINE = "Beijing pushing Islamabad on joint security plan to protect its citizens"


def answered(text: str, article_id: str, title: str = ""):
    cite = SimpleNamespace(article_id=article_id, title=title)
    return SimpleNamespace(answered=True, text=text, citations=[cite])


REFUSED = SimpleNamespace(answered=False, text="", citations=[])


def talk(*turns: tuple[str, str], title: str = "", topic: str = "") -> Conversation:
    conv = Conversation(topic=topic)
    for question, answer in turns:
        conv.remember(question, conv.resolve(question), answered(answer, "art-1", title))
    return conv


def keeps_content_words(question: str, rewrite: str) -> bool:
    have = {bare(w.lower) for w in content_words(rewrite)}
    return all(bare(w.lower) in have for w in content_words(question))


def test_first_question_is_taken_as_asked():
    r = Conversation().resolve("  Who did it target? ")
    assert r.text == r.query == "Who did it target?" and not r.is_follow_up and r.prefer_article is None


def test_pronoun_and_there_follow_ups_expand_retrieval_with_the_topic():
    conv = talk((BOMBING, "Karachi airport"), title=HEADLINE)  # a headline is not a name: "it" stays
    for q in ("Who was targeted there?", "Who did it target?"):
        r = conv.resolve(q)
        assert r.is_follow_up and r.text == q  # the question is read as asked
        assert "bombing" in r.query and r.query.startswith(q)
        assert r.prefer_article == "art-1" and r.follows == BOMBING
    assert "Karachi airport" in conv.resolve("Who was targeted there?").query  # "there" points at the answer


def test_ellipsis_swaps_the_name():
    conv = talk((AGREE, "a joint security management system"))
    r = conv.resolve("and China?")
    assert r.text == "What did China agree to?" and r.is_follow_up
    assert "Pakistan" not in r.query
    assert conv.resolve("What about India?").text == "What did India agree to?"
    turn = conv.remember("and China?", r, answered("x", "art-2"))
    assert "Pakistan" not in turn.key_terms and "China" in turn.key_terms and turn.article_id == "art-2"


def test_ellipsis_without_a_name_swaps_the_subject_of_a_do_question():
    conv = talk((BOMBING, "Karachi airport"))
    assert conv.resolve("and the Quetta attack?").text == "Where did the Quetta attack happen?"


def test_ellipsis_keeps_the_verb_and_what_follows_it():
    # not "Where did the president from?" nor "What did the police attack?"
    assert talk(("Where did the minister resign from?", "the cabinet")).resolve(
        "and the president?").text == "Where did the president resign from?"
    assert talk(("What did the army say about the attack?", "it was planned")).resolve(
        "and the police?").text == "What did the police say about the attack?"
    assert talk(("Where was the minister born?", "Lahore")).resolve(
        "what about the president?").text == "Where was the president born?"
    assert talk(("Who was the minister?", "Ahsan Iqbal")).resolve("and the president?").text == "Who was the president?"


def test_bare_question_word_reuses_the_previous_question():
    conv = talk((BOMBING, "Karachi airport"))
    assert conv.resolve("When?").text == "When did last month's bombing happen?"
    assert talk((AGREE, "x")).resolve("Why?").text == "Why did Pakistan agree?"


def test_what_else_asks_again_besides_the_previous_answer():
    conv = talk((AGREE, "a joint security management system, officials said"))
    assert conv.resolve("What else?").text == "What else did Pakistan agree to, besides a joint security management system?"
    assert conv.resolve("Anything else?").text == "Anything else, besides a joint security management system?"
    r = conv.resolve("Other than that, what did they want?")
    assert r.text == "Other than a joint security management system, what did they want?"
    refused = Conversation()
    refused.remember(AGREE, refused.resolve(AGREE), REFUSED)
    assert refused.resolve("What else?").text == "What else did Pakistan agree to?"


def test_a_question_with_a_subject_of_its_own_is_not_a_follow_up():
    conv = talk((AGREE, "x"))
    for q in ("What is inflation?", "What's inflation?", "Is there a deal with India?", "Who is Imran Khan?",
              "Where did last month's bombing happen?", "What did the report say that China wants?"):
        r = conv.resolve(q)
        assert not r.is_follow_up and r.text == q, q
    assert conv.resolve("Who won?").is_follow_up  # no subject: it leans on the previous turn


def test_an_unresolved_bare_question_is_never_what_the_next_turn_leans_on():
    # else a refused "Why?" has the next turn read "as a follow-up to: Why?"
    conv = Conversation()
    first = "What is the joint security plan?"
    conv.remember(first, conv.resolve(first), answered("a plan to protect Chinese citizens", "art-1"))
    why = conv.resolve("Why?")
    assert why.text == "Why?"  # a be-question: no do-question to put "why" into
    conv.remember("Why?", why, REFUSED)
    nxt = conv.resolve("Who proposed it?")
    assert nxt.follows == first and nxt.prefer_article == "art-1"
    alone = Conversation()
    alone.remember("Why?", alone.resolve("Why?"), REFUSED)
    r = alone.resolve("Who proposed the plan?")
    assert not r.is_follow_up and r.follows is None and r.text == "Who proposed the plan?"


def test_pronouns_stand_for_the_title_of_the_previous_answers_article():
    conv = talk(("Who is Imran Khan?", "a former prime minister of Pakistan"), title="Imran Khan")
    r = conv.resolve("Where was he born")
    assert r.text == "Where was Imran Khan born?" and r.is_follow_up
    assert conv.resolve("Who were his parents?").text == "Who were Imran Khan's parents?"
    # no woman in the conversation: "she" is left alone, never read as Imran Khan
    assert conv.resolve("What did she say about him?").text == "What did she say about him?"


def test_the_topic_opens_the_conversation_and_gender_and_number_choose_the_referent():
    assert Conversation(topic="Neil Diamond").resolve("Where did he grow up?").text == "Where did Neil Diamond grow up?"
    conv = talk(("Who did she marry?", "She married John Smith in 1950."), topic="Mae West")
    assert conv.resolve("What did he do?").text == "What did John Smith do?"  # not Mae West
    assert conv.resolve("What was her first film?").text == "What was Mae West's first film?"
    assert conv.resolve("Did people like her?").text == "Did people like Mae West?"  # an object: no 's
    band = Conversation(topic="Cancer Bats (band)")
    assert band.resolve("Did they tour?").text == "Did Cancer Bats tour?"
    assert band.resolve("When was the band formed?").text == "When was the band Cancer Bats formed?"
    couple = talk(("Who did he marry?", "He married Zeenat Quraishi in 1999."), topic="Hamid Karzai")
    assert couple.resolve("When were they married?").text == "When were Hamid Karzai and Zeenat Quraishi married?"
    assert Conversation(topic="Vanilla Ice").resolve("What happened in 1985?").text == (
        "What happened to Vanilla Ice in 1985?")


def test_their_about_a_person_is_not_the_persons_and_a_sentence_opener_is_not_part_of_a_name():
    # "their" about a singer is the band's or a couple's; with no other name it is left as asked
    assert Conversation(topic="Chuck Schuldiner").resolve("What was their first album?").text == (
        "What was their first album?")
    # "Did" starts the answer's sentence; it is not part of the name "Kasa-Vubu"
    conv = talk(("Who opposed him?", "Did Kasa-Vubu agree? He dismissed him."), topic="Patrice Lumumba")
    assert "Did Kasa" not in conv.resolve("How did they solve this problem?").text


def test_a_question_that_names_its_own_subject_is_never_rewritten():
    conv = Conversation(topic="Ben Stein")
    for q in ("Was Ben a writer?", "Did Stein write his own books?", "What is inflation?"):
        r = conv.resolve(q)
        assert r.text == q and not r.is_follow_up, q
    # The name without its accent is still the name (CANARD: "Did Dali ... his parents?" about "Salvador Dalí")
    q = "Did Dali have a good relationship with his parents?"
    assert Conversation(topic="Salvador Dalí").resolve(q).text == q
    # ... and so is its possessive written without the apostrophe (CANARD, about "Ed McMahon")
    q = "Why did it fall upon McMahons shoulders?"
    assert Conversation(topic="Ed McMahon").resolve(q).text == q
    assert Conversation(topic="Nitty Gritty Dirt Band").resolve(
        "Was Uncle Charlie and his Dog Teddy a hit?").text == "Was Uncle Charlie and his Dog Teddy a hit?"


def test_a_rewrite_keeps_every_content_word_of_the_question():
    conv = talk(("Who did he marry?", "He married Zeenat Quraishi in 1999."), topic="Hamid Karzai")
    for q in ("When were they married?", "What did his wife do?", "Where did he study medicine?",
              "What happened in 2001?", "and his brother?", "Why?"):
        assert keeps_content_words(q, conv.resolve(q).text), q


def test_leaning_and_key_terms():
    assert leans_on_previous("What happened then?") and leans_on_previous("Who won?")
    assert leans_on_previous("What did they sign?") and leans_on_previous("Why did that attack happen?")
    assert not leans_on_previous("Is there a deal?") and not leans_on_previous("Who is Imran Khan?")
    assert not leans_on_previous("What is inflation?")
    assert key_terms(BOMBING) == ["month", "bombing"]
    assert key_terms("What did Pakistan`s interior ministry say?") == ["Pakistan", "interior", "ministry", "say"]


def test_terms_carry_over_a_chain_of_follow_ups_and_turns_are_capped():
    conv = talk((BOMBING, "Karachi airport"), ("Who did it target?", "two Chinese engineers"))
    assert "bombing" in conv.last.key_terms and "target" in conv.last.key_terms
    why = conv.resolve("Why?")
    assert why.text == "Why did it target?" and "bombing" in why.query and why.follows == "Who did it target?"
    conv = Conversation(max_turns=3)
    for i in range(5):
        conv.remember(f"Question {i}?", conv.resolve(f"Question {i}?"))
    assert len(conv.turns) == 3
    conv.reset()
    assert conv.last is None


# --- qa eval --followups ------------------------------------------------------------------------

ZAPPA = ["Frank Zappa", "Disbandment"]
TINY = [
    {"History": ZAPPA, "QuAC_dialog_id": "C_1", "Question": "What group disbanded?", "Question_no": 1,
     "Rewrite": "What group disbanded?"},
    {"History": ZAPPA + ["What group disbanded?", "Zappa and the Mothers of Invention"], "QuAC_dialog_id": "C_1",
     "Question": "When did he disband them?", "Question_no": 2,
     "Rewrite": "When did Frank Zappa disband the Mothers of Invention?"},
    {"History": ["Mae West", "Recording career"], "QuAC_dialog_id": "C_2",
     "Question": "when did she begin her recording career?", "Question_no": 1,
     "Rewrite": "when did Mae West begin her recording career?"},
    {"History": ["Mae West", "Recording career", "when did she begin her recording career?", "I don't know."],
     "QuAC_dialog_id": "C_2", "Question": "Was Mae West a singer?", "Question_no": 2,
     "Rewrite": "Was Mae West a singer?"},
]


def eval_args(path, out=None, as_json=False):
    return argparse.Namespace(followups=path, out=out, json=as_json, limit=None)


def test_followups_eval_on_a_tiny_canard_file(tmp_path):
    path = tmp_path / "canard.json.gz"
    with gzip.open(path, "wt", encoding="utf-8") as f:
        json.dump(TINY, f)
    records = F.load_canard(path)
    assert [r.turns for r in records][1] == (("What group disbanded?", "Zappa and the Mothers of Invention"),)
    assert F.title_substitution("When did he disband them?", "Frank Zappa") == "When did Frank Zappa disband them?"
    assert F.title_substitution("Who were his parents?", "Hugo (film)") == "Who were Hugo's parents?"

    printed: list[str] = []
    assert F.run(eval_args(path, tmp_path / "out", as_json=True), echo=printed.append) == 0
    result = json.loads(printed[-1])
    systems = result["all"]["systems"]
    assert result["all"]["questions"] == 4 and result["all"]["conversations"] == 2
    assert systems["asked"]["rewritten"] == 0 and systems["asked"]["worse"] == 0
    assert systems["resolver"]["bleu"] > systems["asked"]["bleu"]
    lines = [json.loads(x) for x in (tmp_path / "out" / "followups.jsonl").read_text().splitlines()]
    assert [x["question"] for x in lines] == [r["Question"] for r in TINY]  # input order
    assert lines[1]["rewrite"] == "When did Frank Zappa disband them?"
    assert lines[2]["rewrite"] == "when did Mae West begin her recording career?"
    assert lines[3]["rewrite"] == "Was Mae West a singer?"  # names its own subject

    printed.clear()
    assert F.run(eval_args(path), echo=printed.append) == 0
    assert "resolver" in printed[-1] and "BLEU" in printed[-1]


def test_followups_scores_by_hand():
    s = F.score(["a b c d e", "x y"], ["a b", "x y z"], ["a b c d e", "x y z"])
    assert s.bleu > 0 and s.rewritten == 2 and s.worse == 1 and s.worse_share == 50.0
    assert s.token_f1 == pytest.approx(100 * (1.0 + 0.8) / 2)


def test_followups_eval_rejects_other_files(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"data": []}))
    assert F.run(eval_args(bad), echo=lambda s: None) == 2


@pytest.mark.slow
def test_canard_dev_targets():
    """The whole of CANARD dev: the follow-up targets, as measured (docs/evaluation.md, "Follow-up questions")."""
    records = F.load_canard(need_shared("conversation", "canard_dev.json.gz"))
    reports, outputs = F.evaluate(records)
    s = reports["all"].systems
    assert s["asked"].bleu == pytest.approx(34.8, abs=0.1) and s["title"].bleu == pytest.approx(49.1, abs=0.1)
    assert s["resolver"].worse_share <= 5.0, s["resolver"]
    assert s["resolver"].bleu >= 50.0 and s["resolver"].bleu > s["title"].bleu, s["resolver"]
    assert reports["held_out"].systems["resolver"].bleu > reports["held_out"].systems["title"].bleu
    for r, text in zip(records, outputs["resolver"]):
        assert keeps_content_words(r.question, text), (r.question, text)


@pytest.mark.slow
@pytest.mark.xfail(strict=True, reason="the follow-up target is BLEU >= 52 on CANARD dev; the resolver measures 50.5")
def test_canard_dev_bleu_target():
    records = F.load_canard(need_shared("conversation", "canard_dev.json.gz"))
    assert F.evaluate(records)[0]["all"].systems["resolver"].bleu >= 52.0
