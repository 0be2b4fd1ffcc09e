"""What each rule of the decision is worth on development data: one reading, decided with and without it.

    python bench/finding_rules.py [--reader models/reader] [--cache DIR] [--limit N] [--further BAR]

The development sets are read once end to end, as ``qa train-calibrator`` reads them
(``qa.evaluation.devreads``: SQuAD dev over an index of its articles, the NewsQA news dev fifth over an
index of all stories, and those questions over an index without their story). Then ``qa.answer.decide``
decides every question with the reader's shipped calibration and cut-offs, with all rules on and with
one rule switched off at a time (``qa.answer.rules.findings.DecisionRules``). Printed per set: the share of
questions answered, the share of answers that are right (span F1 >= 0.5; an answer to an unanswerable
question is wrong), the share of questions whose first span shown (the answer, or a refusal's most
confident possible answer) is right, F1 (a refusal scores 1 on an unanswerable question), the further findings shown
and the share of them that match a gold answer, and how many questions' first answer changed.
A rule earns its place when it is worth something on at least one set and costs little on the other.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

RULES = ("polar", "denial", "demands", "same_topic", "further")  # DecisionRules switches


@dataclasses.dataclass
class Line:
    """One set decided under one set of rules."""

    answered: float
    right: float | None
    first_right: float  # the first span shown, answer or possible answer, is right
    f1: float
    further: int
    further_right: float | None
    firsts: dict[str, str]  # question id -> first answer shown ("" when refused)


def decide_set(reads, rules) -> Line:
    from qa.answer.decide import decide
    from qa.evaluation.squad import max_over_golds

    answered = right = further = further_right = first_right = 0
    f1s, firsts = [], {}
    for r in reads:
        ans = decide(r.question, r.passages, r.result, rules)
        spans = ans.answered and ans.kind == "answer"

        def ok(text: str) -> bool:
            return bool(r.answers) and max_over_golds(text, r.answers)[1] >= 0.5

        firsts[r.id] = ans.text if spans else ""
        shown = ans.findings if spans else ans.possible
        first_right += bool(shown) and ans.kind == "answer" and ok(shown[0].text)
        if spans:
            answered += 1
            right += ok(ans.text)
            further += len(ans.findings) - 1
            further_right += sum(ok(f.text) for f in ans.findings[1:])
        f1s.append((max_over_golds(ans.text, r.answers)[1] if spans else 0.0) if r.answers else float(not spans))
    n = len(reads)
    return Line(answered / n if n else 0.0, right / answered if answered else None, first_right / max(n, 1),
                100 * sum(f1s) / max(n, 1),
                further, further_right / further if further else None, firsts)


def main(argv: list[str] | None = None) -> int:
    from qa.answer.rules.findings import DecisionRules
    from qa.answer.reader.read import Reader
    from qa.config import Settings
    from qa.evaluation.devreads import DEV_SETS, read_sets, set_paths

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--reader", default=str(ROOT / "models" / "reader"))
    p.add_argument("--cache", type=Path, default=None, help="keep the reads here for the next run (outside the repo)")
    p.add_argument("--limit", type=int, default=0, help="only the first N questions of each set")
    p.add_argument("--sets", default=",".join(DEV_SETS), help=f"comma-separated, of {', '.join(DEV_SETS)}")
    p.add_argument("--further", type=float, default=None,
                   help="measure with this further-finding bar instead of the reader's (the rules about further "
                        "findings do nothing when the reader's bar lets none through)")
    args = p.parse_args(argv)
    settings = Settings.from_env()
    paths = set_paths(settings.data_dir)
    names = [n for n in args.sets.split(",") if n]
    missing = [n for n in names if n not in paths or not paths[n].exists()]
    if missing:
        print(f"development data not present for {', '.join(missing)} under {settings.data_dir}: skipped")
        names = [n for n in names if n not in missing]
    reader = Reader(args.reader)
    reader.load()
    if reader.calibrator is None:
        print(f"{args.reader} has no calibration: the rules are measured on its own, uncalibrated, confidence")
    sets = read_sets(names, paths, settings, args.reader, cache=args.cache, limit=args.limit)
    print(f"reader {args.reader}; cut-offs {reader.calibrator.cutoffs if reader.calibrator else 'uncalibrated'}")
    print(f"{'rules':<20}{'set':<19}{'answered':>9}{'right':>8}{'1st shown':>10}{'F1':>8}{'further':>9}{'f. right':>9}{'changed':>9}")
    calibrator = reader.calibrator
    if calibrator is not None and args.further is not None:
        calibrator = dataclasses.replace(calibrator, further_cutoff=args.further)
        print(f"further-finding bar set to {args.further}")
    for s in sets:
        reads = [dataclasses.replace(r, result=dataclasses.replace(r.result, calibrator=calibrator,
                                                                    verifier=reader.verifier)) for r in s.reads]
        shipped = decide_set(reads, DecisionRules())
        print(_row("all on", s.name, shipped, None))
        for rule in RULES:
            without = decide_set(reads, dataclasses.replace(DecisionRules(), **{rule: False}))
            print(_row(f"without {rule}", s.name, without, shipped))
    return 0


def _row(label: str, name: str, line: Line, base: Line | None) -> str:
    changed = "" if base is None else str(sum(base.firsts[k] != line.firsts[k] for k in base.firsts))
    pct = lambda v: "-" if v is None else f"{100 * v:.1f}%"  # noqa: E731
    return (f"{label:<20}{name:<19}{pct(line.answered):>9}{pct(line.right):>8}{pct(line.first_right):>10}{line.f1:>8.2f}{line.further:>9}"
            f"{pct(line.further_right):>9}{changed:>9}")


if __name__ == "__main__":
    raise SystemExit(main())
