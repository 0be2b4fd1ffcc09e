"""What each finding rule is worth on development data: one reading, the decision taken with and without it.

    python bench/finding_rules.py [--reader models/reader] [--runtime torch] [--limit N]
    python bench/finding_rules.py --end-to-end [--limit N]     # the rules that need several articles
    python bench/finding_rules.py --end-to-end --reader A --reader B --margins 2,3,4,6,inf

The reader reads every question of each set over its gold context once (``qa eval --reader-only``
does the same); then ``qa.answer.decide`` decides with the shipped rules and with one rule turned
off at a time, and the official SQuAD 2.0 metrics of both are printed side by side with the number
of questions whose answer changed. A rule earns its place when the number with it is not worse.

Sets: ``../shared/data/squad/dev.json`` and the NewsQA news dev fifth
(``../shared/data/qa_train/newsqa_train.json.gz``, held out from training).

``--end-to-end``: rules about findings from further articles (``same_topic``) cannot be seen over one
gold context. Each set's articles are indexed in a temporary folder (all of the file's articles,
as ``qa train-calibrator`` does), each question is retrieved and read once, and the decision is taken
with and without each rule. Printed: answer F1 (the first finding), the findings shown, and how many
come from an article other than the question's own, and how many of those still match a gold answer;
then how many further findings (all but a question's first) each bar on the confidence shown would
keep, and their gold-match share.

``--margins``: the further-finding bar ``FindingRules.relative_margin`` is in reader logits, so it
depends on how peaked a reader's scores are. For each value, printed per reader: the further findings
shown (all but the first of a question) and how many of them match a gold answer (F1 >= 0.5). Answer
F1 moves only where the best span fails the calibrated cut-off and a further one, admitted by a wider
bar, clears it and becomes the answer. Several ``--reader`` read the same retrieval.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

RULES = {"demands": "drop_demands"}  # rule name -> FindingRules field that turns it off


def main(argv: list[str] | None = None) -> int:
    from qa.answer.decide import decide
    from qa.answer.findings import FindingRules
    from qa.answer.polar import is_polar
    from qa.answer.read import Reader
    from qa.evaluation.evaluate import gold_passage
    from qa.evaluation.squad import squad_metrics

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--reader", action="append", default=None,
                   help="a reader folder (repeat to compare readers over one retrieval; default models/reader)")
    p.add_argument("--runtime", default="torch")
    p.add_argument("--limit", type=int, default=0)
    p.add_argument("--end-to-end", action="store_true", help="retrieve over an index of each set's articles")
    p.add_argument("--only", choices=("squad", "news"), default=None, help="one of the two sets")
    p.add_argument("--margins", default="", help="end to end: relative_margin values to sweep, e.g. 2,3,4,6,inf")
    args = p.parse_args(argv)
    args.readers = args.reader or [str(ROOT / "models" / "reader")]
    args.reader = args.readers[0]
    if args.end_to_end:
        return end_to_end(args)
    reader = Reader(args.reader, runtime=args.runtime)
    reader.load()
    reader.calibrator = None  # end to end only: its features need retrieval (see qa.evaluation.evaluate)
    for name, path, questions in dev_sets(args):
        reads = []
        for g in range(0, len(questions), 64):
            chunk = questions[g : g + 64]
            reads.extend(reader.read_many([(q.question, [q.context or ""]) for q in chunk]))
        gold = {q.id: list(q.answers) for q in questions}

        def predictions(rules: FindingRules) -> dict[str, str]:
            out = {}
            for q, r in zip(questions, reads):
                ans = decide(q.question, [gold_passage(q)], None if is_polar(q.question) else r, rules)
                out[q.id] = ans.text if ans.answered else ""
            return out

        shipped = predictions(FindingRules())
        base = squad_metrics(shipped, gold)
        print(f"{name} ({len(questions)} questions), shipped rules: " + _fmt(base))
        for rule, flag in RULES.items():
            without = predictions(dataclasses.replace(FindingRules(), **{flag: False}))
            m = squad_metrics(without, gold)
            changed = sum(shipped[k] != without[k] for k in shipped)
            print(f"  without {rule:<10} {_fmt(m)}  ({changed} answers differ; rule worth "
                  f"{base['f1'] - m['f1']:+.2f} F1)")
    return 0


def dev_sets(args: argparse.Namespace):
    """(name, file, questions) of each development set present (``--only`` one, ``--limit`` N each)."""
    from qa.evaluation.evaluate import held_out_only, load_questions

    data = ROOT.parent / "shared" / "data"
    sets = [("squad dev", data / "squad" / "dev.json", False),
            ("news dev", data / "qa_train" / "newsqa_train.json.gz", True)]
    for name, path, held in sets:
        if getattr(args, "only", None) and not name.startswith(args.only):
            continue
        if not path.exists():
            print(f"{name}: {path} not present, skipped")
            continue
        qset = load_questions(path)
        questions = (held_out_only(qset) if held else qset).questions
        yield name, path, questions[: args.limit] if args.limit else questions


E2E_RULES = {"same_topic": "same_topic", "demands": "drop_demands"}


def end_to_end(args: argparse.Namespace) -> int:
    import tempfile

    from qa.answer.pipeline import Pipeline
    from qa.answer.polar import is_polar
    from qa.answer.read import Reader
    from qa.config import Settings
    from qa.evaluation.evaluate import write_context_corpus

    margins = [float(m) for m in args.margins.split(",") if m.strip()]
    for name, path, questions in dev_sets(args):
        with tempfile.TemporaryDirectory(prefix="qa-rules-") as tmp:
            articles = Path(tmp) / "articles"
            n = write_context_corpus(path, articles)
            s = Settings.from_env({}).with_overrides(corpus=(articles,), index_dir=Path(tmp) / "index",
                                                     uploads=Path(tmp) / "uploads", reader_model=Path(args.reader),
                                                     reader_runtime=args.runtime)
            pipe = Pipeline(s)
            pipe.index(progress=False)
            retrieved = [pipe.retriever.retrieve(q.question, top_k=s.top_k) for q in questions]
        for path_ in args.readers:
            reader = Reader(path_, null_threshold=s.null_threshold, runtime=args.runtime)
            reader.load()
            reads = [(passages, None if is_polar(q.question) else reader.read(q.question, [p.chunk.text for p in passages]))
                     for q, passages in zip(questions, retrieved)]
            print(f"reader {path_}:")
            report_end_to_end(name, n, questions, reads, margins)
    return 0


def report_end_to_end(name: str, n: int, questions: list, reads: list, margins: list[float]) -> None:
    from qa.answer.decide import decide
    from qa.answer.findings import FindingRules
    from qa.evaluation.squad import max_over_golds, squad_metrics

    gold = {q.id: list(q.answers) for q in questions}

    def decided(rules: FindingRules) -> tuple[dict, dict]:
        preds = {}
        counts = {"findings": 0, "other_article": 0, "other_article_right": 0, "further_scored": []}
        for q, (passages, result) in zip(questions, reads):
            ans = decide(q.question, passages, result, rules)
            preds[q.id] = ans.text if ans.answered else ""
            for i, f in enumerate(ans.findings if ans.kind != "evidence" else []):
                counts["findings"] += 1
                right = bool(q.answers) and max_over_golds(f.text, q.answers)[1] >= 0.5
                if i:  # (confidence shown, matches a gold answer) of each finding after the first
                    counts["further_scored"].append((f.score, right))
                if " ".join(f.citation.title.split()) != " ".join((q.article_title or "").split()):
                    counts["other_article"] += 1
                    counts["other_article_right"] += right
        return preds, counts

    shipped, c = decided(FindingRules())
    print(f"{name} end to end ({len(questions)} questions over {n} articles), shipped rules: "
          f"{_fmt(squad_metrics(shipped, gold))}; {_counts(c)}")
    print(f"  further findings by the confidence shown: {_by_confidence(c['further_scored'])}")
    for rule, flag in E2E_RULES.items():
        without, cw = decided(dataclasses.replace(FindingRules(), **{flag: False}))
        changed = sum(shipped[k] != without[k] for k in shipped)
        print(f"  without {rule:<10} {_fmt(squad_metrics(without, gold))}; {_counts(cw)} "
              f"({changed} answers differ)")
    for m in margins:
        preds, cm = decided(dataclasses.replace(FindingRules(), relative_margin=m))
        further = len(cm["further_scored"])
        right = sum(r for _, r in cm["further_scored"])
        share = right / further if further else float("nan")
        print(f"  relative_margin {m:>4}: F1 {squad_metrics(preds, gold)['f1']:.2f}; {further} further "
              f"findings, {right} match a gold answer ({share:.1%}); {_counts(cm)}")


CONFIDENCE_BARS = (0.0, 0.05, 0.1, 0.15, 0.2, 0.3, 0.5)


def _by_confidence(scored: list[tuple[float, bool]]) -> str:
    """How many further findings a higher bar on the confidence shown would keep, and their gold-match share."""
    parts = []
    for bar in CONFIDENCE_BARS:
        kept = [right for score, right in scored if score >= bar]
        share = sum(kept) / len(kept) if kept else float("nan")
        parts.append(f">={bar:.2f}: {len(kept)} ({sum(kept)} right, {share:.1%})")
    return "; ".join(parts)


def _counts(c: dict) -> str:
    return (f"{c['findings']} findings, {c['other_article']} from another article than the question's "
            f"({c['other_article_right']} of them match a gold answer)")


def _fmt(m: dict) -> str:
    return (f"EM {m['exact']:.2f} F1 {m['f1']:.2f} HasAns F1 {m.get('HasAns_f1', float('nan')):.2f} "
            f"NoAns {m.get('NoAns_accuracy', float('nan')):.1f}%")


if __name__ == "__main__":
    raise SystemExit(main())
