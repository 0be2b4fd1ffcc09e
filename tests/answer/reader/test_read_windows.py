"""``Reader.read_many``'s own logic, with a fake QA model in place of the network (as Haystack's
reader tests patch ``from_pretrained``): windows cut with a stride and put back together, batches
sorted by length and split back to their questions, token offsets turned into character spans of
the right passage. Only the shipped tokenizer is real (``tokenizer.json``, no weights are loaded)."""

from __future__ import annotations

import numpy as np
import pytest

import qa.answer.reader.read as read_module
from qa.answer.reader.read import Reader

ANSWER = "Zanzibar"  # a word the fake model "knows" the answer is
FILLER = "The committee met again on Tuesday and discussed the budget for the coming year. "


class FakeQA:
    """Scores the run of tokens that spells ``ANSWER`` as the span (start and end logits 10), the
    CLS position 0 and every other token -1: the null score is 0, the margin of a found answer 20
    and of any other span -2. It records each call's shape, to check batching."""

    def __init__(self, answer_ids: list[int], rows_per_call: int | None = None) -> None:
        self.answer_ids = answer_ids
        self.rows_per_call = rows_per_call
        self.calls: list[tuple[int, int]] = []
        self.found = 0  # windows that held the answer

    def __call__(self, ids: np.ndarray, mask: np.ndarray, types: np.ndarray | None):
        self.calls.append(ids.shape)
        start = np.full(ids.shape, -1.0, np.float32)
        end = np.full(ids.shape, -1.0, np.float32)
        start[:, 0] = end[:, 0] = 0.0
        n = len(self.answer_ids)
        for r, row in enumerate(ids):
            for i in range(1, ids.shape[1] - n + 1):  # not the CLS position
                if mask[r, i] and list(row[i:i + n]) == self.answer_ids:
                    start[r, i] = end[r, i + n - 1] = 10.0
                    self.found += 1
        return start, end


@pytest.fixture
def make_reader(reader_path, monkeypatch):
    """``make_reader(rows_per_call=None, **settings)``: a ``Reader`` on the shipped tokenizer whose
    model is a ``FakeQA`` (patched in at the one runtime dispatch, ``load_model``)."""

    def make(rows_per_call: int | None = None, **settings) -> tuple[Reader, FakeQA]:
        reader = Reader(reader_path, runtime="torch", **settings)
        from qa.util.tokenize import load_tokenizer

        answer_ids = load_tokenizer(reader_path)(ANSWER, add_special_tokens=False)["input_ids"]
        fake = FakeQA(list(answer_ids), rows_per_call)
        monkeypatch.setattr(read_module, "load_model", lambda *a, **k: fake)
        reader.load()
        return reader, fake

    return make


def test_a_span_in_a_late_window_comes_back_at_its_characters(make_reader):
    reader, _ = make_reader(max_length=64, stride=16)
    passage = FILLER * 12 + f"The ship sailed to {ANSWER} in May. " + FILLER * 3
    result = reader.read("Where did the ship sail?", [passage])
    assert result.best is not None and result.best.passage == 0
    assert (result.best.start, result.best.end) == (passage.index(ANSWER), passage.index(ANSWER) + len(ANSWER))
    assert result.span_text() == ANSWER
    assert result.null_score == 0.0 and result.margin == pytest.approx(20.0)


def test_the_same_span_seen_by_two_overlapping_windows_is_one_candidate(make_reader):
    reader, fake = make_reader(max_length=64, stride=40)  # windows overlap by 40 tokens
    passage = FILLER * 2 + f"They flew to {ANSWER}. " + FILLER * 2
    result = reader.read("Where did they fly?", [passage])
    assert fake.found >= 2  # more than one window saw it
    spans = [(c.passage, c.start, c.end) for c in result.candidates if c.score > 0]
    assert spans == [(0, passage.index(ANSWER), passage.index(ANSWER) + len(ANSWER))]


def test_questions_and_passages_are_put_back_where_they_came_from(make_reader):
    reader, fake = make_reader(max_length=64, stride=16, batch_size=4)
    first = [FILLER, FILLER * 6, f"A {ANSWER} trade deal was signed."]  # the answer in the third passage
    second = [f"{ANSWER} is an island. " + FILLER * 5, FILLER]  # in the first, at the very start
    third = [FILLER * 2]  # nowhere
    results = reader.read_many([("q1?", first), ("q2?", second), ("q3?", third), ("q4?", [])])
    assert [r.question for r in results] == ["q1?", "q2?", "q3?", "q4?"]
    assert (results[0].best.passage, results[0].span_text()) == (2, ANSWER)
    assert (results[1].best.passage, results[1].best.start, results[1].span_text()) == (0, 0, ANSWER)
    assert results[2].margin == pytest.approx(-2.0) and results[2].margin <= results[2].threshold
    assert results[3].best is None and results[3].texts == []
    assert all(rows <= 4 for rows, _ in fake.calls)  # batches of at most batch_size windows
    widths = [width for _, width in fake.calls]
    assert widths == sorted(widths)  # shortest windows first: little padding


def test_batching_does_not_change_what_is_read(make_reader):
    items = [("q?", [FILLER * 4 + f"to {ANSWER}.", FILLER]), ("r?", [f"{ANSWER}, then " + FILLER * 3])]
    one_by_one, fake_one = make_reader(rows_per_call=1, max_length=64, stride=16)
    together, fake_all = make_reader(rows_per_call=None, max_length=64, stride=16, batch_size=64)
    a, b = one_by_one.read_many(items), together.read_many(items)
    assert {rows for rows, _ in fake_one.calls} == {1} and len(fake_all.calls) < len(fake_one.calls)
    for x, y in zip(a, b):
        assert [(c.passage, c.start, c.end, c.score) for c in x.candidates] == \
               [(c.passage, c.start, c.end, c.score) for c in y.candidates]
        assert x.null_score == y.null_score
