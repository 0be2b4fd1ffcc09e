"""Synthetic reader-training questions built from news articles by rule (cloze style).

No question-generation model is available offline, so questions are cut from
sentences: an answer span (a date, an amount, a number, a name) is taken out of
a sentence and replaced by a question word, and the sentence's paragraph (with
its neighbours) becomes the context. A share of questions is paired with
another passage of the same article that lacks the answer, as an unanswerable
example, because in the product the reader mostly sees retrieved passages that
are on topic but do not answer. Output is SQuAD 2.0 JSON, so ``qa train-reader
--extra-train`` reads it like ``train.json``.
"""

from __future__ import annotations

import argparse
import json
import logging
import random
import re
import sys
from dataclasses import dataclass
from pathlib import Path

from qa.text.sentences import split_sentences
from qa.types import Article
from qa.util.atomic import atomic_write_text

_MONTHS = ("January|February|March|April|May|June|July|August|September|October|November|December|"
           "Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec")
_DAYS = "Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday"
_DATE = re.compile(
    rf"\b(?:(?:on )?(?:{_DAYS})(?:,? \d{{1,2}} (?:{_MONTHS}))?|\d{{1,2}} (?:{_MONTHS})(?:,? \d{{4}})?|"
    rf"(?:{_MONTHS})\.? \d{{1,2}}(?:, \d{{4}})?|(?:{_MONTHS}) \d{{4}}|(?:19|20)\d\d)\b"
)
_AMOUNT = re.compile(
    r"(?:(?:US)?\$|£|€|Rs\.? ?|dollars |pounds |euros )\d[\d,]*(?:\.\d+)?(?: ?(?:bn|m|billion|million|trillion|crore|lakh)\b)?"
    r"|\b\d[\d,]*(?:\.\d+)? ?(?:bn|m|billion|million|trillion)? (?:dollars|pounds|euros|rupees)\b"
)
_PERCENT = re.compile(r"\b\d[\d,]*(?:\.\d+)?(?:%| per ?cent\b)")
_COUNT = re.compile(r"\b(\d[\d,]*(?:\.\d+)?(?: (?:million|billion|thousand|hundred))?) ([a-z]{3,}s)\b")
_CAP = r"[A-Z][a-z]+(?:[-'’][A-Z]?[a-z]+)?"
_NAME = re.compile(rf"(?<![\w'’-])(?:{_CAP}|[A-Z]{{2,5}})(?: (?:of |de |al-|bin |the )?(?:{_CAP}|[A-Z]{{2,5}})){{0,4}}(?![\w'’-])")
_PERSON_CUE = re.compile(r"^(?:,? (?:said|says|told|added|argued|warned|insisted|explained|who)\b)")
_TITLES = re.compile(r"(?:Mr|Mrs|Ms|Dr|Prof|President|Minister|Prime Minister|Sir|Lord|Judge|General)\.? $")
_NOT_NAMES = set(f"{_MONTHS}|{_DAYS}".split("|")) | {
    "I", "The", "A", "An", "It", "He", "She", "They", "We", "But", "And", "In", "On", "At", "This", "That",
    "There", "Its", "His", "Her", "Their", "If", "As", "For", "Mr", "Mrs", "Ms", "Dr", "Whilst", "While",
    "When", "After", "Before", "Although", "So", "Some", "Many", "Most", "What", "Why", "How", "Who",
}
_DOUBLE_QUOTES = "\"“”"
_QUOTES = _DOUBLE_QUOTES + "‘’'"
_LEAD = re.compile(r"^(?:But|And|However|Meanwhile|Also|So|Still|Yet|Now),? ", re.I)


@dataclass
class Cloze:
    """One synthetic question; ``answer`` is empty for an unanswerable one."""

    id: str
    title: str
    question: str
    context: str
    answer: str = ""
    answer_start: int = -1
    cut: str = ""  # the span the question was cut from (kept for unanswerable ones too)


def answer_candidates(sentence: str) -> list[tuple[int, int, str]]:
    """(start, end, question word) for spans of ``sentence`` that make a fair answer."""
    out: list[tuple[int, int, str]] = []
    taken: list[tuple[int, int]] = []

    def add(a: int, b: int, wh: str) -> None:
        if any(a < y and x < b for x, y in taken):
            return
        taken.append((a, b))
        out.append((a, b, wh))

    for m in _AMOUNT.finditer(sentence):
        add(m.start(), m.end(), "how much")
    for m in _PERCENT.finditer(sentence):
        add(m.start(), m.end(), "what percentage")
    for m in _DATE.finditer(sentence):
        a = m.start() + (3 if m.group(0).startswith("on ") else 0)
        add(a, m.end(), "when")
    for m in _COUNT.finditer(sentence):
        add(m.start(1), m.end(1), "how many")
    for m in _NAME.finditer(sentence):
        words = m.group(0).split()
        if m.start() == 0 or words[0] in _NOT_NAMES or len(m.group(0)) < 3 or sentence[m.start() - 1] in _QUOTES:
            continue  # sentence- or quote-initial capitals are not evidence of a name
        after, before = sentence[m.end():], sentence[: m.start()]
        who = bool(_PERSON_CUE.match(after) or _TITLES.search(before))
        add(m.start(), m.end(), "who" if who else "what")
    return out


def make_question(sentence: str, a: int, b: int, wh: str, rng: random.Random, max_side: int = 12) -> str | None:
    """The clause around the span, with the span replaced by the question word.

    A span in subject position gives a natural question ("Who won ...?"); elsewhere the
    question word stays in place ("Shares in what rose 6%?"). Some short function
    words are dropped at random so the question is not a verbatim copy of the context.
    """
    before = _LEAD.sub("", sentence[:a].strip())
    after = sentence[b:].strip().rstrip(".!?;:,")
    # Keep to the clause: cut at the last comma before the span and the first one after it.
    if ", " in before and len(before.split()) > 6:
        before = before.rsplit(", ", 1)[1]
    if ", " in after and len(after.split(", ", 1)[0].split()) >= 3:
        after = after.split(", ", 1)[0]
    left, right = before.split(), after.split()
    if len(left) + len(right) < 3 or len(left) > max_side:
        return None
    right = right[:max_side]
    words = left + [wh] + right
    keep = [w for w in words if w == wh or not (len(w) <= 3 and w.islower() and rng.random() < 0.2)]
    question = " ".join(keep).strip(" ,;:-")
    return question[0].upper() + question[1:] + "?"


def _passages(text: str, max_chars: int) -> list[tuple[int, int]]:
    """Paragraph spans of ``text``, neighbouring short paragraphs merged up to ``max_chars``."""
    paras, pos = [], 0
    for block in text.split("\n\n"):
        start = text.index(block, pos) if block else pos
        pos = start + len(block)
        if block.strip():
            paras.append((start, pos))
    merged: list[tuple[int, int]] = []
    for a, b in paras:
        if merged and b - merged[-1][0] <= max_chars and merged[-1][1] - merged[-1][0] < max_chars // 2:
            merged[-1] = (merged[-1][0], b)
        else:
            merged.append((a, b))
    return [(a, min(b, a + max_chars)) for a, b in merged]


def questions_for(article: Article, rng: random.Random, per_article: int, unanswerable: float,
                  max_chars: int = 900) -> list[Cloze]:
    """Up to ``per_article`` questions from one article."""
    text = article.text
    passages = _passages(text, max_chars)
    sentences = [(a, b) for a, b in split_sentences(text)
                 if 6 <= len(text[a:b].split()) <= 45 and not any(q in text[a:b] for q in _DOUBLE_QUOTES)]
    rng.shuffle(sentences)
    out: list[Cloze] = []
    for sa, sb in sentences:
        if len(out) >= per_article:
            break
        home = next(((pa, pb) for pa, pb in passages if pa <= sa and sb <= pb), None)
        if home is None:
            continue
        sentence = text[sa:sb]
        cands = answer_candidates(sentence)
        if not cands:
            continue
        # Names are the most common candidates; favour the rarer kinds for a balanced mix.
        a, b, wh = rng.choices(cands, weights=[1 if c[2] == "what" else 3 for c in cands])[0]
        question = make_question(sentence, a, b, wh, rng)
        if question is None:
            continue
        answer = sentence[a:b]
        qid = f"{article.id}-{sa}-{a}"
        if rng.random() < unanswerable:
            others = [(pa, pb) for pa, pb in passages if (pa, pb) != home
                      and answer.lower() not in text[pa:pb].lower()]
            if not others:
                continue
            pa, pb = rng.choice(others)
            out.append(Cloze(qid + "-n", article.title, question, text[pa:pb], cut=answer))
        else:
            pa, pb = home
            out.append(Cloze(qid, article.title, question, text[pa:pb], answer, sa + a - pa, cut=answer))
    return out


def to_squad(items: list[Cloze]) -> dict:
    data = []
    for c in items:
        qa = {"id": c.id, "question": c.question, "is_impossible": not c.answer,
              "answers": [{"text": c.answer, "answer_start": c.answer_start}] if c.answer else []}
        data.append({"title": c.title, "paragraphs": [{"context": c.context, "qas": [qa]}]})
    return {"version": "v2.0-synthetic-cloze", "data": data}


def generate(paths: list[str], max_questions: int, per_article: int, unanswerable: float, seed: int) -> list[Cloze]:
    from qa.ingest import load_articles

    report = load_articles(paths)  # logs its own summary, skips included
    rng = random.Random(seed)
    articles = list(report.articles)
    rng.shuffle(articles)
    items: list[Cloze] = []
    for art in articles:
        items.extend(questions_for(art, rng, per_article, unanswerable))
        if len(items) >= max_questions:
            break
    return items[:max_questions]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="qa synth-questions", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("paths", nargs="+", help="article files or folders")
    p.add_argument("--out", required=True, help="SQuAD 2.0 JSON file to write")
    p.add_argument("--max-questions", type=int, default=6000)
    p.add_argument("--per-article", type=int, default=4)
    p.add_argument("--unanswerable", type=float, default=0.25, help="share paired with a passage lacking the answer")
    p.add_argument("--seed", type=int, default=42)
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    items = generate(args.paths, args.max_questions, args.per_article, args.unanswerable, args.seed)
    for c in items:  # every answer must sit exactly where its offset says, or training learns garbage
        if c.answer and c.context[c.answer_start:c.answer_start + len(c.answer)] != c.answer:
            raise RuntimeError(f"question {c.id}: answer {c.answer!r} is not at offset {c.answer_start}")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out, json.dumps(to_squad(items), ensure_ascii=False) + "\n")
    n_no = sum(not c.answer for c in items)
    print(f"wrote {len(items)} questions ({n_no} unanswerable) to {out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
