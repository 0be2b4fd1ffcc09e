"""The reader training recipe: labels, batching, a tiny run, resume and the exported model card."""

import json

import pytest

from qa.evaluation.squad import SquadExample, load_squad
from qa.training.reader import batches, build_features, main

CONTEXT = "Paris is the capital of France. It lies on the Seine. The city has about two million people."


def _tokenizer(reader_path):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(reader_path)


def test_features_point_at_the_answer_tokens_and_null_otherwise(reader_path):
    tok = _tokenizer(reader_path)
    examples = [
        SquadExample("1", "What river does Paris lie on?", CONTEXT, ["the Seine"], [CONTEXT.index("the Seine")]),
        SquadExample("2", "Who founded Paris?", CONTEXT),
    ]
    enc, starts, ends = build_features(tok, examples, max_length=64, stride=16)
    assert tok.decode(enc["input_ids"][0][starts[0]:ends[0] + 1]) == "the seine"
    assert (starts[1], ends[1]) == (0, 0)  # unanswerable: the null position ([CLS])
    # With small windows, the ones that do not hold the whole answer point at null too.
    long_ctx = "Filler sentence number one. " * 12 + CONTEXT
    ex = [SquadExample("3", "What river does Paris lie on?", long_ctx, ["the Seine"], [long_ctx.index("the Seine")])]
    enc, starts, ends = build_features(tok, ex, max_length=40, stride=8)
    assert len(starts) > 2
    hits = [w for w, s in enumerate(starts) if s]
    assert hits and all(tok.decode(enc["input_ids"][w][starts[w]:ends[w] + 1]) == "the seine" for w in hits)
    assert any(s == 0 for s in starts)


def test_batches_are_seeded_cover_every_window_once_and_group_lengths():
    lengths = [i % 50 + 10 for i in range(500)]
    a = batches(lengths, 16, seed=1)
    assert a == batches(lengths, 16, seed=1)
    assert a != batches(lengths, 16, seed=2)
    assert sorted(i for b in a for i in b) == list(range(500))
    spread = [max(lengths[i] for i in b) - min(lengths[i] for i in b) for b in a]
    assert sum(spread) / len(spread) < 10  # similar lengths share a batch (less padding)


def _squad(path, n):
    qas = []
    for i in range(n):
        if i % 3 == 2:
            qas.append({"id": f"q{i}", "question": "Who founded Paris?", "answers": [], "is_impossible": True})
        else:
            qas.append({"id": f"q{i}", "question": "What river does Paris lie on?",
                        "answers": [{"text": "the Seine", "answer_start": CONTEXT.index("the Seine")}]})
    path.write_text(json.dumps({"version": "v2.0", "data": [
        {"title": "Paris", "paragraphs": [{"context": CONTEXT, "qas": qas}]}]}))
    return path


@pytest.mark.slow
def test_a_tiny_run_exports_resumes_and_records_its_lineage(tmp_path, reader_path):
    train, dev = _squad(tmp_path / "train.json", 6), _squad(tmp_path / "dev.json", 3)
    extra = _squad(tmp_path / "extra.json", 2)
    out, run = tmp_path / "model", tmp_path / "run"
    args = ["--train", str(train), "--dev", str(dev), "--extra-train", str(extra), "--base", str(reader_path),
            "--out", str(out), "--run-dir", str(run), "--epochs", "1", "--batch-size", "4",
            "--checkpoint-every", "1", "--threads", "1"]
    assert main(args) == 0
    meta = json.loads((out / "reader.json").read_text())
    assert (meta["train_examples"], meta["extra_examples"], meta["dev_examples"]) == (6, 2, 3)
    assert meta["epoch"] == 1 and "null_threshold" in meta
    # Continuing from one of our own readers keeps that reader's recipe.
    assert meta["parent"]["command"].startswith("qa train-reader")
    card = (out / "README.md").read_text()
    stages = 2 + len(_lineage(json.loads((reader_path / "reader.json").read_text())))
    assert f"Training ran in {stages} stages" in card and "synthetic cloze questions" in card
    assert {p.name for p in out.iterdir()} >= {"model.safetensors", "config.json", "tokenizer.json", "reader.json"}
    assert not [p.name for p in tmp_path.iterdir() if p.name.endswith((".tmp", ".old"))]
    log = (run / "log.jsonl").read_text().splitlines()
    assert json.loads(log[-1])["dev"]["total"] == 3
    # A rerun resumes from the checkpoint: the run is complete, so nothing is trained again.
    assert main(args) == 0
    assert (run / "log.jsonl").read_text().splitlines() == log
    # A checkpoint written with other settings is refused rather than silently mixed.
    with pytest.raises(SystemExit, match="other settings"):
        main(args[:-2] + ["--lr", "3e-5", "--threads", "1"])
    assert len(load_squad(train)) == 6


def test_missing_extra_training_file_is_a_usage_error(tmp_path, capsys):
    train = _squad(tmp_path / "train.json", 3)
    with pytest.raises(SystemExit):
        main(["--train", str(train), "--dev", str(train), "--extra-train", str(tmp_path / "nope.json"),
              "--run-dir", str(tmp_path / "run")])
    assert "nope.json does not exist" in capsys.readouterr().err


def test_span_loss_matches_transformers_and_weights_null_targets():
    import torch
    from transformers import BertConfig, BertForQuestionAnswering

    from qa.training.reader import span_loss

    torch.manual_seed(0)
    model = BertForQuestionAnswering(BertConfig(vocab_size=50, hidden_size=16, num_hidden_layers=1,
                                                num_attention_heads=2, intermediate_size=32)).eval()
    ids = torch.randint(1, 50, (4, 12))
    starts, ends = torch.tensor([0, 3, 0, 5]), torch.tensor([0, 4, 0, 7])
    out = model(input_ids=ids, start_positions=starts, end_positions=ends)
    assert span_loss(out.start_logits, out.end_logits, starts, ends).item() == pytest.approx(out.loss.item(), rel=1e-4)
    # Weighting null targets moves the loss towards their (here: larger or smaller) share.
    null_only = span_loss(out.start_logits[[0, 2]], out.end_logits[[0, 2]], starts[[0, 2]], ends[[0, 2]])
    base = span_loss(out.start_logits, out.end_logits, starts, ends)
    heavy = span_loss(out.start_logits, out.end_logits, starts, ends, null_weight=100.0)
    assert abs(heavy.item() - null_only.item()) < abs(base.item() - null_only.item())


@pytest.mark.slow
def test_stop_after_scores_exports_and_the_run_continues(tmp_path, reader_path):
    train, dev = _squad(tmp_path / "train.json", 6), _squad(tmp_path / "dev.json", 3)
    out, run = tmp_path / "model", tmp_path / "run"
    args = ["--train", str(train), "--dev", str(dev), "--base", str(reader_path), "--out", str(out),
            "--run-dir", str(run), "--epochs", "1", "--batch-size", "2", "--checkpoint-every", "1", "--threads", "1"]
    assert main(args + ["--stop-after", "1"]) == 0
    log = [json.loads(x) for x in (run / "log.jsonl").read_text().splitlines()]
    assert [e["step"] for e in log if "dev" in e] == [1]
    meta = json.loads((out / "reader.json").read_text())
    assert meta["epoch"] < 1 and "--stop-after 1" in meta["command"]
    assert main(args) == 0  # resumes at step 1 and finishes the epoch
    log = [json.loads(x) for x in (run / "log.jsonl").read_text().splitlines()]
    assert [e["step"] for e in log if "dev" in e] == [1, 3]


@pytest.mark.slow
def test_time_budget_stops_scores_exports_and_a_continuation_starts_where_it_stopped(tmp_path, reader_path):
    train, dev = _squad(tmp_path / "train.json", 6), _squad(tmp_path / "dev.json", 3)
    out, run = tmp_path / "model", tmp_path / "run"
    args = ["--train", str(train), "--dev", str(dev), "--epochs", "1", "--batch-size", "2",
            "--checkpoint-every", "1", "--threads", "1", "--precision", "fp32"]
    # A budget already spent after the first step: the run stops there, scores dev and exports.
    assert main(args + ["--base", str(reader_path), "--out", str(out), "--run-dir", str(run),
                        "--time-budget", "0.0001"]) == 0
    log = [json.loads(x) for x in (run / "log.jsonl").read_text().splitlines()]
    assert [e["step"] for e in log if "dev" in e] == [1]
    meta = json.loads((out / "reader.json").read_text())
    pos = meta["data_position"]
    assert (pos["epoch"], pos["step_in_epoch"], pos["steps_in_epoch"]) == (0, 1, 3)
    assert meta["settings"]["precision"] == "fp32"
    # A new run from that export, on the same data, reads the batches the first one did not.
    out2, run2 = tmp_path / "model2", tmp_path / "run2"
    assert main(args + ["--base", str(out), "--out", str(out2), "--run-dir", str(run2)]) == 0
    steps = [json.loads(x)["step"] for x in (run2 / "log.jsonl").read_text().splitlines() if '"loss"' in x]
    assert steps == [2, 3]
    # Other data: the position means nothing there, so that run starts at the beginning.
    out3, run3 = tmp_path / "model3", tmp_path / "run3"
    assert main(args + ["--base", str(out), "--out", str(out3), "--run-dir", str(run3), "--seed", "7"]) == 0
    steps = [json.loads(x)["step"] for x in (run3 / "log.jsonl").read_text().splitlines() if '"loss"' in x]
    assert steps == [1, 2, 3]


def test_time_budget_decays_the_learning_rate_to_zero_at_the_stop():
    from qa.training.reader import TimeBudget

    state = {"global_step": 0, "seconds": 0.0, "decay": {"from": 1.0, "at_seconds": 0.0, "span_seconds": 0.0}}
    budget = TimeBudget(seconds=1000.0, started=__import__("time").time(), reserve=100.0)
    budget.begin(state)
    assert 890 < state["decay"]["span_seconds"] <= 900  # the budget less the reserve for scoring
    assert budget.factor(state) == pytest.approx(1.0)
    state["live_seconds"] = state["decay"]["span_seconds"] / 2
    assert budget.factor(state) == pytest.approx(0.5)
    state["live_seconds"] = state["decay"]["span_seconds"] * 2
    assert budget.factor(state) == 0.0
    # Resumed mid-way, a new budget decays from where the run was, not from the top again.
    state.update(global_step=10, seconds=state["decay"]["span_seconds"] / 2)
    state.pop("live_seconds")
    TimeBudget(seconds=400.0, started=__import__("time").time(), reserve=100.0).begin(state)
    assert state["decay"]["from"] == pytest.approx(0.5) and TimeBudget.factor(state) == pytest.approx(0.5)
    assert not budget.spent(state, 0.0) and TimeBudget(1.0, started=0.0).spent(state, 0.0)


def test_precision_defaults_to_bf16_only_where_the_cpu_computes_it(monkeypatch):
    from qa.training import reader
    from qa.util import onnx

    monkeypatch.setattr(onnx, "cpu_flags", lambda: {"avx2", "avx512f", "avx512_bf16"})
    assert reader.default_precision() == "bf16"
    monkeypatch.setattr(onnx, "cpu_flags", lambda: {"avx2", "amx_bf16"})
    assert reader.default_precision() == "bf16"
    monkeypatch.setattr(onnx, "cpu_flags", lambda: {"avx2", "avx512_vnni"})
    assert reader.default_precision() == "fp32"
    monkeypatch.setattr(onnx, "cpu_flags", lambda: None)
    assert reader.default_precision() == "fp32"


def test_device_auto_is_the_gpu_only_where_torch_sees_one(monkeypatch, tmp_path, capsys):
    import torch

    from qa.training import reader

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert reader.resolve_device("auto") == "cpu" and reader.resolve_device("cpu") == "cpu"
    with pytest.raises(SystemExit, match="sees no GPU"):
        reader.resolve_device("cuda")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert reader.resolve_device("auto") == "cuda"


@pytest.mark.slow
def test_bf16_run_trains_and_exports_fp16_weights(tmp_path, reader_path):
    train, dev = _squad(tmp_path / "train.json", 4), _squad(tmp_path / "dev.json", 2)
    out = tmp_path / "model"
    assert main(["--train", str(train), "--dev", str(dev), "--base", str(reader_path), "--out", str(out),
                 "--run-dir", str(tmp_path / "run"), "--epochs", "1", "--batch-size", "2", "--threads", "1",
                 "--precision", "bf16", "--max-length", "64", "--stride", "16"]) == 0
    meta = json.loads((out / "reader.json").read_text())
    assert meta["settings"]["precision"] == "bf16" and meta["dev"]["total"] == 2


def test_a_checkpoint_from_before_a_new_setting_still_resumes():
    from dataclasses import asdict

    from qa.training.reader import TrainSettings, mixture_key, same_data

    s = TrainSettings(train="t.json", dev="d.json", base="b", out="o", run_dir="r", mix="squad2=all")
    old = json.loads(mixture_key(s))
    old.pop("unanswerable_ratio")  # written before the setting existed
    assert same_data(json.dumps(old), s)
    assert not same_data(json.dumps(old), TrainSettings(**{**asdict(s), "unanswerable_ratio": 0.2}))
    assert not same_data(json.dumps({**old, "seed": 1}), s)


def test_model_card_gives_the_shipped_calibration_with_its_numbers(reader_path):
    """A reader shipped with calibration.json says what the confidence is and what it measured."""
    from qa.training.reader import model_card

    meta = json.loads((reader_path / "reader.json").read_text())
    assert "calibration.json" not in model_card(meta)
    cal = {"cutoff": 0.42, "further_cutoff": 1.0, "possible_cutoff": 0.3, "meta": {
        "command": "qa train-calibrator --reader models/reader", "goal": "answers shown right >= 70% on news dev",
        "folds": "10 folds of the articles (GroupKFold, each article in one fold)",
        "before": {"news": {"answered_share": 0.96, "answered_right_share": 0.35, "ece": 0.5, "f1": 38.0}},
        "cross_fitted": {"news": {"questions": 733, "answered_share": 0.15, "answered_right_share": 0.7, "ece": 0.08,
                                  "f1": 10.0}}}}
    card = model_card(meta, cal)
    assert "## Confidence shown (`calibration.json`)" in card and "0.420" in card and "1.000" in card
    assert "cross-fitting over 10 folds of the articles (GroupKFold" in card
    assert "answers shown right >= 70% on news dev" in card
    assert "| news | 733 | 96.0 % | 15.0 % | 35.0 % | 70.0 % | 0.500 | 0.080 | 38.00 | 10.00 |" in card


def _lineage(meta: dict) -> list[dict]:
    """The stages a reader's reader.json records before its own."""
    out, parent = [], meta.get("parent")
    while parent:
        out.append(parent)
        parent = parent.get("parent")
    return out


def test_patience_stops_when_dev_f1_has_not_beaten_its_best_for_that_many_scorings():
    from qa.training.reader import stale

    def history(*f1):
        return [{"dev": {"f1": x}} for x in f1]

    assert not stale(history(50, 52, 51), 2)  # one scoring short of the best: not yet
    assert stale(history(50, 52, 51, 52), 2)  # two, the second only equal
    assert not stale(history(50, 52, 51, 53), 2)
    assert not stale(history(50, 49, 48), 0)  # no patience: never
