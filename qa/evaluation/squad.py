"""SQuAD data and the official SQuAD 2.0 metric definitions.

Shared by reader training (selection on dev) and ``qa eval`` so that both
report exactly the same numbers for the same predictions.
"""

from __future__ import annotations

import collections
import gzip
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from qa.text.normalize import normalize_answer, normalize_words


@dataclass
class SquadExample:
    """One question over one context; ``answers`` is empty when unanswerable."""

    id: str
    question: str
    context: str
    answers: list[str] = field(default_factory=list)
    answer_starts: list[int] = field(default_factory=list)
    title: str = ""

    @property
    def is_impossible(self) -> bool:
        return not self.answers


def load_squad(path: str | Path) -> list[SquadExample]:
    """Read a SQuAD 1.1 or 2.0 JSON file (plain or .gz) into flat examples."""
    data = read_squad_json(path)
    if not isinstance(data, dict) or "data" not in data:
        raise ValueError(f"{path}: not a SQuAD file (expected a JSON object with a 'data' list)")
    examples: list[SquadExample] = []
    for article in data["data"]:
        for para in article.get("paragraphs", []):
            context = para["context"]
            for qa in para.get("qas", []):
                answers = [] if qa.get("is_impossible") else qa.get("answers", [])
                examples.append(
                    SquadExample(
                        id=str(qa["id"]),
                        question=qa["question"],
                        context=context,
                        answers=[a["text"] for a in answers],
                        answer_starts=[int(a["answer_start"]) for a in answers],
                        title=article.get("title", ""),
                    )
                )
    return examples


def read_squad_json(path: str | Path) -> dict:
    """The JSON object of a SQuAD file, gunzipped when its name ends in .gz."""
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8") as f:
        return json.load(f)


# --- official SQuAD 2.0 evaluation (evaluate-v2.0.py) -----------------------

def _tokens(s: str) -> list[str]:
    return normalize_words(s) if s else []


def exact_match(prediction: str, gold: str) -> int:
    return int(normalize_answer(prediction) == normalize_answer(gold))


def f1_score(prediction: str, gold: str) -> float:
    gold_toks, pred_toks = _tokens(gold), _tokens(prediction)
    if not gold_toks or not pred_toks:
        # If either is no-answer, F1 is 1 if they agree, 0 otherwise.
        return float(gold_toks == pred_toks)
    common = collections.Counter(gold_toks) & collections.Counter(pred_toks)
    num_same = sum(common.values())
    if num_same == 0:
        return 0.0
    precision = num_same / len(pred_toks)
    recall = num_same / len(gold_toks)
    return 2 * precision * recall / (precision + recall)


def _golds(answers: list[str]) -> list[str]:
    """Official rule: gold answers that normalise to nothing count as no-answer."""
    golds = [a for a in answers if normalize_answer(a)]
    return golds or [""]


def max_over_golds(prediction: str, answers: list[str]) -> tuple[int, float]:
    """(EM, F1) of one prediction, max over the acceptable answers."""
    golds = _golds(answers)
    return max(exact_match(prediction, g) for g in golds), max(f1_score(prediction, g) for g in golds)


def squad_metrics(predictions: dict[str, str], answers: dict[str, list[str]]) -> dict[str, float]:
    """EM, F1, HasAns/NoAns breakdown in percent, as the official script reports."""
    em, f1, has, no = [], [], [], []
    for qid, gold in answers.items():
        e, f = max_over_golds(predictions.get(qid, ""), gold)
        em.append(e)
        f1.append(f)
        (has if _golds(gold) != [""] else no).append((e, f))
    out = {
        "exact": 100.0 * float(np.mean(em)) if em else 0.0,
        "f1": 100.0 * float(np.mean(f1)) if f1 else 0.0,
        "total": len(em),
    }
    if has:
        out["HasAns_exact"] = 100.0 * float(np.mean([e for e, _ in has]))
        out["HasAns_f1"] = 100.0 * float(np.mean([f for _, f in has]))
        out["HasAns_total"] = len(has)
    if no:
        # For unanswerable questions EM == F1 == accuracy of refusing.
        out["NoAns_accuracy"] = 100.0 * float(np.mean([e for e, _ in no]))
        out["NoAns_total"] = len(no)
    return out


def best_threshold(
    span_texts: dict[str, str], margins: dict[str, float], answers: dict[str, list[str]]
) -> tuple[float, float]:
    """No-answer threshold that maximises F1 (the official find_best_thresh).

    A question is answered with ``span_texts[qid]`` when its margin (best span
    score minus null score) exceeds the threshold, else refused. Returns
    (threshold, best F1 in percent).
    """
    qids = sorted(answers, key=lambda q: -margins[q])
    answered_f1 = np.array([max_over_golds(span_texts[q], answers[q])[1] for q in qids])
    refused_ok = np.array([float(_golds(answers[q]) == [""]) for q in qids])
    # Answering the top-m questions by margin: gain of answering minus refusing.
    totals = refused_ok.sum() + np.concatenate([[0.0], np.cumsum(answered_f1 - refused_ok)])
    m = int(np.argmax(totals))
    ms = np.array([margins[q] for q in qids])
    if m == 0:
        thresh = float(ms[0]) + 1e-3 if len(ms) else 0.0
    elif m == len(ms):
        thresh = float(ms[-1]) - 1e-3
    else:
        thresh = float((ms[m - 1] + ms[m]) / 2)
    return thresh, 100.0 * float(totals[m]) / max(len(qids), 1)


def predict_squad(reader, examples: list[SquadExample], group: int = 64):
    """Best span text and margin for every example, the reader (``qa.answer.reader.read.Reader``) reading its own context."""
    texts: dict[str, str] = {}
    margins: dict[str, float] = {}
    for g in range(0, len(examples), group):
        chunk = examples[g : g + group]
        for ex, res in zip(chunk, reader.read_many([(e.question, [e.context]) for e in chunk])):
            texts[ex.id] = res.span_text()
            margins[ex.id] = res.margin
    return texts, margins


def margin_auc(margins: dict[str, float], answers: dict[str, list[str]]) -> float | None:
    """ROC AUC of the no-answer margin: how well it ranks answerable questions above unanswerable ones."""
    from sklearn.metrics import roc_auc_score

    qids = list(answers)
    labels = [int(_golds(answers[q]) != [""]) for q in qids]
    if len(set(labels)) < 2:
        return None
    scores = np.nan_to_num(np.array([margins[q] for q in qids], dtype=np.float64), neginf=-1e9, posinf=1e9)
    return float(roc_auc_score(labels, scores))


def evaluate_at(texts: dict[str, str], margins: dict[str, float], gold: dict[str, list[str]], threshold: float) -> dict:
    """Official metrics when questions with margin <= threshold are refused."""
    preds = {q: (t if margins[q] > threshold else "") for q, t in texts.items()}
    return squad_metrics(preds, gold)
