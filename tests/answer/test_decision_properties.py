"""Properties of every answer the decision gives over the news dev set, whatever the reader says.

For each question: the findings are in descending shown confidence, the first is the most
confident span shown, every finding clears the answer cut-off (those after the first the
further-finding bar too), a refusal shows no finding and its possible answers stay below the
cut-off, most confident first. The default run asks the first 60 questions of the news dev
set (over an index of their stories); ``QA_HEAVY_TESTS=1`` asks all 733 over all stories.
"""

from __future__ import annotations

import os

import pytest

from tests.conftest import need_shared

HEAVY = os.environ.get("QA_HEAVY_TESTS") == "1"


@pytest.mark.slow
def test_findings_are_most_confident_first_and_none_is_below_the_cut_off(tmp_path, reader_path):
    from qa.answer.decide import decide
    from qa.answer.reader.read import Reader
    from qa.config import Settings
    from qa.evaluation.devreads import read_set

    news = need_shared("qa_train", "newsqa_train.json.gz")
    settings = Settings.from_env({}).with_overrides(uploads=tmp_path / "uploads")
    reader = Reader(reader_path)
    reader.load()
    dev = read_set("news", news, settings, reader_path, limit=0 if HEAVY else 60)
    answered = refused = 0
    for r in dev.reads:
        r.result.calibrator, r.result.verifier = reader.calibrator, reader.verifier
        ans = decide(r.question, r.passages, r.result)
        if ans.kind == "evidence":
            continue
        scores = [f.score for f in ans.findings]
        assert scores == sorted(scores, reverse=True), (r.question, scores)
        if ans.answered:
            answered += 1
            cut = reader.calibrator.cutoffs if reader.calibrator else None
            assert scores[0] >= ans.cutoff, (r.question, scores, ans.cutoff)
            assert cut is None or all(s >= cut.further for s in scores[1:]), (r.question, scores)
            assert ans.score == scores[0] and ans.text == ans.findings[0].text
            assert all(a["score"] <= scores[0] for a in ans.alternatives), r.question
        else:
            refused += 1
            assert ans.findings == []
            possible = [f.score for f in ans.possible]
            assert possible == sorted(possible, reverse=True) and all(p < ans.cutoff for p in possible)
    assert answered + refused > 0
