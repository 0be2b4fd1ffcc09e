"""``qa eval --followups``: how well follow-up questions are resolved, measured on CANARD.

CANARD (Elgohary et al., 2019) gives, for questions of QuAC conversations, a human rewrite that
stands alone. Each conversation is fed turn by turn to the product's ``Conversation``: the
article's title (and section) open it, as the title of the cited article does in the chat, and
the earlier questions and answers of ``History`` are its earlier turns ("I don't know." answers
are refused turns). Three systems are scored in the same run against the human rewrites:

* ``asked``: the question as asked;
* ``title``: title substitution, the first pronoun replaced by the article's title (parenthesis
  dropped; "his"/"its"/"their"/"hers" as "Title's"), the baseline a resolver has to beat;
* ``resolver``: ``qa.answer.followups.conversation.Conversation.resolve``.

Numbers: corpus BLEU (sacreBLEU, default settings, one reference), mean token F1 (SQuAD's
normalisation) and ``worse``: the share of questions whose rewrite has a lower token F1 against
the human rewrite than the question as asked. The resolver's rules were developed on the first
``DEVELOPMENT_CONVERSATIONS`` conversations of canard_dev.json.gz (file order, 1,707 questions);
the report gives that part, the held-out rest and the whole file.
"""

from __future__ import annotations

import argparse
import gzip
import json
import re
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Sequence

from qa.answer.followups.conversation import Conversation
from qa.evaluation.squad import f1_score
from qa.types import Answer, Citation
from qa.util.atomic import atomic_write_text

DEVELOPMENT_CONVERSATIONS = 245  # of canard_dev's 490: the rules were tuned on these, never on the rest
NO_ANSWER = frozenset({"i don't know.", "cannotanswer"})  # QuAC's unanswerable turns, as CANARD writes them
SYSTEMS = ("asked", "title", "resolver")
_PRONOUN = re.compile(r"\b(he|she|it|they|him|her|them|his|its|their|hers|theirs)\b", re.IGNORECASE)
_OWNER = frozenset({"his", "its", "their", "hers", "theirs"})
_PARENS = re.compile(r"\s*\([^)]*\)")


@dataclass(frozen=True)
class CanardRecord:
    """One CANARD question with its conversation so far."""

    dialog_id: str
    question_no: int
    title: str
    section: str
    turns: tuple[tuple[str, str], ...]  # earlier (question, answer) pairs, in order
    question: str
    rewrite: str  # the human's stand-alone rewrite


@dataclass
class SystemScore:
    """One system's numbers against the human rewrites."""

    bleu: float
    token_f1: float  # mean, in percent
    rewritten: int  # questions changed from the question as asked
    worse: int  # questions whose token F1 is below the question as asked
    worse_share: float  # worse / questions, in percent


@dataclass
class FollowupReport:
    """The three systems on one set of questions."""

    questions: int
    conversations: int
    systems: dict[str, SystemScore] = field(default_factory=dict)


def load_canard(path: str | Path) -> list[CanardRecord]:
    """CANARD's JSON (a list of records; ``.gz`` read as gzip) as records, in file order."""
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8") as f:
        data = json.load(f)
    if not isinstance(data, list):
        raise ValueError(f"{path}: not CANARD's format (expected a JSON list of records)")
    out = []
    for i, r in enumerate(data):
        try:
            history = [str(h) for h in r["History"]]
            pairs = history[2:]
            out.append(CanardRecord(
                dialog_id=str(r.get("QuAC_dialog_id", i)), question_no=int(r.get("Question_no", 0)),
                title=history[0] if history else "", section=history[1] if len(history) > 1 else "",
                turns=tuple(zip(pairs[0::2], pairs[1::2])), question=str(r["Question"]), rewrite=str(r["Rewrite"]),
            ))
        except (KeyError, TypeError, ValueError) as e:
            raise ValueError(f"{path}: record {i} is not a CANARD record ({type(e).__name__}: {e})") from None
    return out


def _turn_answer(question: str, text: str, title: str) -> Answer:
    """A turn's answer as the pipeline would give it: cites the conversation's article unless refused."""
    if " ".join(text.lower().split()) in NO_ANSWER or not text.strip():
        return Answer(question=question, text="", score=0.0, answered=False)
    cite = Citation(article_id=title, title=title, date=None, source="", url="", passage=text, passage_start=0)
    return Answer(question=question, text=text, score=1.0, answered=True, citations=[cite])


def resolve_record(record: CanardRecord) -> str:
    """The product's rewrite of a record's question, its conversation fed turn by turn."""
    conv = Conversation(topic=record.title, section=record.section)
    for question, answer in record.turns:
        conv.remember(question, conv.resolve(question), _turn_answer(question, answer, record.title))
    return conv.resolve(record.question).text


def title_substitution(question: str, title: str) -> str:
    """The baseline: the first pronoun replaced by the title (possessives as "Title's")."""
    name = _PARENS.sub("", title).strip()
    m = _PRONOUN.search(question)
    if not m or not name:
        return question
    rep = name + ("'s" if m.group(1).lower() in _OWNER else "")
    return question[: m.start()] + rep + question[m.end():]


def rewrites(records: Sequence[CanardRecord]) -> dict[str, list[str]]:
    """Each system's output for each record, in input order."""
    return {
        "asked": [r.question for r in records],
        "title": [title_substitution(r.question, r.title) for r in records],
        "resolver": [resolve_record(r) for r in records],
    }


def score(hypotheses: Sequence[str], asked: Sequence[str], references: Sequence[str]) -> SystemScore:
    """BLEU, mean token F1, and how often the output is worse than the question as asked."""
    import sacrebleu

    n = len(references)
    if not n:
        return SystemScore(0.0, 0.0, 0, 0, 0.0)
    bleu = sacrebleu.corpus_bleu(list(hypotheses), [list(references)]).score
    f1 = [f1_score(h, r) for h, r in zip(hypotheses, references)]
    f1_asked = [f1_score(a, r) for a, r in zip(asked, references)]
    worse = sum(f < g for f, g in zip(f1, f1_asked))
    rewritten = sum(" ".join(h.split()) != " ".join(a.split()) for h, a in zip(hypotheses, asked))
    return SystemScore(bleu, 100.0 * sum(f1) / n, rewritten, worse, 100.0 * worse / n)


def report(records: Sequence[CanardRecord], outputs: dict[str, list[str]]) -> FollowupReport:
    refs = [r.rewrite for r in records]
    asked = [r.question for r in records]
    out = FollowupReport(len(records), len({r.dialog_id for r in records}))
    for name in SYSTEMS:
        out.systems[name] = score(outputs[name], asked, refs)
    return out


def development_part(records: Sequence[CanardRecord]) -> list[bool]:
    """Whether each record is in the part the rules were developed on: the first conversations in file order."""
    seen: dict[str, int] = {}
    for r in records:
        seen.setdefault(r.dialog_id, len(seen))
    return [seen[r.dialog_id] < DEVELOPMENT_CONVERSATIONS for r in records]


def evaluate(records: Sequence[CanardRecord]) -> tuple[dict[str, FollowupReport], dict[str, list[str]]]:
    """Reports for the whole file, its development part and the held-out rest; and the outputs."""
    outputs = rewrites(records)
    parts = {"all": [True] * len(records)}
    dev = development_part(records)
    if any(dev) and not all(dev):
        parts["development"] = dev
        parts["held_out"] = [not x for x in dev]
    reports = {}
    for name, keep in parts.items():
        idx = [i for i, k in enumerate(keep) if k]
        reports[name] = report([records[i] for i in idx], {s: [o[i] for i in idx] for s, o in outputs.items()})
    return reports, outputs


def format_reports(reports: dict[str, FollowupReport]) -> str:
    lines = []
    for part, rep in reports.items():
        lines.append(f"{part}: {rep.questions:,} questions in {rep.conversations:,} conversations")
        lines.append(f"  {'system':<10} {'BLEU':>6} {'token F1':>9} {'rewritten':>10} {'worse than asked':>17}")
        for name, s in rep.systems.items():
            lines.append(f"  {name:<10} {s.bleu:6.2f} {s.token_f1:9.2f} {s.rewritten:10,} "
                         f"{s.worse:8,} ({s.worse_share:4.1f}%)")
    return "\n".join(lines)


def write_outputs(out_dir: Path, records: Sequence[CanardRecord], resolved: Sequence[str]) -> Path:
    """``followups.jsonl``: one {"question", "rewrite"} per record, in input order."""
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "followups.jsonl"
    lines = (json.dumps({"question": r.question, "rewrite": text}, ensure_ascii=False) + "\n"
             for r, text in zip(records, resolved))
    atomic_write_text(path, "".join(lines))
    return path


def run(args: argparse.Namespace, echo: Callable[[str], None] = print) -> int:
    """``qa eval --followups FILE [--out DIR] [--json]``."""
    from qa.evaluation.questions import read_or_report

    path = Path(args.followups)
    records = read_or_report(load_canard, path)
    if records is None:
        return 2
    if args.limit:
        records = records[: args.limit]
    if not records:
        print(f"qa eval: {path}: no questions", file=sys.stderr)
        return 2
    reports, outputs = evaluate(records)
    if args.out:
        written = write_outputs(Path(args.out), records, outputs["resolver"])
        if not args.json:
            echo(f"rewrites: {written}")
    if args.json:
        echo(json.dumps({"file": str(path), **{k: asdict(v) for k, v in reports.items()}}, indent=2))
    else:
        echo(format_reports(reports))
    return 0
