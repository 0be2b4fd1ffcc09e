"""What each finding rule is worth on development data: one reading, the decision taken with and without it.

    python bench/finding_rules.py [--reader models/reader] [--runtime torch] [--limit N]

The reader reads every question of each set over its gold context once (``qa eval --reader-only``
does the same); then ``qa.answer.decide`` decides with the shipped rules and with one rule turned
off at a time, and the official SQuAD 2.0 metrics of both are printed side by side with the number
of questions whose answer changed. A rule earns its place when the number with it is not worse.

Sets: ``../shared/data/squad/dev.json`` and the NewsQA news dev fifth
(``../shared/data/qa_train/newsqa_train.json.gz``, held out from training).
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
    from qa.evaluation.evaluate import gold_passage, held_out_only, load_questions
    from qa.evaluation.squad import squad_metrics

    data = ROOT.parent / "shared" / "data"
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--reader", default=str(ROOT / "models" / "reader"))
    p.add_argument("--runtime", default="torch")
    p.add_argument("--limit", type=int, default=0)
    args = p.parse_args(argv)
    reader = Reader(args.reader, runtime=args.runtime)
    sets = [("squad dev", data / "squad" / "dev.json", False),
            ("news dev", data / "qa_train" / "newsqa_train.json.gz", True)]
    for name, path, held in sets:
        if not path.exists():
            print(f"{name}: {path} not present, skipped")
            continue
        qset = load_questions(path)
        questions = (held_out_only(qset) if held else qset).questions
        questions = questions[: args.limit] if args.limit else questions
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


def _fmt(m: dict) -> str:
    return (f"EM {m['exact']:.2f} F1 {m['f1']:.2f} HasAns F1 {m.get('HasAns_f1', float('nan')):.2f} "
            f"NoAns {m.get('NoAns_accuracy', float('nan')):.1f}%")


if __name__ == "__main__":
    raise SystemExit(main())
