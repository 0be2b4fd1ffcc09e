"""Span decoding on hand-made logits: the reader's core logic without a model."""

import numpy as np
import pytest

from qa.answer.reader.decode import SpanCandidate, confidence, decode, merge_overlaps, window_spans

NEG = -10.0


def logits(n, **peaks):
    v = np.full(n, NEG, dtype=np.float32)
    for i, x in peaks.items():
        v[int(i[1:])] = x
    return v


def test_window_spans_picks_best_valid_span():
    # tokens: 0=CLS 1..3 question, 4=SEP, 5..9 context, 10=SEP
    mask = np.array([False] * 5 + [True] * 5 + [False])
    s = logits(11, t0=9.0, t2=8.0, t6=5.0, t8=1.0)  # t2 is a question token: never a start
    e = logits(11, t0=9.0, t7=4.0, t5=6.0)  # end 5 < start 6: invalid
    spans = window_spans(s, e, mask, max_answer_tokens=30, top_n=3)
    assert spans[0] == (pytest.approx(9.0), 6, 7)
    assert all(a <= b and mask[a] and mask[b] for _, a, b in spans)


def test_max_answer_length_is_respected():
    mask = np.ones(20, dtype=bool)
    mask[0] = False
    s = logits(20, t1=5.0, t10=1.0)
    e = logits(20, t15=5.0, t11=1.0)
    best = window_spans(s, e, mask, max_answer_tokens=5, top_n=1)[0]
    assert best[1:] == (10, 11)  # 1..15 is longer than 5 tokens
    assert window_spans(s, e, mask, max_answer_tokens=30, top_n=1)[0][1:] == (1, 15)


def _offsets(n):
    return np.array([[i * 5, i * 5 + 4] for i in range(n)])


def test_scores_compare_across_windows_and_null_is_min_over_windows():
    mask = np.array([[False, True, True, True]] * 2)
    s = np.array([[3.0, 1.0, 2.0, 0.0], [0.5, 0.0, 7.0, 0.0]], dtype=np.float32)
    e = np.array([[3.0, 0.0, 2.0, 0.0], [0.5, 0.0, 0.0, 6.0]], dtype=np.float32)
    offs = np.stack([_offsets(4), _offsets(4)])
    cands, null = decode(s, e, offs, mask, window_passage=[0, 1], max_answer_tokens=10, top_n=5)
    # window 1's span (7 + 6) beats window 0's best (2 + 2) on raw logits
    assert (cands[0].passage, cands[0].start, cands[0].end) == (1, 10, 19)
    assert cands[0].score == pytest.approx(13.0)
    assert null == pytest.approx(1.0)  # min(3+3, 0.5+0.5)
    assert cands[0].null_score == pytest.approx(1.0)


def test_duplicate_spans_from_overlapping_windows_merge():
    # Two windows of the same passage see the same characters (stride overlap).
    mask = np.array([[False, True, True], [False, True, True]])
    s = np.array([[0.0, 4.0, 0.0], [0.0, 5.0, 0.0]], dtype=np.float32)
    e = np.array([[0.0, 4.0, 0.0], [0.0, 5.0, 0.0]], dtype=np.float32)
    offs = np.array([[[0, 0], [10, 15], [16, 20]], [[0, 0], [10, 15], [16, 20]]])
    cands, _ = decode(s, e, offs, mask, [0, 0], max_answer_tokens=5, top_n=5)
    keys = [(c.passage, c.start, c.end) for c in cands]
    assert len(keys) == len(set(keys))
    assert cands[0].score == pytest.approx(10.0)  # the better of the duplicates
    # overlapping spans of one passage collapse to the best one
    assert not any(c.passage == 0 and c.start < 15 and c.end > 10 for c in cands[1:])


def test_merge_overlaps_keeps_distinct_passages():
    a = SpanCandidate(0, 0, 10, 5.0, 0.0)
    b = SpanCandidate(0, 5, 12, 4.0, 0.0)  # overlaps a
    c = SpanCandidate(1, 5, 12, 3.0, 0.0)  # same offsets, other passage
    assert merge_overlaps([a, b, c]) == [a, c]


def test_confidence_is_half_at_threshold_and_monotone():
    assert confidence(2.0, 2.0) == pytest.approx(0.5)
    assert confidence(5.0, 2.0) > confidence(3.0, 2.0) > 0.5 > confidence(0.0, 2.0)
