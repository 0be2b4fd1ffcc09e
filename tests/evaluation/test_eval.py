"""qa eval: metrics against hand-computed numbers, question loading, the report writer,
and both runners with fake pipeline/reader objects (no models are loaded)."""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import pytest

from qa.evaluation import metrics as M
from qa.answer.reader.decode import SpanCandidate
from qa.evaluation.evaluate import confidence_sweep, run, run_end_to_end
from qa.evaluation.questions import EvalQuestion, load_questions
from qa.evaluation.metrics import EvalResult
from qa.answer.reader.read import ReadResult
from qa.app.cli import eval_arguments
from qa.evaluation.report import PLOTS, render_markdown, write_report
from qa.evaluation.squad import SquadExample, evaluate_at, predict_squad
from qa.types import Answer, Chunk, Citation, Passage

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def res(qid, answers, prediction, answered, score=0.5, **kw) -> EvalResult:
    em, f1 = M.score_prediction(prediction if answered else "", answers)
    kw.setdefault("best_span", prediction)
    return EvalResult(id=qid, question=kw.pop("question", f"What is {qid}?"), answers=answers,
                      prediction=prediction if answered else "", answered=answered, score=score, em=em, f1=f1, **kw)


# --- metrics --------------------------------------------------------------------


def five_results() -> list[EvalResult]:
    return [
        res("q1", ["Karachi airport"], "Karachi airport", True),  # EM 1, F1 1
        res("q2", ["two Chinese engineers"], "Chinese engineers", True),  # EM 0, F1 2*1*(2/3)/(1+2/3) = 0.8
        res("q3", ["five"], "", False),  # false refusal: 0, 0
        res("q4", [], "", False),  # right refusal: 1, 1
        res("q5", [], "the bomb", True),  # answered the unanswerable: 0, 0
    ]


def test_answer_metrics_by_hand():
    m = M.answer_metrics(five_results())
    assert m["exact"] == pytest.approx(100 * 2 / 5)
    assert m["f1"] == pytest.approx(100 * 2.8 / 5)
    assert m["HasAns_exact"] == pytest.approx(100 / 3)
    assert m["HasAns_f1"] == pytest.approx(100 * 1.8 / 3)
    assert m["HasAns_total"] == 3
    assert m["NoAns_accuracy"] == pytest.approx(50.0)
    assert m["NoAns_total"] == 2
    assert m["false_refusal_rate"] == pytest.approx(100 / 3)
    assert m["answer_rate"] == pytest.approx(60.0)


def test_per_question_scores_use_official_normalisation():
    assert M.score_prediction("The Karachi Airport.", ["near Karachi airport", "Karachi airport"]) == (1, 1.0)
    assert M.score_prediction("", []) == (1, 1.0)  # refusing the unanswerable
    assert M.score_prediction("x", []) == (0, 0.0)
    assert M.is_answerable(["the"]) is False  # normalises to nothing: official no-answer


def test_ranking_metrics_by_hand():
    r = M.ranking_metrics([1, 3, None], k=5)
    assert r["recall_at_k"] == pytest.approx(200 / 3)
    assert r["recall_at_1"] == pytest.approx(100 / 3)
    assert r["mrr"] == pytest.approx((1 + 1 / 3 + 0) / 3)
    assert M.ranking_metrics([1, 3, None], k=2)["recall_at_k"] == pytest.approx(100 / 3)
    assert M.ranking_metrics([], k=5)["mrr"] is None


def test_gold_rank_by_id_then_title():
    retrieved = [("b", "Other story"), ("a", "  Beijing  PUSHING islamabad "), ("a", "Beijing pushing Islamabad")]
    assert M.gold_rank(None, "beijing pushing islamabad", retrieved) == 2
    assert M.gold_rank("a", "ignored when an id is given", retrieved) == 2
    assert M.gold_rank("zzz", "Other story", retrieved) is None  # the id decides
    assert M.gold_rank(None, None, retrieved) is None


def test_citation_accuracy_counts_only_answered_answerable_with_gold():
    rs = [
        res("a", ["x"], "x", True, gold_title="T1", cited_title="t1 "),  # right (title normalised)
        res("b", ["x"], "y", True, gold_article_id="id2", cited_article_id="id3", cited_title="T2"),  # wrong
        res("c", ["x"], "", False, gold_title="T1"),  # refused: not counted
        res("d", [], "y", True, gold_title="T1", cited_title="T1"),  # unanswerable: not counted
        res("e", ["x"], "x", True, cited_title="T1"),  # no gold article: not counted
    ]
    assert M.citation_accuracy(rs) == {"accuracy": 50.0, "n": 2}


def test_percentiles_and_latency():
    assert M.percentile([10, 20, 30, 40, 50], 50) == 30
    assert M.percentile([10, 20, 30, 40, 50], 95) == pytest.approx(48)  # 40 + 0.8 * 10
    assert M.percentile([], 50) is None
    rs = [res(f"q{i}", ["x"], "x", True, timings_ms={"retrieve": t / 2, "read": t / 2, "total": t})
          for i, t in enumerate([10, 20, 30, 40, 50])]
    lat = M.latency_metrics(rs)
    assert lat["total"] == {"n": 5, "p50": 30.0, "p95": pytest.approx(48.0), "mean": 30.0}
    assert lat["read"]["p50"] == 15.0


@pytest.mark.parametrize("question,word", [
    ("How many people died?", "how many"),
    ("how much did it cost?", "how much"),
    ("How did China respond?", "how"),
    ("Who was targeted?", "who"),
    ("Whose staff would protect them?", "who"),
    ("What's the plan?", "what"),
    ("In which year did it happen?", "which"),
    ("When was the attack?", "when"),
    ("Where did the bombing happen?", "where"),
    ("Why did Pakistan refuse?", "why"),
    ("Name the spokesperson.", "other"),
])
def test_question_word(question, word):
    assert M.question_word(question) == word


def test_by_question_word_order_and_values():
    rs = [res("a", ["x"], "x", True, question="How many?"), res("b", ["x"], "y", True, question="Who?"),
          res("c", ["x"], "x", True, question="Who else?"), res("d", ["x"], "x", True, question="How so?")]
    byw = M.by_question_word(rs)
    assert list(byw) == ["who", "how many", "how"]
    assert byw["who"] == {"n": 2, "exact": 50.0, "f1": 50.0}


def test_calibration_bins_and_ece_by_hand():
    cal = M.calibration([0.05, 0.15, 0.12, 0.95, 1.0], [False, True, False, True, True], n_bins=10)
    b = cal["bins"]
    assert [x["n"] for x in b] == [1, 2, 0, 0, 0, 0, 0, 0, 0, 2]
    assert b[1]["confidence"] == pytest.approx(0.135) and b[1]["accuracy"] == 0.5
    assert b[9]["confidence"] == pytest.approx(0.975) and b[9]["accuracy"] == 1.0
    assert b[2]["accuracy"] is None
    assert cal["ece"] == pytest.approx(1 / 5 * 0.05 + 2 / 5 * 0.365 + 2 / 5 * 0.025)


def test_share_of_confident_answers_that_are_wrong():
    rs = [res("a", ["x"], "x", True, score=0.95), res("b", ["x"], "y", True, score=0.99),
          res("c", [], "z", True, score=0.9), res("d", ["x"], "x", True, score=0.5),
          res("e", ["x"], "", False, score=0.97, best_span="y")]
    cal = M.calibration_metrics(rs)
    assert cal["confident_answers"] == 3 and cal["confident_wrong_share"] == pytest.approx(2 / 3)
    assert M.calibration_metrics([res("f", ["x"], "x", True, score=0.2)])["confident_wrong_share"] is None


def test_report_says_when_no_answer_reaches_confidence_0_9():
    """With nothing shown at >= 0.9 the wrong share is undefined: the table says so and gives the
    highest confidence shown, rather than leaving the line out (a refusal's score does not count)."""
    from qa.evaluation.evaluate import summarize
    from qa.evaluation.report import summary_rows

    def row(results):
        summary = summarize(results, mode="end_to_end", k=5, sweep=confidence_sweep(results, 2.0))
        return dict(summary_rows(summary))["Answers shown at confidence >= 0.9, wrong"]

    rs = [res("a", ["x"], "x", True, score=0.62), res("b", ["x"], "y", True, score=0.87),
          res("c", ["x"], "", False, score=0.95, best_span="x")]
    cal = M.calibration_metrics(rs)
    assert cal["confident_answers"] == 0 and cal["highest_answered_confidence"] == pytest.approx(0.87)
    assert row(rs) == "none shown at >= 0.9 (highest 0.87)"
    assert row(rs + [res("d", ["x"], "y", True, score=0.93)]) == "100.0% of 1"


def test_span_correctness_definition():
    refused_right = res("a", ["Karachi airport"], "", False, best_span="Karachi airport")
    assert M.span_is_correct(refused_right)
    assert not M.span_is_correct(res("b", [], "anything", True))  # a span for the unanswerable
    assert M.span_is_correct(res("c", ["two Chinese engineers"], "Chinese engineers", True))  # F1 0.8
    # F1("engineers") = 2 * 1 * (1/3) / (1 + 1/3) = 0.5: the boundary counts as correct.
    assert M.score_prediction("engineers", ["two Chinese engineers"])[1] == pytest.approx(0.5)
    assert M.span_is_correct(res("d", ["two Chinese engineers"], "engineers", True))
    assert not M.span_is_correct(res("e", ["two Chinese engineers"], "Karachi", True))


def test_threshold_sweep_matches_evaluate_at():
    spans = {"a": "Karachi airport", "b": "five", "c": "nothing", "d": ""}
    margins = {"a": 3.0, "b": -1.0, "c": 0.5, "d": -math.inf}
    gold = {"a": ["Karachi airport"], "b": ["five"], "c": [], "d": []}
    ids = list(spans)
    rows = M.threshold_sweep([spans[i] for i in ids], [margins[i] for i in ids], [gold[i] for i in ids],
                             [-2.0, 0.0, 1.0, 5.0])
    for row in rows:
        official = evaluate_at(spans, margins, gold, row["threshold"])
        for key in ("exact", "f1", "HasAns_exact", "HasAns_f1", "NoAns_accuracy"):
            assert row[key] == pytest.approx(official[key]), (row["threshold"], key)
    assert [r["answer_rate"] for r in rows] == [75.0, 50.0, 25.0, 0.0]


# --- loading --------------------------------------------------------------------


def test_jsonl_bad_records_reported_by_line(tmp_path, caplog):
    lines = [
        '{"id": "a", "question": "Where?", "answers": ["Karachi"], "article_title": "T"}',
        "{not json",
        '{"answers": ["x"]}',
        '{"question": "Q?", "answers": "x"}',
        "",
        '{"question": "Q?", "answers": [1]}',
        '{"id": "a", "question": "Again?", "answers": []}',
        "[1, 2]",
        '{"question": "Unanswerable?", "answers": [], "answerable": false, "article_id": "id9"}',
        '{"question": "Contradiction?", "answers": [], "answerable": true}',
    ]
    path = tmp_path / "q.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with caplog.at_level("WARNING"):
        qs = load_questions(path)
    assert qs.format == "jsonl"
    assert [q.id for q in qs.questions] == ["a", "line-9"]
    assert qs.questions[0].article_title == "T" and qs.questions[0].answerable
    assert qs.questions[1].article_id == "id9" and not qs.questions[1].answerable
    assert [b.line for b in qs.bad] == [2, 3, 4, 6, 7, 8, 10]
    errors = {b.line: b.error for b in qs.bad}
    assert "invalid JSON" in errors[2] and "question" in errors[3] and "list of strings" in errors[4]
    assert "duplicate id" in errors[7] and "line 1" in errors[7]
    assert "q.jsonl:2" in caplog.text


def test_seed_file_loads():
    from conftest import need_shared

    path = need_shared("qa", "seed_article_dev.jsonl")
    qs = load_questions(path)
    assert len(qs.questions) == 10 and not qs.bad
    assert sum(not q.answerable for q in qs.questions) == 2


SQUAD = {
    "version": "v2.0",
    "data": [{"title": "Beijing_security", "paragraphs": [{
        "context": "Two Chinese engineers were killed near Karachi airport.",
        "qas": [
            {"id": "s1", "question": "Where were they killed?",
             "answers": [{"text": "near Karachi airport", "answer_start": 34}], "is_impossible": False},
            {"id": "s2", "question": "Who was the spokesperson?", "answers": [], "is_impossible": True},
        ],
    }]}],
}


def test_squad_json_detected_by_content(tmp_path):
    path = tmp_path / "dev.txt"  # the extension does not matter
    path.write_text(json.dumps(SQUAD, indent=1), encoding="utf-8")
    qs = load_questions(path)
    assert qs.format == "squad"
    assert [(q.id, q.answers, q.article_title) for q in qs.questions] == [
        ("s1", ["near Karachi airport"], "Beijing_security"), ("s2", [], "Beijing_security")]
    assert qs.questions[0].context.startswith("Two Chinese")


def test_single_object_jsonl_is_not_squad(tmp_path):
    path = tmp_path / "one.jsonl"
    path.write_text('{"question": "Who?", "answers": ["x"]}\n', encoding="utf-8")
    qs = load_questions(path)
    assert qs.format == "jsonl" and len(qs.questions) == 1 and not qs.bad


# --- fakes ----------------------------------------------------------------------

ART_A, ART_B = ("id-a", "Beijing pushing Islamabad"), ("id-b", "Other story")


def passage(art, i=0) -> Passage:
    aid, title = art
    return Passage(chunk=Chunk(f"{aid}:{i}", aid, i, "text", 0, 4), title=title, date=None, source="x.txt")


def citation(art) -> Citation:
    return Citation(article_id=art[0], title=art[1], date=None, source="x.txt", url="", passage="text",
                    passage_start=0, answer_start=0, answer_end=4)


E2E_QUESTIONS = [
    EvalQuestion("q1", "Where did last month's bombing happen?", ["near Karachi airport", "Karachi airport"],
                 article_title="beijing  PUSHING islamabad"),
    EvalQuestion("q2", "Who was targeted in the bombing?", ["two Chinese engineers"], article_title=ART_A[1]),
    EvalQuestion("q3", "How many Pakistani sources did Reuters speak to?", ["five"], article_id="id-a"),
    EvalQuestion("q4", "What is the name of the spokesperson?", [], article_title=ART_A[1]),
    EvalQuestion("q5", "Why did it happen?", []),
]


def e2e_answers() -> dict[str, Answer]:
    t = {"retrieve": 0.010, "read": 0.090, "total": 0.100}
    return {
        # answered right, cites the gold article, which is ranked first
        E2E_QUESTIONS[0].question: Answer("", "Karachi airport", 0.9, True, [citation(ART_A)],
                                          passages=[passage(ART_A), passage(ART_B)], timings=t),
        # refused, but the best span (in alternatives[0]) is right; gold ranked second
        E2E_QUESTIONS[1].question: Answer("", "", 0.4, False, [citation(ART_B)],
                                          alternatives=[{"text": "two Chinese engineers", "score": 0.4,
                                                         "margin": 1.6, "title": ART_A[1], "article_id": "id-a"}],
                                          passages=[passage(ART_B), passage(ART_A, 1)], timings=t),
        # answered right but cites the wrong article; gold (by id) not retrieved
        E2E_QUESTIONS[2].question: Answer("", "five", 0.7, True, [citation(ART_B)], passages=[passage(ART_B)],
                                          timings={"retrieve": 0.020, "read": 0.180, "total": 0.200}),
        # refused the unanswerable (best span kept in alternatives)
        E2E_QUESTIONS[3].question: Answer("", "", 0.3, False, alternatives=[{"text": "Lin Jian", "score": 0.3}],
                                          passages=[passage(ART_A)], timings=t),
        # answered the unanswerable
        E2E_QUESTIONS[4].question: Answer("", "because of it", 0.6, True, [citation(ART_B)],
                                          passages=[passage(ART_B)], timings=t),
    }


class FakeReader:
    """Stands in for qa.answer.reader.read.Reader: fixed spans and scores per question, no model."""

    def __init__(self, spans: dict[str, tuple[str, float]], threshold: float = 2.0) -> None:
        self.spans, self.null_threshold, self.loaded, self.calls = spans, threshold, False, []
        self.model_path = "fake-reader"

    def load(self) -> None:
        self.loaded = True

    def read_many(self, items):
        self.calls.append(len(items))
        out = []
        for question, contexts in items:
            span, score = self.spans.get(question, ("", None))
            ctx = contexts[0]
            if score is None or span not in ctx:
                out.append(ReadResult([], float("inf"), self.null_threshold, texts=list(contexts)))
                continue
            s = ctx.index(span)
            cand = SpanCandidate(0, s, s + len(span), score, 0.0)
            out.append(ReadResult([cand], 0.0, self.null_threshold, texts=list(contexts)))
        return out


class FakeIndexReport:
    articles, chunks, skipped, duplicates, embedded, removed = 1, 3, 0, 0, 3, 0

    def summary(self) -> str:
        return "1 article, 3 chunks"


class FakePipeline:
    def __init__(self, answers: dict[str, Answer] | None = None, reader: FakeReader | None = None) -> None:
        self.answers = answers or {}
        self.reader = reader or FakeReader({})
        self.indexed: list | None = None
        self.asked: list[tuple[str, int | None]] = []

    def index(self, paths):
        self.indexed = list(paths)
        return FakeIndexReport()

    def answer_cutoff(self) -> float:
        return 0.5

    def ask(self, question: str, k: int | None = None) -> Answer:
        self.asked.append((question, k))
        ans = self.answers[question]
        ans.question = question
        return ans


# --- end-to-end runner ----------------------------------------------------------


def test_end_to_end_assembly():
    results = run_end_to_end(FakePipeline(e2e_answers()), E2E_QUESTIONS, k=5, progress=False)
    r1, r2, r3, r4, r5 = results
    assert (r1.answered, r1.em, r1.f1, r1.gold_rank, r1.cited_title) == (True, 1, 1.0, 1, ART_A[1])
    assert (r2.answered, r2.prediction, r2.best_span, r2.score, r2.margin) == (
        False, "", "two Chinese engineers", 0.4, 1.6)
    assert r2.gold_rank == 2 and r2.cited_article_id is None  # refused: nothing cited
    assert r3.gold_rank is None and r3.cited_article_id == "id-b"
    assert r4.best_span == "Lin Jian" and r4.em == 1
    assert r5.has_gold_article is False
    assert r1.timings_ms == pytest.approx({"retrieve": 10.0, "read": 90.0, "total": 100.0})
    assert r1.retrieved == [ART_A[1], ART_B[1]]

    a = M.answer_metrics(results)
    assert (a["exact"], a["f1"]) == (pytest.approx(60.0), pytest.approx(60.0))
    assert a["HasAns_f1"] == pytest.approx(200 / 3) and a["NoAns_accuracy"] == 50.0
    assert a["false_refusal_rate"] == pytest.approx(100 / 3) and a["answer_rate"] == 60.0
    ret = M.retrieval_metrics(results, k=5)  # ranks [1, 2, None, 1]; q5 has no gold article
    assert ret["n"] == 4 and ret["recall_at_k"] == 75.0 and ret["recall_at_1"] == 50.0
    assert ret["mrr"] == pytest.approx((1 + 0.5 + 0 + 1) / 4)
    assert M.citation_accuracy(results) == {"accuracy": 50.0, "n": 2}


def test_confidence_sweep_by_hand():
    results = run_end_to_end(FakePipeline(e2e_answers()), E2E_QUESTIONS, k=5, progress=False)
    sweep = confidence_sweep(results, cutoff=0.6)
    rows = {r["threshold"]: r for r in sweep["rows"]}
    assert len(rows) == 21 and min(rows) == 0.0 and max(rows) == 1.0
    # The product answers iff confidence >= its cut-off: that row is today's numbers, marked current.
    assert sweep["cutoff"] == 0.6 and sweep["current"]["threshold"] == pytest.approx(0.6)
    assert sweep["current"]["f1"] == pytest.approx(60.0) and rows[0.5]["f1"] == pytest.approx(60.0)
    assert sweep["current"]["answer_rate"] == 60.0 and sweep["current"]["answered_right_share"] == pytest.approx(200 / 3)
    # At 0.35 q2's refused-but-right span (0.4) is answered; q4 (0.3) stays refused; q5 (0.6) is wrong.
    assert rows[0.35]["f1"] == pytest.approx(80.0) and rows[0.35]["answer_rate"] == 80.0
    assert rows[0.0]["f1"] == pytest.approx(60.0)  # everything answered, q4 and q5 wrong
    assert rows[1.0]["f1"] == pytest.approx(40.0) and rows[1.0]["answer_rate"] == 0.0  # refuse all
    # Answering the top-m by score (.9 .7 .6 .4 .3): F1 40, 60, 80, 60, 80, 60 -> best m=2, cut-off (0.7+0.6)/2.
    best = sweep["best"]
    assert best["threshold"] == pytest.approx(0.65) and best["f1"] == pytest.approx(80.0)
    assert best["best_f1"] == pytest.approx(80.0)
    # Risk and coverage: answering the most confident first, (share answered, share of those right).
    curve = [(p["answered_share"], round(p["right_share"], 3)) for p in sweep["risk_coverage"]]
    assert curve == [(0.2, 1.0), (0.4, 1.0), (0.6, 0.667), (0.8, 0.75), (1.0, 0.6)]


def eval_args(tmp_path, questions, *extra) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    eval_arguments(parser)
    return parser.parse_args([str(questions), "--out", str(tmp_path / "out"), *extra])


def write_jsonl(path: Path, questions: list[EvalQuestion], bad_line: bool = False) -> Path:
    lines = [json.dumps({"id": q.id, "question": q.question, "answers": q.answers,
                         **({"article_title": q.article_title} if q.article_title else {}),
                         **({"article_id": q.article_id} if q.article_id else {})}) for q in questions]
    if bad_line:
        lines.insert(2, '{"question": "broken"')
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_run_end_to_end_cli(tmp_path, capsys):
    from qa.config import Settings

    qfile = write_jsonl(tmp_path / "dev.jsonl", E2E_QUESTIONS, bad_line=True)
    pipe = FakePipeline(e2e_answers())
    args = eval_args(tmp_path, qfile, "--json", "--k", "3", "--corpus", str(tmp_path))
    assert run(args, Settings(), pipeline=pipe) == 0
    assert pipe.indexed == [tmp_path]
    assert {k for _, k in pipe.asked} == {3}
    out = json.loads(capsys.readouterr().out)
    assert "results" not in out
    assert out["mode"] == "end_to_end" and out["k"] == 3
    assert out["counts"] == {"questions": 5, "answerable": 3, "unanswerable": 2, "with_gold_article": 4,
                             "bad_records": 1}
    assert out["bad_records"][0]["line"] == 3
    assert out["answers"]["f1"] == pytest.approx(60.0)
    assert out["retrieval"]["recall_at_k"] == 75.0 and out["citation"]["accuracy"] == 50.0
    assert out["index"]["chunks"] == 3
    assert out["latency_ms"]["total"]["p50"] == pytest.approx(100.0)
    assert out["threshold_sweep"]["best"]["threshold"] == pytest.approx(0.65)

    written = tmp_path / "out"
    full = json.loads((written / "metrics.json").read_text())
    assert [r["id"] for r in full["results"]] == ["q1", "q2", "q3", "q4", "q5"]
    assert full["results"][1]["best_span"] == "two Chinese engineers"
    for name in PLOTS:
        assert (written / name).read_bytes()[:8] == PNG_SIGNATURE
    assert not list(written.glob(".*tmp"))  # no temp files left behind


def test_run_human_summary_and_limit(tmp_path, capsys):
    from qa.config import Settings

    qfile = write_jsonl(tmp_path / "dev.jsonl", E2E_QUESTIONS)
    pipe = FakePipeline(e2e_answers())
    assert run(eval_args(tmp_path, qfile, "--limit", "2"), Settings(top_k=7), pipeline=pipe) == 0
    assert [k for _, k in pipe.asked] == [7, 7] and pipe.indexed is None
    text = capsys.readouterr().out
    assert "F1 (%)" in text and "report:" in text and str(tmp_path / "out" / "report.md") in text


def test_run_rejects_files_without_questions(tmp_path, capsys):
    from qa.config import Settings

    qfile = tmp_path / "bad.jsonl"
    qfile.write_text("{oops\n", encoding="utf-8")
    assert run(eval_args(tmp_path, qfile), Settings(), pipeline=FakePipeline()) == 2
    assert "no usable questions" in capsys.readouterr().err
    assert run(eval_args(tmp_path, tmp_path / "missing.jsonl"), Settings(), pipeline=FakePipeline()) == 2


# --- reader-only runner -----------------------------------------------------------


def test_reader_only_reproduces_training_scores(tmp_path, capsys):
    from qa.config import Settings

    qfile = tmp_path / "dev.json"
    qfile.write_text(json.dumps(SQUAD), encoding="utf-8")
    spans = {"Where were they killed?": ("Karachi airport", 5.0),  # margin 5 > 2: answered, EM 0 F1 0.8
             "Who was the spokesperson?": ("Two Chinese engineers", 1.0)}  # margin 1 <= 2: refused, right
    reader = FakeReader(spans, threshold=2.0)
    assert run(eval_args(tmp_path, qfile, "--reader-only", "--json"), Settings(),
               pipeline=FakePipeline(reader=reader)) == 0
    out = json.loads(capsys.readouterr().out)
    assert reader.loaded and out["mode"] == "reader_only"
    # What training computes on the same examples:
    examples = [SquadExample(id="s1", question="Where were they killed?", context=SQUAD["data"][0]["paragraphs"][0]
                             ["context"], answers=["near Karachi airport"]),
                SquadExample(id="s2", question="Who was the spokesperson?", context=SQUAD["data"][0]["paragraphs"][0]
                             ["context"])]
    texts, margins = predict_squad(reader, examples)
    official = evaluate_at(texts, margins, {e.id: e.answers for e in examples}, 2.0)
    for key, value in official.items():
        assert out["answers"][key] == pytest.approx(value)
    assert out["answers"]["f1"] == pytest.approx(90.0)  # (0.8 + 1) / 2
    sweep = out["threshold_sweep"]
    assert sweep["scale"] == "margin" and sweep["current"]["f1"] == pytest.approx(90.0)
    assert sweep["best"]["f1"] == pytest.approx(90.0)  # answer s1 (margin 5), refuse s2 (margin 1)
    assert 1.0 < sweep["best"]["threshold"] < 5.0
    assert out["reader"]["null_threshold"] == 2.0
    assert "latency_ms" not in out and "retrieval" not in out
    files = {p.name for p in (tmp_path / "out").iterdir()}
    assert {"metrics.json", "report.md", "calibration.png", "threshold_sweep.png",
            "f1_by_question_word.png"} <= files


def test_reader_only_needs_contexts(tmp_path, capsys):
    from qa.config import Settings

    qfile = write_jsonl(tmp_path / "dev.jsonl", E2E_QUESTIONS)
    assert run(eval_args(tmp_path, qfile, "--reader-only"), Settings(), pipeline=FakePipeline()) == 2
    assert "gold contexts" in capsys.readouterr().err


# --- report writer ----------------------------------------------------------------


def small_summary_and_results():
    from qa.evaluation.evaluate import summarize

    results = run_end_to_end(FakePipeline(e2e_answers()), E2E_QUESTIONS, k=5, progress=False)
    summary = summarize(results, mode="end_to_end", k=5, sweep=confidence_sweep(results, 0.5),
                        extra={"questions_file": "dev.jsonl", "k": 5})
    return summary, results


def test_report_writer(tmp_path):
    summary, results = small_summary_and_results()
    summary["bad_records"] = [{"line": 7, "error": "missing or empty 'question'"}]
    written = write_report(tmp_path / "r", summary, results)
    assert set(written) == {"metrics.json", "report.md", *PLOTS}

    md = (tmp_path / "r" / "report.md").read_text(encoding="utf-8")
    assert "| Metric | Value |" in md and "| F1 (%) | 60.0 |" in md
    assert "Recall@5 gold article (%) | 75.0 (n=4)" in md
    assert "## Worst misses (2 shown, worst F1 first)" in md
    # q5 (answered the unanswerable, conf 0.6) outranks q2 (refused, conf 0.4): both F1 0, more confident first.
    assert md.index("Why did it happen?") < md.index("Who was targeted in the bombing?")
    assert "(refused; best span: two Chinese engineers)" in md
    assert "| 7 | missing or empty 'question' |" in md
    assert "| how many | 1 |" in md
    assert "![calibration](calibration.png)" in md

    full = json.loads((tmp_path / "r" / "metrics.json").read_text(encoding="utf-8"))
    assert full["answers"] == pytest.approx(summary["answers"])
    again = [EvalResult(**r) for r in full["results"]]
    assert again == results  # per-question records round-trip

    for name in PLOTS:
        data = (tmp_path / "r" / name).read_bytes()
        assert data[:8] == PNG_SIGNATURE and len(data) > 10_000, name


def test_markdown_escapes_table_cells():
    summary, results = small_summary_and_results()
    results[1].question = "Who | was\ntargeted?"
    md = render_markdown(summary, results, plots=[])
    assert "Who \\| was targeted?" in md and "## Plots" not in md


def test_json_has_no_infinities(tmp_path):
    summary, results = small_summary_and_results()
    results[0].margin = -math.inf
    write_report(tmp_path, summary, results)
    text = (tmp_path / "metrics.json").read_text()
    assert "Infinity" not in text and "NaN" not in text
    assert json.loads(text)["results"][0]["margin"] is None


def test_reader_only_leaves_the_end_to_end_calibrator_out(tmp_path, capsys, reader_path):
    """The shipped calibration.json scores retrieval features too; over a gold context alone it would
    refuse everything, so reader-only decides without it (as the dev scores in the README do)."""
    from qa.answer.reader.read import Reader
    from qa.config import Settings

    assert (reader_path / "calibration.json").exists()
    qfile = tmp_path / "dev.json"
    qfile.write_text(json.dumps(SQUAD), encoding="utf-8")
    reader = Reader(reader_path, runtime="onnx")
    assert run(eval_args(tmp_path, qfile, "--reader-only", "--json"), Settings(),
               pipeline=FakePipeline(reader=reader)) == 0
    out = json.loads(capsys.readouterr().out)
    assert reader.calibrator is None
    assert out["answers"]["HasAns_f1"] > 50.0  # "Where were they killed?" is answered from its context
