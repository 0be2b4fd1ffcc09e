"""The reader's training loop: loss, time budget, checkpoints, dev scoring and the atomic export."""

from __future__ import annotations

import copy
import json
import logging
import random
import time
from dataclasses import asdict, fields
from pathlib import Path

import numpy as np

from qa.answer.reader.read import READER_META, Reader, pad_batch, read_meta
from qa.evaluation.squad import SquadExample, best_threshold, evaluate_at, load_squad, margin_auc, predict_squad
from qa.training.reader_card import model_card
from qa.training.reader_data import batches, data_position, mixture_key, training_windows
from qa.training.reader_settings import TrainSettings, parent_meta, repo_path, repo_relative
from qa.util.atomic import atomic_write_folder, atomic_write_with

log = logging.getLogger("qa.training.reader")


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


def export(model, tokenizer, settings: TrainSettings, meta: dict) -> None:
    """Write the model folder next to ``out`` and swap it in, so a crash leaves the old one."""
    import torch

    half = copy.deepcopy(model).to("cpu", torch.float16)

    def write(tmp: Path) -> None:
        half.save_pretrained(tmp, safe_serialization=True)
        tokenizer.save_pretrained(tmp)
        (tmp / READER_META).write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
        (tmp / "README.md").write_text(model_card(meta), encoding="utf-8")

    atomic_write_folder(Path(repo_path(settings.out)), write)



def dev_metrics(reader: Reader, examples: list[SquadExample]) -> tuple[dict, float]:
    """Official SQuAD 2.0 metrics with the product's own decoding, at the no-answer threshold best on these
    questions (returned too), and the margin's ROC AUC."""
    gold = {e.id: e.answers for e in examples}
    texts, margins = predict_squad(reader, examples)
    thresh, _ = best_threshold(texts, margins, gold)
    metrics = evaluate_at(texts, margins, gold, thresh)
    metrics["margin_auc"] = margin_auc(margins, gold)
    return metrics, thresh


def stale(history: list[dict], patience: int) -> bool:
    """Whether the last ``patience`` dev scorings all fell short of the best one before them."""
    f1 = [h["dev"]["f1"] for h in history]
    return bool(patience) and len(f1) > patience and max(f1[-patience:]) <= max(f1[:-patience])


def base_model_name(model) -> str:
    """The encoder a reader was fine-tuned from, as its model card names it."""
    mpnet = getattr(model.config, "model_type", "") == "mpnet"
    return f"sentence-transformers/{'all-mpnet-base-v2' if mpnet else 'all-MiniLM-L6-v2'}"


def train(settings: TrainSettings, command: str, threads: int, stop_after: int = 0,
          time_budget_min: float = 0.0, device: str = "cpu", teacher_logits: str = "", patience: int = 0) -> dict:
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
    targets = None
    if settings.teacher:
        from qa.training.distill import distill_loss, teacher_targets
        from qa.training.teacher import cache_root

        targets = teacher_targets(settings, tokenizer, train_ex, lengths, device,
                                  Path(teacher_logits) if teacher_logits else cache_root() / "teacher-logits")
    uses_types = "token_type_ids" in tokenizer.model_input_names  # MPNet's tokenizer has none
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
        payload = {
            "settings": asdict(settings),
            "model": model.state_dict(),
            "optim": optim.state_dict(),
            "sched": sched.state_dict(),
            "state": state,
            "torch_rng": torch.get_rng_state(),
        }
        atomic_write_with(ckpt_path, lambda tmp: torch.save(payload, tmp))

    def record(entry: dict) -> None:
        with open(log_path, "a", encoding="utf-8") as f:
            f.write(json.dumps(entry) + "\n")
        log.info("%s", entry)

    def autocast():
        if settings.precision == "bf16":
            return torch.autocast(torch.device(device).type, dtype=torch.bfloat16)
        return contextlib.nullcontext()

    pad = tokenizer.pad_token_id or 0

    def score_and_export(at_epoch: float) -> None:
        """Dev selection: threshold and metrics with the product's own decoding; export when best so far."""
        model.eval()
        t_eval = time.time()
        # Score the weights as shipped (fp16, upcast on load), not the fp32 ones in memory.
        shipped = copy.deepcopy(model).to(torch.float16).to(torch.float32).eval()
        reader = Reader.from_model(shipped, tokenizer, max_length=settings.max_length, stride=settings.stride,
                                   max_answer_tokens=settings.max_answer_tokens, null_threshold=0.0)
        metrics, thresh = dev_metrics(reader, dev_ex)
        epoch_label = round(at_epoch, 3)
        entry = {"epoch": epoch_label, "step": state["global_step"], "dev": metrics, "null_threshold": thresh,
                 "eval_min": round((time.time() - t_eval) / 60, 2)}
        del shipped, reader
        record(entry)
        state["history"].append(entry)
        if metrics["f1"] > state["best_f1"]:
            state["best_f1"] = metrics["f1"]
            export(model, tokenizer, settings, {
                "base_model": base_model_name(model),
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
            types = ({"token_type_ids": torch.from_numpy(pad_batch([type_ids[i] for i in idx], 0)).to(device)}
                     if uses_types else {})
            with autocast():
                out = model(input_ids=ids, **types,
                            attention_mask=torch.from_numpy(pad_batch([[1] * lengths[i] for i in idx], 0)).to(device))
            loss = span_loss(out.start_logits.float(), out.end_logits.float(),
                             torch.tensor([start_pos[i] for i in idx], device=device),
                             torch.tensor([end_pos[i] for i in idx], device=device), settings.null_weight)
            if targets is not None:
                soft = distill_loss(out.start_logits.float(), out.end_logits.float(), targets.batch(idx, device),
                                    settings.distill_temperature)
                loss = (1 - settings.distill_alpha) * loss + settings.distill_alpha * soft
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
                if stopping or stale(state["history"], patience):
                    why = ("its --time-budget" if out_of_time else "--stop-after" if stopping
                           else f"--patience {patience} (dev F1 stopped improving)")
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
        if state["epoch"] < settings.epochs and stale(state["history"], patience):
            log.info("stopped after epoch %d by --patience %d (dev F1 stopped improving)", state["epoch"], patience)
            return state
    return state
