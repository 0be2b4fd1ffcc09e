"""Span decoding for extractive QA: from start/end logits to scored character spans.

Scores are raw ``start_logit + end_logit`` sums, never a per-window softmax, so
spans from different windows and passages are ranked on one scale. The
no-answer decision compares the best span with the null ([CLS]) score.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class SpanCandidate:
    """A character span of one passage, as scored by the reader."""

    passage: int  # index of the passage the span lies in
    start: int  # character offsets into that passage's text
    end: int
    score: float  # start_logit + end_logit
    null_score: float  # null score of the window the span came from


def window_spans(
    start_logits: np.ndarray,
    end_logits: np.ndarray,
    context_mask: np.ndarray,
    max_answer_tokens: int,
    top_n: int,
) -> list[tuple[float, int, int]]:
    """Best (score, start_token, end_token) spans of one window.

    Only context tokens may start or end a span; spans run forward and are at
    most ``max_answer_tokens`` long.
    """
    n = len(start_logits)
    neg = np.float32(-np.inf)
    s = np.where(context_mask, start_logits, neg).astype(np.float32)
    e = np.where(context_mask, end_logits, neg).astype(np.float32)
    scores = s[:, None] + e[None, :]
    i, j = np.indices((n, n))
    scores[(j < i) | (j - i >= max_answer_tokens)] = neg
    flat = scores.ravel()
    k = min(top_n, int(np.isfinite(flat).sum()))
    if k <= 0:
        return []
    top = np.argpartition(-flat, k - 1)[:k]
    top = top[np.argsort(-flat[top])]
    return [(float(flat[t]), int(t // n), int(t % n)) for t in top]


def decode(
    start_logits: np.ndarray,
    end_logits: np.ndarray,
    offsets: np.ndarray,
    context_masks: np.ndarray,
    window_passage: list[int],
    max_answer_tokens: int = 30,
    top_n: int = 20,
) -> tuple[list[SpanCandidate], float]:
    """Decode all windows of one question.

    Arrays are (windows, tokens[, 2]); ``offsets`` map tokens to character
    offsets in the window's passage; ``window_passage[w]`` names the passage of
    window ``w``. Returns the candidates, best first, with duplicate and
    overlapping spans merged, and the lowest null score over the windows (the
    window most sure there is an answer).
    """
    best: dict[tuple[int, int, int], SpanCandidate] = {}
    null_scores = start_logits[:, 0] + end_logits[:, 0]
    for w in range(start_logits.shape[0]):
        for score, a, b in window_spans(
            start_logits[w], end_logits[w], context_masks[w], max_answer_tokens, top_n
        ):
            cand = SpanCandidate(
                passage=window_passage[w],
                start=int(offsets[w, a, 0]),
                end=int(offsets[w, b, 1]),
                score=score,
                null_score=float(null_scores[w]),
            )
            key = (cand.passage, cand.start, cand.end)
            if key not in best or best[key].score < score:
                best[key] = cand
    return merge_overlaps(sorted(best.values(), key=lambda c: -c.score)), float(null_scores.min())


def merge_overlaps(candidates: list[SpanCandidate]) -> list[SpanCandidate]:
    """Keep the best of spans that overlap in the same passage (input best first)."""
    kept: list[SpanCandidate] = []
    for c in candidates:
        if not any(k.passage == c.passage and c.start < k.end and k.start < c.end for k in kept):
            kept.append(c)
    return kept


def confidence(margin: float, threshold: float) -> float:
    """Map the answer margin (span minus null score) to (0, 1); 0.5 at the threshold."""
    return float(1.0 / (1.0 + np.exp(-(margin - threshold))))
