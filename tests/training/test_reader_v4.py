"""The GPU script, ``python -m qa.training.reader_v4``, end to end on tiny models with ``--device cpu``:
teacher, scores, distilled student, int8 check, report; a run cut between stages continues; the
pieces that carry bases and data to the machine put themselves back together."""

import json

import pytest

from qa.training.mixture import is_held_out
from qa.training.reader_v4 import main

from test_train import CONTEXT, _squad
from helpers.tiny_readers import build

TINY = "--epochs 1 --batch-size 2 --max-length 48 --stride 16 --threads 1 --precision fp32 --eval-every 0"


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """Tiny bases (a BERT-uncased student, a byte-level-BPE RoBERTa teacher) and a tiny data folder."""
    root = tmp_path_factory.mktemp("v4")
    texts = [CONTEXT, "What river does Paris lie on?", "Who founded Paris?"] * 20
    data = root / "data"
    (data / "squad").mkdir(parents=True)
    (data / "qa_train").mkdir()
    _squad(data / "squad" / "train.json", 6)
    _squad(data / "squad" / "dev.json", 3)
    news = json.loads(_squad(root / "news.json", 4).read_text())
    news["data"][0]["title"] = next(t for t in (f"Story {i}" for i in range(100)) if is_held_out(t))
    (data / "qa_train" / "newsqa_train.json").write_text(json.dumps(news))
    return {"student": build("bert", root / "student", texts, seed=1),
            "teacher": build("roberta", root / "teacher", texts, seed=2), "data": data}


def _run(tmp_path, tiny, *more):
    data = tiny["data"]
    return main(["run", "--teacher-base", str(tiny["teacher"]), "--student-base", str(tiny["student"]),
                 "--data-dir", str(data), "--mix", "", "--news", str(data / "qa_train" / "newsqa_train.json"),
                 "--run-dir", str(tmp_path / "run"), "--out-dir", str(tmp_path / "out"), "--device", "cpu",
                 "--budget", "10", "--threads", "1", "--teacher-args", TINY, "--student-args", TINY, *more])


@pytest.mark.slow
def test_the_gpu_script_runs_every_stage_on_tiny_models_and_continues_after_a_cut(tmp_path, tiny, capsys):
    from qa.answer.reader.read import Reader

    assert _run(tmp_path, tiny, "--stop-before", "student") == 0
    state = json.loads((tmp_path / "run" / "v4.json").read_text())
    assert list(state["stages"]) == ["teacher", "teacher_score"]
    assert state["stages"]["teacher_score"]["news_dev"]["questions"] == 4
    assert "budget 10.0 min on cpu: teacher 45% of it" in capsys.readouterr().out
    teacher_log = (tmp_path / "run" / "teacher" / "log.jsonl").read_text()
    # The same command continues with the student: the teacher is not trained again.
    assert _run(tmp_path, tiny) == 0
    assert "teacher: done in an earlier call" in capsys.readouterr().out
    assert (tmp_path / "run" / "teacher" / "log.jsonl").read_text() == teacher_log
    summary = json.loads((tmp_path / "out" / "v4-summary.json").read_text())
    stages = summary["stages"]
    assert list(stages) == ["teacher", "teacher_score", "student", "student_score", "int8"]
    assert stages["student"]["budget_min"] > 0 and abs(stages["int8"]["fp32_f1"] - stages["int8"]["int8_f1"]) < 100
    assert list((tmp_path / "run" / "logits").glob("teacher-logits-*.npz"))
    gates = summary["report"]["gates"]
    assert {"teacher F1 >= 78", "student F1 >= 70", "student HasAns F1 >= 77", "student NoAns accuracy >= 60 %",
            "int8 within 1 F1 of fp32"} <= set(gates)
    assert summary["report"]["ship_student"] is False  # random tiny models pass no gate worth shipping
    # What comes back from the machine: few files, none over 16 MiB, no teacher.
    files = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert len(files) <= 8 and all((tmp_path / "out" / f).stat().st_size <= 16 << 20 for f in files)
    assert files == ["model.safetensors.000", "student-files.tar", "v4-summary.json"]
    # Put together here, the student is a reader.
    assert main(["unpack", str(tmp_path / "out"), "--into", str(tmp_path / "reader-v4")]) == 0
    meta = json.loads((tmp_path / "reader-v4" / "reader.json").read_text())
    assert meta["settings"]["teacher"].endswith("teacher/model")
    assert Reader(tmp_path / "reader-v4", runtime="torch").read("What river does Paris lie on?", [CONTEXT]).texts


def test_bases_and_data_travel_in_pieces_and_come_together_on_the_machine(tmp_path, tiny, capsys):
    from safetensors import safe_open

    assert main(["pack", "--into", str(tmp_path / "v4"), "--teacher-base", str(tiny["teacher"]),
                 "--student-base", str(tiny["student"]), "--data-dir", str(tiny["data"]), "--piece-mib", "1"]) == 0
    pieces = sorted((tmp_path / "v4").glob("piece-*"))
    assert len(pieces) == 1 and f"receive {pieces[0]}" in capsys.readouterr().out
    stash = tmp_path / "stash"
    assert main(["receive", str(pieces[0]), "--stash", str(stash)]) == 0
    assert "complete" in capsys.readouterr().out
    assert (stash / "data" / "squad" / "dev.json").read_bytes() == (tiny["data"] / "squad" / "dev.json").read_bytes()
    with safe_open(str(stash / "teacher" / "model.safetensors"), "pt") as f:
        assert {str(f.get_tensor(k).dtype) for k in f.keys()} == {"torch.float16"}  # half the bytes to carry


def test_pieces_are_joined_only_when_all_have_come_and_checked(tmp_path):
    from qa.training.carry import pack, receive

    folder = tmp_path / "src"
    folder.mkdir()
    (folder / "weights.bin").write_bytes(bytes(range(256)) * 400)
    pieces = pack({"model": folder}, tmp_path / "out", piece_bytes=30_000)
    assert len(pieces) == 4
    stash = tmp_path / "stash"
    assert [receive(p, stash) for p in pieces] == [False, False, False, True]
    assert (stash / "model" / "weights.bin").read_bytes() == (folder / "weights.bin").read_bytes()
    assert not (stash / "incoming").exists()
