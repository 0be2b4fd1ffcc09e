"""Distillation across tokenizers: offsets carry the teacher's mass to the right student tokens, and
`qa train-reader --teacher` trains a tiny BERT student from a tiny byte-level-BPE RoBERTa teacher."""

import json

import numpy as np
import pytest

from qa.training.distill import TeacherTargets, distill_loss, soft_targets, student_positions

from test_train import CONTEXT, _squad
from helpers.tiny_readers import build  # (tiny random QA models, tokenizers trained on the spot)

TEXT = "Paris lies on the Seine."
# The student's context tokens (BERT-uncased style) at window positions 5..11, and the teacher's
# (a byte-level BPE cutting words elsewhere): "Par" "is" "lies" "on" "the" "Se" "ine" ".".
STUDENT = np.array([(0, 5), (6, 10), (11, 13), (14, 17), (18, 21), (21, 23), (23, 24)])  # paris lies on the sei ##ne .
POSITIONS = np.arange(5, 12)
TEACHER = np.array([(0, 3), (3, 5), (6, 10), (11, 13), (14, 17), (18, 20), (20, 23), (23, 24)])


def test_a_teacher_token_lands_on_the_student_tokens_holding_its_first_and_last_characters():
    to_start, to_end = student_positions(TEACHER, STUDENT, POSITIONS)
    assert to_start.tolist() == [5, 5, 6, 7, 8, 9, 9, 11]  # "is" starts inside "paris"; "ine" inside "sei"
    assert to_end.tolist() == [5, 5, 6, 7, 8, 9, 10, 11]  # "Se" ends inside "sei", "ine" in "##ne"
    # A teacher token that covers no student token (characters the student's window does not hold) is dropped.
    assert student_positions(np.array([(30, 34)]), STUDENT, POSITIONS)[0].tolist() == [-1]


def test_the_teachers_distribution_is_moved_and_renormalised_on_student_positions():
    import torch

    to_start, _ = student_positions(TEACHER, STUDENT, POSITIONS)
    to = torch.tensor([[0, *to_start.tolist(), -1]])  # null first; the last teacher entry maps nowhere
    logits = torch.full((1, 10), -30.0)
    logits[0, 0] = np.log(0.2)  # null
    logits[0, 6] = np.log(0.5)  # "Se"
    logits[0, 7] = np.log(0.2)  # "ine": starts inside the same student token "sei"
    logits[0, 9] = np.log(0.1)  # lost: renormalised away
    q = soft_targets(logits, to, width=14, temperature=1.0)[0]
    assert q.sum().item() == pytest.approx(1.0)
    assert q[0].item() == pytest.approx(0.2 / 0.9, abs=1e-6)  # the null position stays the null position
    assert q[9].item() == pytest.approx(0.7 / 0.9, abs=1e-6)  # "Se" + "ine" -> the student's "sei"
    assert q[[1, 2, 3, 4, 5, 10, 11, 12, 13]].sum().item() == pytest.approx(0.0, abs=1e-6)


def test_distill_loss_is_zero_where_the_student_agrees_and_pulls_it_towards_the_teacher():
    import torch

    teacher = torch.tensor([[2.0, 0.5, -1.0, 1.0]])
    to = torch.tensor([[0, 1, 2, 3]])
    batch = (teacher, teacher, to, to)
    assert distill_loss(teacher.clone(), teacher.clone(), batch, 2.0).item() == pytest.approx(0.0, abs=1e-6)
    student = torch.zeros(1, 4, requires_grad=True)
    distill_loss(student, student, batch, 2.0).backward()
    assert student.grad[0, 0] < 0 < student.grad[0, 2]  # raise the teacher's favourite, lower its least liked


@pytest.fixture(scope="module")
def tiny_pair(tmp_path_factory):
    """A tiny BERT-uncased student and a tiny byte-level-BPE RoBERTa teacher, trained on the same text."""
    root = tmp_path_factory.mktemp("pair")
    texts = [CONTEXT, "What river does Paris lie on?", "Who founded Paris?"] * 20
    return build("bert", root / "student", texts, seed=1), build("roberta", root / "teacher", texts, seed=2)


def _args(tmp_path, student, teacher, out, run):
    train, dev = _squad(tmp_path / "train.json", 6), _squad(tmp_path / "dev.json", 3)
    return ["--train", str(train), "--dev", str(dev), "--base", str(student), "--teacher", str(teacher),
            "--teacher-logits", str(tmp_path / "logits"), "--out", str(out), "--run-dir", str(run),
            "--epochs", "1", "--batch-size", "2", "--checkpoint-every", "1", "--threads", "1", "--device", "cpu",
            "--precision", "fp32", "--max-length", "48", "--stride", "16", "--distill-temperature", "2.0",
            "--distill-alpha", "0.5"]


def test_train_reader_with_a_teacher_of_another_tokenizer_caches_its_logits_and_exports_a_student(
        tmp_path, tiny_pair, monkeypatch):
    from qa.answer.reader.read import Reader
    from qa.training import distill
    from qa.training.reader import main

    student, teacher = tiny_pair
    out, run = tmp_path / "model", tmp_path / "run"
    assert main(_args(tmp_path, student, teacher, out, run)) == 0
    [cache] = list((tmp_path / "logits").glob("teacher-logits-*.npz"))
    targets = TeacherTargets.load(cache)
    meta = json.loads((out / "reader.json").read_text())
    assert len(targets.student_lengths) == meta["train_windows"]
    windows = np.diff(targets.rows)
    assert (targets.to_start[targets.rows[:-1]] == 0).all() and (windows > 1).all()  # null first, then context
    assert targets.to_start.max() < targets.student_lengths.max()
    losses = [json.loads(x)["loss"] for x in (run / "log.jsonl").read_text().splitlines() if '"loss"' in x]
    assert len(losses) == 3 and all(np.isfinite(losses))
    assert meta["settings"]["teacher"] and meta["settings"]["distill_alpha"] == 0.5
    assert "from the teacher" in (out / "README.md").read_text()
    # The exported student is a reader like any other.
    result = Reader(out, runtime="torch").read("What river does Paris lie on?", [CONTEXT])
    assert np.isfinite(result.null_score)
    # Another run on the same data and teacher reuses the cached logits, whatever its temperature.
    monkeypatch.setattr(distill, "compute_targets", lambda *a, **k: pytest.fail("teacher logits computed twice"))
    args = _args(tmp_path, student, teacher, tmp_path / "model2", tmp_path / "run2")
    args[args.index("--distill-temperature") + 1] = "4.0"
    assert main(args) == 0
    assert len(list((tmp_path / "logits").glob("*.npz"))) == 1


def test_the_cache_key_follows_teacher_and_data_not_the_temperature(tiny_pair):
    from dataclasses import replace

    from transformers import AutoTokenizer

    from qa.training.distill import cache_key
    from qa.training.reader import TrainSettings

    student, teacher = tiny_pair
    tok = AutoTokenizer.from_pretrained(student)
    s = TrainSettings(train="t.json", dev="d.json", base=str(student), out="o", run_dir="r", teacher=str(teacher))
    key = cache_key(str(teacher), tok, s)
    assert cache_key(str(teacher), tok, replace(s, distill_temperature=5.0, distill_alpha=0.9, lr=1.0)) == key
    assert cache_key(str(teacher), tok, replace(s, seed=7)) != key
    assert cache_key(str(student), tok, s) != key  # another teacher
