"""Any transformers extractive QA folder works as the reader: BERT, RoBERTa and DeBERTa-v2, with or
without token type ids, with a tokenizer.json or only vocabulary files, and no reader.json.

The models are tiny and random (``tiny_readers``), so the tests check what holds for any reader:
`qa ask`, `qa eval` and `qa train-calibrator` run end to end on int8 and fp32 ONNX, answers are
spans of the articles, the answer says whether its confidence is calibrated, and only
train-calibrator writes into the reader's folder (calibration.json, nothing else).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from helpers.tiny_readers import ARCHITECTURES, build, legacy_copy

ARTICLES = [
    ("Karachi airport bombing",
     "A bombing near Karachi airport killed two engineers on Sunday. Police blamed a separatist group."),
    ("Greyfield library to close",
     "The Greyfield library will close on Friday. The council said repairs cost four million pounds."),
    ("Bridge repairs in Lahore",
     "Workers began repairs on the Ravi bridge in Lahore. The work will take six months."),
    ("Dhaka floods",
     "Floods in Dhaka forced ten thousand families from their homes. Rain fell for nine days."),
    ("Cricket final in Colombo",
     "Sri Lanka won the cricket final in Colombo by four wickets. Mendis scored ninety runs."),
    ("Nairobi marathon",
     "Wanjiru won the Nairobi marathon in two hours and six minutes. She trained in Iten."),
]
QUESTIONS = [  # (article index, question, answer or None)
    (0, "Where was the bombing?", "Karachi airport"), (0, "Who did the police blame?", "a separatist group"),
    (0, "What did the engineers build?", None),
    (1, "When will the library close?", "Friday"), (1, "How much did the repairs cost?", "four million pounds"),
    (1, "Who runs the library cafe?", None),
    (2, "Which bridge is being repaired?", "Ravi bridge"), (2, "How long will the work take?", "six months"),
    (2, "Who paid for the bridge?", None),
    (3, "How many families left their homes?", "ten thousand"), (3, "How long did rain fall?", "nine days"),
    (3, "What did the mayor say?", None),
    (4, "Who won the cricket final?", "Sri Lanka"), (4, "How many runs did Mendis score?", "ninety"),
    (4, "Who was the umpire?", None),
    (5, "Who won the Nairobi marathon?", "Wanjiru"), (5, "Where did she train?", "Iten"),
    (5, "What was the prize money?", None),
]
TEXTS = [f"{t}. {x}" for t, x in ARTICLES] + [q for _, q, _ in QUESTIONS]
ANSWER_KEYS = {"answer", "score", "answered", "citations", "findings", "message", "calibrated"}


def squad_dev(path: Path, lenient: bool = False, questions: list | None = None) -> Path:
    """The articles and ``questions`` (default: all) as a SQuAD 2.0 file, one article per title.
    ``lenient``: each answerable question also accepts its article's sentences and words, so that a
    random reader's spans are right often enough for a calibration to be fitted (it needs right and
    wrong ones)."""
    data = []
    for i, (title, text) in enumerate(ARTICLES):
        extra = text.split(". ") + text.split() if lenient else []
        qas = [{"id": f"q{n}", "question": q, "is_impossible": a is None,
                "answers": [] if a is None else [{"text": g, "answer_start": text.index(g)} for g in [a, *extra]]}
               for n, (art, q, a) in enumerate(questions or QUESTIONS) if art == i]
        data.append({"title": title, "paragraphs": [{"context": text, "qas": qas}]})
    path.write_text(json.dumps({"version": "v2.0", "data": data}), encoding="utf-8")
    return path


def folder_state(folder: Path) -> dict[str, str]:
    """Each file's content hash: weights, config and tokenizer must not change under the user."""
    return {f.name: hashlib.sha256(f.read_bytes()).hexdigest() for f in sorted(folder.iterdir()) if f.is_file()}


@pytest.fixture(scope="module")
def articles(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("tiny-corpus")
    for i, (title, text) in enumerate(ARTICLES):
        (folder / f"{i:02d}.txt").write_text(f"{title}\n\n{text}\n", encoding="utf-8")
    return folder


@pytest.fixture(scope="module", params=ARCHITECTURES)
def tiny_reader(request, tmp_path_factory) -> Path:
    return build(request.param, tmp_path_factory.mktemp(request.param) / "reader", TEXTS)


@pytest.fixture
def qa(articles, tmp_path, monkeypatch, capsys):
    """``qa(*argv) -> (exit code, stdout)``: the `qa` command in this process, over the tiny corpus
    (never the checkout's corpus/ or index/)."""
    from qa.app.cli import main

    monkeypatch.setenv("QA_CORPUS", str(articles))
    monkeypatch.setenv("QA_INDEX_DIR", str(tmp_path / "index"))
    monkeypatch.setenv("QA_UPLOADS", str(tmp_path / "uploads"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")

    def run(*argv: object) -> tuple[int, str]:
        capsys.readouterr()
        code = main([str(a) for a in argv])
        return code, capsys.readouterr().out

    return run


def ask(qa, reader: Path, question: str, runtime: str) -> dict:
    code, out = qa("ask", question, "--json", "--reader", reader, "--reader-runtime", runtime)
    assert code == 0, out
    return json.loads(out)


def check_answer(answer: dict) -> None:
    """The JSON a caller parses; every span shown is the text of its article at its offsets."""
    assert ANSWER_KEYS <= set(answer)
    assert 0.0 <= answer["score"] <= 1.0 and isinstance(answer["calibrated"], bool)
    corpus = "\n".join(f"{t}\n\n{x}" for t, x in ARTICLES)
    if answer["answered"] and answer["kind"] == "answer":
        assert answer["answer"] and answer["answer"] == answer["answer"].strip() and answer["answer"] in corpus
        for c in answer["citations"][:1]:
            assert c["passage"][c["answer_start"]:c["answer_end"]] == answer["answer"]
    for f in answer["findings"]:
        assert f["text"] in corpus


@pytest.mark.slow
def test_any_reader_asks_evaluates_and_calibrates(tiny_reader, qa, tmp_path):
    """The whole life of a foreign reader: answers uncalibrated on int8 and fp32 ONNX, `qa eval`,
    `qa train-calibrator` (which adds calibration.json and changes nothing else), then calibrated."""
    before = folder_state(tiny_reader)
    answers = {rt: ask(qa, tiny_reader, "Where was the bombing?", rt) for rt in ("onnx-int8", "onnx")}
    for answer in answers.values():
        check_answer(answer)
    assert answers["onnx-int8"]["citations"] and answers["onnx"]["citations"]
    assert folder_state(tiny_reader) == before  # asking writes nothing beside the model

    dev = squad_dev(tmp_path / "dev.json")
    code, out = qa("eval", dev, "--index-contexts", "--reader", tiny_reader, "--json", "--out", tmp_path / "eval")
    assert code == 0, out
    summary = json.loads(out)
    assert summary["mode"] == "end_to_end" and summary["counts"]["questions"] == len(QUESTIONS)

    from qa.util.onnx import cache_dir

    exported = sorted(cache_dir().glob("reader-*.onnx"))
    lenient = squad_dev(tmp_path / "lenient.json", lenient=True)
    code, out = qa("train-calibrator", "--reader", tiny_reader, "--squad-dev", lenient, "--news", "", "--folds", "2")
    assert code == 0, out
    assert isinstance(json.loads(out), dict)  # the report (its fields are the fit's own)
    after = folder_state(tiny_reader)
    assert set(after) == set(before) | {"calibration.json"}
    assert {k: after[k] for k in before} == before  # weights, config and tokenizer untouched

    calibrated = ask(qa, tiny_reader, "When will the library close?", "onnx-int8")
    check_answer(calibrated)
    assert sorted(cache_dir().glob("reader-*.onnx")) == exported  # calibration.json costs no new export
    assert answers["onnx-int8"]["calibrated"] is False and answers["onnx"]["calibrated"] is False
    assert calibrated["calibrated"] is True


@pytest.mark.slow
def test_calibrator_says_why_it_cannot_fit(qa, tmp_path, capsys):
    """Development questions whose spans are all wrong (here: all unanswerable) cannot fit a
    calibration: one line that says so, and nothing written."""
    reader = build("bert", tmp_path / "reader", TEXTS)
    dev = squad_dev(tmp_path / "dev.json", questions=[q for q in QUESTIONS if q[2] is None])
    with pytest.raises(SystemExit) as stop:
        qa("train-calibrator", "--reader", reader, "--squad-dev", dev, "--news", "", "--folds", "2")
    assert stop.value.code == 2 and "are wrong: a calibration needs both" in capsys.readouterr().err
    assert not (reader / "calibration.json").exists()


@pytest.mark.parametrize("arch", ["bert", "roberta"])
def test_vocabulary_only_tokenizer_is_converted_into_the_cache(arch, tmp_path, monkeypatch):
    """A folder with vocab.txt (or vocab.json + merges.txt) and no tokenizer.json tokenizes as the
    full folder does; the tokenizer.json made for it goes to the model cache, not the folder."""
    from qa.util.tokenize import FastTokenizer, load_tokenizer

    monkeypatch.setenv("QA_MODEL_CACHE", str(tmp_path / "cache"))
    full = build(arch, tmp_path / "full", TEXTS)
    legacy = legacy_copy(full, tmp_path / "legacy")
    before = folder_state(legacy)
    question, passage = "Where was the bombing?", ARTICLES[0][1]
    want = load_tokenizer(full)(question, passage, return_offsets_mapping=True)
    for _ in range(2):  # converted the first time, read from the cache the second
        tok = load_tokenizer(legacy)
        assert isinstance(tok, FastTokenizer)
        got = tok(question, passage, return_offsets_mapping=True)
        assert got["input_ids"] == want["input_ids"] and got["offset_mapping"] == want["offset_mapping"]
        assert tok.pad_token_id == load_tokenizer(full).pad_token_id
    assert folder_state(legacy) == before
    assert len(list((tmp_path / "cache" / "tokenizers").glob("*/tokenizer.json"))) == 1


@pytest.mark.parametrize("arch", ARCHITECTURES)
def test_foreign_reader_gets_squad2_settings_within_its_positions(arch, tmp_path):
    """No reader.json: 384-token windows, stride 128, null threshold 0 (the SQuAD 2.0 decode), and
    spans stripped of the space SentencePiece and byte-level tokens carry."""
    from qa.answer.reader.read import Reader

    reader = Reader(build(arch, tmp_path / arch, TEXTS), runtime="torch")
    result = reader.read("Where was the bombing?", [ARTICLES[0][1], ARTICLES[1][1]])
    assert (reader.max_length, reader.stride, reader.null_threshold) == (384, 128, 0.0)
    for cand in result.candidates:
        span = result.span_text(cand)
        assert span and span == span.strip()


@pytest.mark.slow
@pytest.mark.parametrize("arch", ["electra", "mpnet", "distilbert"])
def test_other_architectures_read_alike_on_every_runtime(arch, tmp_path, monkeypatch):
    """ELECTRA takes token types; MPNet and DistilBERT have no such input. Each exports to ONNX and
    quantizes, and the ONNX readers find the spans torch finds."""
    from qa.answer.reader.read import Reader

    monkeypatch.setenv("QA_MODEL_CACHE", str(tmp_path / "cache"))
    folder = build(arch, tmp_path / arch, TEXTS)
    passages = [ARTICLES[0][1], ARTICLES[1][1]]
    results = {rt: Reader(folder, runtime=rt).read("Where was the bombing?", passages)
               for rt in ("torch", "onnx", "onnx-int8")}
    exact = [(c.passage, c.start, c.end) for c in results["torch"].candidates[:3]]
    assert exact and [(c.passage, c.start, c.end) for c in results["onnx"].candidates[:3]] == exact
    assert results["onnx-int8"].candidates and abs(results["onnx-int8"].margin - results["torch"].margin) < 0.1


def test_window_fits_the_model_positions(tmp_path):
    """RoBERTa's 514 position embeddings hold 512 tokens (ids start after the padding id); a
    tokenizer's own model_max_length is a limit too."""
    from qa.answer.reader.folder import usable_positions, window_settings

    (tmp_path / "config.json").write_text(json.dumps(
        {"model_type": "roberta", "max_position_embeddings": 514, "pad_token_id": 1}))
    assert usable_positions(tmp_path) == 512
    (tmp_path / "tokenizer_config.json").write_text(json.dumps({"model_max_length": 256}))
    assert usable_positions(tmp_path) == 256
    assert window_settings({}, 256).max_length == 256
    (tmp_path / "tokenizer_config.json").write_text(json.dumps({"model_max_length": 1e30}))  # unset
    assert usable_positions(tmp_path) == 512
    ours = window_settings({"max_length": 256, "stride": 96, "null_threshold": 3.3}, 512)
    assert (ours.max_length, ours.stride, ours.null_threshold) == (256, 96, 3.3)


def test_not_a_qa_model_is_refused_by_name(tmp_path):
    from qa.answer.reader.folder import check_qa_folder

    (tmp_path / "config.json").write_text(json.dumps({"architectures": ["BertForMaskedLM"]}))
    with pytest.raises(FileNotFoundError, match="no weights"):
        check_qa_folder(tmp_path)
    (tmp_path / "model.safetensors").write_bytes(b"")
    with pytest.raises(ValueError, match="not an extractive question-answering model"):
        check_qa_folder(tmp_path)
