"""Long questions are cut to the reader's question budget, keeping their end, in one place for
training and inference (``qa.answer.reader.read.encode``)."""

import pytest

from qa.answer.reader.read import MAX_QUESTION_TOKENS, encode, fit_questions, question_budget


@pytest.fixture(scope="module")
def tokenizer(reader_path):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(reader_path))


def n_tokens(tokenizer, text: str) -> int:
    return len(tokenizer(text, add_special_tokens=False)["input_ids"])


def test_short_questions_are_untouched(tokenizer):
    qs = ["What did Pakistan agree to?", "  Who?  "]
    assert fit_questions(tokenizer, qs, MAX_QUESTION_TOKENS) == ["What did Pakistan agree to?", "Who?"]


def test_long_questions_keep_the_sentence_that_asks(tokenizer):
    pasted = "Here is an article I pasted into the box. " * 150
    out = fit_questions(tokenizer, [pasted + "So, what did Pakistan agree to?"], 64)[0]
    assert out == "So, what did Pakistan agree to?"
    out = fit_questions(tokenizer, ["blah " * 1000 + "what did Pakistan agree to"], 64)[0]
    assert out.endswith("what did Pakistan agree to") and n_tokens(tokenizer, out) <= 64
    assert not out.startswith("##")


@pytest.mark.parametrize("max_length, stride", [(256, 96), (192, 96), (128, 96), (384, 128)])
def test_encode_never_fails_on_long_or_odd_questions(tokenizer, max_length, stride):
    budget = question_budget(max_length, stride)
    assert 1 <= budget <= MAX_QUESTION_TOKENS and max_length - budget - 3 > stride
    questions = ["x " * 5000 + "Where?", "🙂" * 300, "ما الذي وافقت عليه باكستان؟ " * 100,
                 "<script>alert(1)</script>" * 200, "\x00\xff" * 500, "Who?"]
    enc = encode(tokenizer, questions, ["Pakistan agreed to a joint plan. " * 80] * len(questions), max_length, stride)
    assert max(len(ids) for ids in enc["input_ids"]) <= max_length
    assert {enc["overflow_to_sample_mapping"][w] for w in range(len(enc["input_ids"]))} == set(range(len(questions)))
