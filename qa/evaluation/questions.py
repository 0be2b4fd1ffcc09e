"""The question files ``qa eval`` reads: JSONL records or SQuAD JSON, checked line by line.

A JSONL line that cannot be used becomes a ``BadRecord`` (reported with its line, never fatal);
a file that cannot be read at all is one ``qa eval: …`` line on stderr.
"""

from __future__ import annotations

import json
import logging
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, TypeVar

from qa.evaluation.metrics import is_answerable
from qa.evaluation.squad import load_squad

log = logging.getLogger("qa.evaluation.evaluate")  # qa eval's logger, wherever in it the warning comes from
T = TypeVar("T")


@dataclass
class EvalQuestion:
    """One question to ask, with what counts as a right answer and where it is written."""

    id: str
    question: str
    answers: list[str]  # acceptable answers; empty: unanswerable
    article_id: str | None = None
    article_title: str | None = None
    context: str | None = None  # gold passage, needed by reader-only mode
    line: int | None = None  # where it came from in a JSONL file

    @property
    def answerable(self) -> bool:
        return is_answerable(self.answers)


@dataclass
class BadRecord:
    """A question-file line that could not be used; reported, never fatal."""

    line: int
    error: str
    text: str = ""  # the start of the offending line


@dataclass
class QuestionSet:
    questions: list[EvalQuestion]
    bad: list[BadRecord] = field(default_factory=list)
    format: str = "jsonl"  # or "squad"


def load_questions(path: str | Path) -> QuestionSet:
    """Read a question file, telling SQuAD JSON (an object with "data") from JSONL by content."""
    path = Path(path)
    if path.name.endswith(".json.gz"):
        return _from_squad(path)
    text = path.read_text(encoding="utf-8-sig")
    if text.lstrip().startswith("{"):
        try:
            data = json.loads(text)
        except json.JSONDecodeError:
            data = None  # several objects: JSONL
        if isinstance(data, dict) and "data" in data:
            return _from_squad(path)
    return _from_jsonl(path, text)


def read_or_report(load: Callable[[Path], T], path: Path) -> T | None:
    """``load(path)``, or None after one ``qa eval: …`` line on stderr when the file cannot be used."""
    try:
        return load(path)
    except (OSError, ValueError) as e:
        print(f"qa eval: {e}", file=sys.stderr)
        return None


def held_out_only(qset: QuestionSet) -> QuestionSet:
    """The questions of the articles a training mixture keeps out (qa.training.mixture.is_held_out):
    the NewsQA news dev set is ``newsqa_train.json.gz`` with ``--held-out``."""
    from qa.training.mixture import is_held_out

    kept = [q for q in qset.questions if q.article_title and is_held_out(q.article_title)]
    return QuestionSet(kept, qset.bad, qset.format)


def _from_squad(path: Path) -> QuestionSet:
    try:
        examples = load_squad(path)
    except (KeyError, TypeError, ValueError) as e:
        raise ValueError(f"{path}: malformed SQuAD file: {e!r}") from None
    questions = [
        EvalQuestion(id=e.id, question=e.question, answers=list(e.answers), article_title=e.title or None,
                     context=e.context)
        for e in examples
    ]
    return QuestionSet(questions, [], "squad")


def _from_jsonl(path: Path, text: str) -> QuestionSet:
    questions: list[EvalQuestion] = []
    bad: list[BadRecord] = []
    first_line: dict[str, int] = {}
    for no, raw in enumerate(text.splitlines(), 1):
        if not raw.strip():
            continue
        try:
            q = parse_record(json.loads(raw), no)
            if q.id in first_line:
                raise ValueError(f"duplicate id {q.id!r} (first on line {first_line[q.id]})")
        except json.JSONDecodeError as e:
            bad.append(BadRecord(no, f"invalid JSON: {e.msg} (column {e.colno})", raw[:200]))
        except ValueError as e:
            bad.append(BadRecord(no, str(e), raw[:200]))
        else:
            first_line[q.id] = no
            questions.append(q)
    for b in bad:
        log.warning("%s:%d: skipped: %s", path, b.line, b.error)
    return QuestionSet(questions, bad, "jsonl")


def parse_record(obj: Any, line: int) -> EvalQuestion:
    """Validate one JSONL record; raises ValueError saying what is wrong."""
    if not isinstance(obj, dict):
        raise ValueError(f"expected a JSON object, got {type(obj).__name__}")
    question = obj.get("question")
    if not isinstance(question, str) or not question.strip():
        raise ValueError("missing or empty 'question'")
    if "answers" not in obj:
        raise ValueError("missing 'answers' (use [] for an unanswerable question)")
    answers = obj["answers"]
    if not isinstance(answers, list) or not all(isinstance(a, str) for a in answers):
        raise ValueError("'answers' must be a list of strings")
    flag = obj.get("answerable")
    if isinstance(flag, bool) and flag != is_answerable(answers):
        raise ValueError(f"'answerable' is {str(flag).lower()} but 'answers' is {answers!r}")
    for key in ("article_id", "article_title", "context"):
        if obj.get(key) is not None and not isinstance(obj[key], str):
            raise ValueError(f"'{key}' must be a string")
    qid = obj.get("id")
    if qid is not None and not isinstance(qid, (str, int)):
        raise ValueError("'id' must be a string or an integer")
    return EvalQuestion(
        id=str(qid) if qid is not None else f"line-{line}",
        question=question,
        answers=list(answers),
        article_id=obj.get("article_id") or None,
        article_title=obj.get("article_title") or None,
        context=obj.get("context"),
        line=line,
    )
