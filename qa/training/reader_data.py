"""The reader's training data: labelled windows, which windows are read, and in what order.

The batch order is fixed by the settings that ``mixture_key`` names, so a run's recorded data
position means the same batches to a later run with the same key.
"""

from __future__ import annotations

import json
import random
from dataclasses import asdict, fields

from qa.answer.reader.read import encode
from qa.evaluation.squad import SquadExample
from qa.training.reader_settings import TrainSettings


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


def kept_windows(tokenizer, examples: list[SquadExample], max_length: int, settings: TrainSettings, block: int = 2000):
    """Block by block: the block's examples, its encoded windows and labels, and which windows are trained on.

    Tokenising 100k questions at once with offsets keeps ~20 GB of Python lists
    alive; blocks keep only the windows that are kept (one per question in
    "answer" mode). Training and the teacher's logits (qa.training.distill) walk the same windows.
    """
    for b in range(0, len(examples), block):
        part = examples[b : b + block]
        enc, s, e = build_features(tokenizer, part, max_length, settings.stride)
        keep = (answer_windows(enc, s, [x.is_impossible for x in part], settings.seed + b)
                if settings.window == "answer" else range(len(enc["input_ids"])))
        yield part, enc, s, e, keep


def training_windows(tokenizer, examples: list[SquadExample], max_length: int, settings: TrainSettings,
                     block: int = 2000) -> tuple[list[list[int]], list[list[int]], list[int], list[int]]:
    """Token ids, type ids (zeros for a tokenizer without them, as MPNet's) and labels of the windows trained on."""
    ids, types, starts, ends = [], [], [], []
    for _, enc, s, e, keep in kept_windows(tokenizer, examples, max_length, settings, block):
        for w in keep:
            ids.append(enc["input_ids"][w])
            types.append(enc["token_type_ids"][w] if "token_type_ids" in enc else [0] * len(enc["input_ids"][w]))
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
