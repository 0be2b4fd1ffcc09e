"""Follow-ups end to end on QuAC: answer F1 of the questions as asked vs as the conversation rewrites them.

    python bench/followups_quac.py                       # all 229 conversations (687 questions)
    python bench/followups_quac.py --limit 20 --out /tmp/fu-quac

Data: ``../shared/data/conversation/quac_dev_part_shared.jsonl.gz`` (229 QuAC dev conversations, the
section's passage and its first 3 questions each; ``answers_joined`` holds each question's gold
answers run together, "CANNOTANSWER" for none). Every passage is written as one article into a
temporary folder and indexed into a temporary index (nothing under corpus/ or index/ is touched);
then each conversation is asked twice through ``qa.answer.pipeline.Pipeline.ask``, the code path of
the CLI and the chat:

* ``asked``: each question on its own, as typed;
* ``conversation``: the questions in order with one ``Conversation``, so a follow-up is rewritten
  (``Answer.resolved_question``) and retrieved with the previous turn's terms, as in the chat.

The articles are titled "QuAC passage N", not a name, so pronouns can only stand for people the
answers named (QuAC gives no article titles here). Reports answer F1 (SQuAD's, against the joined
gold answer; an unanswerable question scores 1 only when refused) for all questions and for the
follow-ups (questions 2 and 3), how many were rewritten, and per-question rows in ``--out``.
Heavy: indexing ~230 passages and ~1,400 questions take several minutes on 2 cores.
"""

from __future__ import annotations

import argparse
import ast
import gzip
import json
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script: make `qa` importable
    sys.path.insert(0, str(ROOT))

DATA = ROOT.parent / "shared" / "data" / "conversation" / "quac_dev_part_shared.jsonl.gz"
NO_ANSWER = "CANNOTANSWER"


@dataclass(frozen=True)
class QuacConversation:
    source_line: str
    passage: str
    questions: list[str]
    answers: list[str]  # one joined gold answer per question; "" when unanswerable


@dataclass
class Row:
    """One question, answered both ways."""

    conversation: str
    turn: int
    question: str
    gold: str
    asked_answer: str
    asked_f1: float
    rewritten: str  # the question the conversation answered
    conversation_answer: str
    conversation_f1: float


def _listed(value) -> list[str]:
    """A list, or a Python-literal list in a string (both occur in the file)."""
    items = ast.literal_eval(value) if isinstance(value, str) else value
    return [str(x) for x in items]


def load(path: Path, limit: int | None = None) -> list[QuacConversation]:
    out = []
    with gzip.open(path, "rt", encoding="utf-8") as f:
        for line in f:
            if not line.strip():
                continue
            r = json.loads(line)
            # annotators' answers run together; "CANNOTANSWER" is one who found none
            answers = [" ".join(a.replace(NO_ANSWER, " ").split()) for a in _listed(r["answers_joined"])]
            out.append(QuacConversation(str(r["source_line"]), r["passage"], _listed(r["questions"]), answers))
            if limit and len(out) >= limit:
                break
    return out


def answer_f1(prediction: str, answered: bool, gold: str) -> float:
    from qa.evaluation.squad import f1_score

    return f1_score(prediction if answered else "", gold)


def write_corpus(convs: list[QuacConversation], folder: Path) -> Path:
    path = folder / "quac_passages.jsonl"
    with open(path, "w", encoding="utf-8") as f:
        for c in convs:
            f.write(json.dumps({"id": f"quac-{c.source_line}", "title": f"QuAC passage {c.source_line}",
                                "text": c.passage}, ensure_ascii=False) + "\n")
    return path


def run(convs: list[QuacConversation], work: Path, k: int | None) -> list[Row]:
    from qa.answer.followups.conversation import Conversation
    from qa.answer.pipeline import Pipeline
    from qa.config import Settings

    corpus = work / "corpus"
    corpus.mkdir()
    write_corpus(convs, corpus)
    settings = Settings.from_env().with_overrides(corpus=(corpus,), index_dir=work / "index")
    pipe = Pipeline(settings)
    print(pipe.index([corpus], progress=True).summary(), file=sys.stderr)
    pipe.warm_up()
    rows = []
    for n, c in enumerate(convs, 1):
        conv = Conversation()
        for turn, (question, gold) in enumerate(zip(c.questions, c.answers), 1):
            alone = pipe.ask(question, k=k)
            followed = pipe.ask(question, k=k, conversation=conv)
            rows.append(Row(c.source_line, turn, question, gold, alone.text if alone.answered else "",
                            answer_f1(alone.text, alone.answered, gold), followed.resolved_question,
                            followed.text if followed.answered else "",
                            answer_f1(followed.text, followed.answered, gold)))
        if n % 20 == 0:
            print(f"{n}/{len(convs)} conversations", file=sys.stderr, flush=True)
    return rows


def summary(rows: list[Row]) -> dict:
    def part(sel: list[Row]) -> dict:
        n = len(sel)
        return {
            "questions": n,
            "asked_f1": 100.0 * sum(r.asked_f1 for r in sel) / n if n else None,
            "conversation_f1": 100.0 * sum(r.conversation_f1 for r in sel) / n if n else None,
            "rewritten": sum(" ".join(r.rewritten.split()) != " ".join(r.question.split()) for r in sel),
            "better": sum(r.conversation_f1 > r.asked_f1 for r in sel),
            "worse": sum(r.conversation_f1 < r.asked_f1 for r in sel),
        }

    return {"all": part(rows), "follow_ups": part([r for r in rows if r.turn > 1])}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=Path, default=DATA, help=f"QuAC part (default {DATA})")
    ap.add_argument("--limit", type=int, default=None, help="only the first N conversations")
    ap.add_argument("--k", type=int, default=None, help="passages read per question (default: settings)")
    ap.add_argument("--out", type=Path, default=None, help="folder for summary.json and rows.jsonl")
    args = ap.parse_args(argv)
    if not args.data.exists():
        print(f"no QuAC data at {args.data}", file=sys.stderr)
        return 2
    convs = load(args.data, args.limit)
    started = time.time()
    with tempfile.TemporaryDirectory(prefix="qa-followups-quac-") as tmp:
        rows = run(convs, Path(tmp), args.k)
    result = {"conversations": len(convs), "seconds": time.time() - started, **summary(rows)}
    print(json.dumps(result, indent=2))
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "summary.json").write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
        with open(args.out / "rows.jsonl", "w", encoding="utf-8") as f:
            for r in rows:
                f.write(json.dumps(asdict(r), ensure_ascii=False) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
