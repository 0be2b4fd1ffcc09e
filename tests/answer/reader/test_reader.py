"""The shipped reader, loaded from the repo offline, on hand-written text (``slow``: real weights;
the reader's own logic, on a fake model, is in ``test_read_windows.py``)."""

import json
import os

import pytest

from qa.answer.reader.read import READER_META, Reader

PARAGRAPH = (
    "The Mill Street bakery was founded in 1921 by Maria Rossi, an immigrant from Naples. "
    "Her grandson, Paolo Rossi, runs it today and sells about 800 loaves of bread every morning. "
    "In 2019 the bakery moved to a larger building near the railway station."
)


@pytest.fixture(scope="module", params=["onnx-int8", "torch"])
def reader(reader_path, request):
    """The product's default runtime (ONNX Runtime, int8) and the exact fp32 path (torch)."""
    r = Reader(reader_path, runtime=request.param)
    r.load()
    return r


def test_shipped_model_is_small_and_self_describing(reader_path):
    size = sum(f.stat().st_size for f in reader_path.rglob("*") if f.is_file())
    assert size < 60 * 1024 * 1024
    meta = json.loads((reader_path / READER_META).read_text())
    assert meta["max_length"] >= 128 and meta["stride"] > 0
    assert isinstance(meta["null_threshold"], float)
    assert meta["dev"]["f1"] > 0
    assert (reader_path / "README.md").read_text().count("CC BY-SA 4.0") >= 1


@pytest.mark.slow
def test_loads_offline_with_stored_threshold(reader, reader_path):
    assert os.environ.get("HF_HUB_OFFLINE") == "1"
    meta = json.loads((reader_path / READER_META).read_text())
    assert reader.null_threshold == pytest.approx(meta["null_threshold"])


@pytest.mark.parametrize(
    "question, expected",
    [
        ("Who founded the bakery?", "Maria Rossi"),
        ("When was the bakery founded?", "1921"),
        ("How many loaves does the bakery sell every morning?", "800"),
        ("Where did the bakery move in 2019?", "railway station"),
    ],
)
@pytest.mark.slow
def test_answers_hand_written_paragraph(reader, question, expected):
    res = reader.read(question, [PARAGRAPH])
    assert res.margin > res.threshold, f"refused: margin {res.margin:.2f} <= {res.threshold:.2f}"
    assert expected in res.span_text()
    assert len(res.span_text()) < 60
    best = res.best
    assert PARAGRAPH[best.start : best.end] == res.span_text()


@pytest.mark.slow
def test_answer_found_in_the_right_passage_among_several(reader):
    other = "The city council met on Tuesday to discuss parking fees and street lighting."
    res = reader.read("Who founded the bakery?", [other, PARAGRAPH])
    assert res.best.passage == 1
    assert "Maria Rossi" in res.span_text()


@pytest.mark.slow
def test_long_passage_is_read_in_strided_windows(reader):
    filler = " ".join(f"Council item {i} concerned road repairs in district {i}." for i in range(60))
    text = filler + " " + PARAGRAPH
    res = reader.read("Who founded the bakery?", [text])
    assert "Maria Rossi" in res.span_text()
    assert text[res.best.start : res.best.end] == res.span_text()


@pytest.mark.slow
def test_no_passages_means_no_answer(reader):
    res = reader.read("Who founded the bakery?", [])
    assert res.margin <= res.threshold and res.span_text() == ""


NEGATED = (
    "After two days of talks, the union did not agree to a pay freeze. "
    "The union agreed to a shorter working week from next year."
)


@pytest.mark.slow
def test_negated_distractor_is_not_the_answer(reader, tmp_path, seed_settings):
    """The reader may score the denied span highly; the answer given (the pipeline's findings) never is it."""
    from qa.answer.pipeline import Pipeline

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "talks.txt").write_text("Union ends pay talks\n2024-05-02\n" + NEGATED, encoding="utf-8")
    settings = seed_settings.with_overrides(corpus=(corpus,), index_dir=tmp_path / "index")
    pipe = Pipeline(settings)
    pipe.reader = reader  # the shipped model, already loaded
    pipe.index(progress=False)
    ans = pipe.ask("What did the union agree to?")
    shown = ans.findings if ans.answered else ans.possible  # the answer, or the possible answers under the cut-off
    assert shown and "shorter working week" in shown[0].text, (ans.message, shown)
    assert all("pay freeze" not in f.text for f in shown)
    # And the plain reader on the passage: whatever it ranks first, the right span is among its candidates.
    res = reader.read("What did the union agree to?", [NEGATED])
    assert any("shorter working week" in res.span_text(c) for c in res.candidates[:5])


AGREEMENT_QUESTIONS = [
    ("Who founded the bakery?", [PARAGRAPH]),
    ("When was the bakery founded?", [PARAGRAPH]),
    ("How many loaves does the bakery sell every morning?", [PARAGRAPH]),
    ("Where did the bakery move in 2019?", [PARAGRAPH]),
    ("Who runs the bakery today?", ["The city council met on Tuesday to discuss parking fees.", PARAGRAPH]),
    ("What did the union agree to?", [NEGATED]),
    ("What did the union refuse?", [NEGATED]),
]


@pytest.mark.parametrize("runtime", ["onnx-int8", "onnx", "torch-int8"])
@pytest.mark.slow
def test_other_runtimes_agree_with_the_exact_fp32_reader(reader_path, runtime):
    from qa.util.onnx import fast_int8

    if runtime == "onnx-int8" and not fast_int8():
        pytest.skip("this CPU has no int8 dot products (VNNI/AMX): ONNX Runtime's AVX2 int8 path saturates and "
                    "onnx-int8 is not the default here (qa.util.onnx.auto_reader_runtime), so it is not held to "
                    "the fp32 answers")
    """Same best span, same answer/refusal decision, margins close: int8 is the same reader, cheaper."""
    exact = Reader(reader_path, runtime="torch")
    other = Reader(reader_path, runtime=runtime)
    # torch-int8 quantizes weights per tensor: the same answer, but margins move by up to ~5 logits on
    # the shipped reader, so it is held to the span and the decision only.
    tolerance = {"onnx": 1e-3, "onnx-int8": 1.0, "torch-int8": float("inf")}[runtime]
    for question, passages in AGREEMENT_QUESTIONS:
        a, b = exact.read(question, passages), other.read(question, passages)
        assert b.best.passage == a.best.passage
        if runtime == "torch-int8":  # per-tensor weights: the same answer, its edges may move a word
            assert b.best.start < a.best.end and a.best.start < b.best.end, (runtime, question)
        else:
            assert b.span_text() == a.span_text(), (runtime, question)
        assert abs(b.margin - a.margin) < tolerance, (runtime, question, a.margin, b.margin)
        if abs(a.margin - a.threshold) > min(tolerance, 4.0):  # a decision this close to the line may flip
            assert (b.margin > b.threshold) == (a.margin > a.threshold), (runtime, question)


@pytest.mark.slow
def test_onnx_copy_is_cached_by_content(reader_path, tmp_path, monkeypatch):
    """Exported once, reused after; a changed model gets its own file, never a stale one."""
    import shutil

    from qa.util.onnx import cache_dir

    monkeypatch.setenv("QA_MODEL_CACHE", str(tmp_path / "cache"))
    Reader(reader_path, runtime="onnx").load()
    files = sorted(cache_dir().glob("reader-*.onnx"))
    assert len(files) == 1 and not list(cache_dir().glob(".export-*"))
    stamp = files[0].stat().st_mtime_ns
    Reader(reader_path, runtime="onnx").load()
    assert files[0].stat().st_mtime_ns == stamp  # reused, not exported again
    copy = tmp_path / "reader-copy"
    shutil.copytree(reader_path, copy)
    (copy / "config.json").write_text((copy / "config.json").read_text().replace("{", '{"_note": "x",', 1))
    Reader(copy, runtime="onnx").load()
    assert len(list(cache_dir().glob("reader-*.onnx"))) == 2


def test_source_digest_memo_follows_the_files(tmp_path, monkeypatch):
    """The weights are hashed once; their stat stands in after, and any change to a file rehashes it."""
    import os

    from qa.util.onnx import cache_dir, source_digest

    monkeypatch.setenv("QA_MODEL_CACHE", str(tmp_path / "cache"))
    model = tmp_path / "model"
    model.mkdir()
    (model / "config.json").write_text('{"a": 1}')
    (model / "model.safetensors").write_bytes(b"weights" * 1000)
    first = source_digest(model, "reader", False)
    memos = list((cache_dir() / "digests").iterdir())
    assert len(memos) == 1 and memos[0].read_text() == first
    memos[0].write_text("0" * 20)  # a memo is trusted while the files' stats are unchanged
    assert source_digest(model, "reader", False) == "0" * 20
    assert source_digest(model, "reader", True) == source_digest(model, "reader", True) != "0" * 20
    st = (model / "model.safetensors").stat()
    os.utime(model / "model.safetensors", ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))  # touched, same bytes
    assert source_digest(model, "reader", False) == first
    (model / "config.json").write_text('{"a": 2}')  # new content: a new key
    assert source_digest(model, "reader", False) not in (first, "0" * 20)
    blocked = tmp_path / "file"
    blocked.write_text("not a folder")
    monkeypatch.setenv("QA_MODEL_CACHE", str(blocked / "cache"))  # a memo cannot be written: still a digest
    assert source_digest(model, "reader", False) == source_digest(model, "reader", False)
    assert len(source_digest(model, "reader", False)) == 20


@pytest.mark.slow
def test_unwritable_cache_still_answers(reader_path, tmp_path, monkeypatch):
    blocked = tmp_path / "file"
    blocked.write_text("not a folder")
    monkeypatch.setenv("QA_MODEL_CACHE", str(blocked / "cache"))
    r = Reader(reader_path, runtime="onnx-int8")
    res = r.read("Who founded the bakery?", [PARAGRAPH])
    assert "Maria Rossi" in res.span_text()


# --- the tokenizer: tokenizer.json by the `tokenizers` library, as transformers reads it ----------

LONG_PASSAGES = [
    " ".join(f"Council item {i} concerned road repairs in district {i}, costing Rs{i * 1_250:,}." for i in range(80))
    + " " + PARAGRAPH,
    ("ISLAMABAD: Beijing is pushing Pakistan to allow its own security staff — “boots on the ground” — to protect "
     "thousands of Chinese citizens. Last month`s bombing near Karachi airport targeted two engineers.\n\n") * 12,
    "Ünïcödé   spacing\ttabs, emoji 🇵🇰🤝🇨🇳, CJK 北京 and Urdu پاکستان in one line; U.S. officials said so. " * 25,
]
LONG_QUESTIONS = ["Who founded the bakery?", "What is Beijing pushing Pakistan to allow?",
                  "word " * 150 + "So what did Pakistan agree to?"]


@pytest.mark.parametrize("max_length, stride", [(256, 96), (128, 32), (384, 128)])
@pytest.mark.slow
def test_tokenizers_windows_match_transformers(reader_path, max_length, stride):
    """The reader's answer offsets come from the windows' offset mapping: stride, overflow, offsets,
    sequence ids and the question cut must be the same with either tokenizer, token for token."""
    from transformers import AutoTokenizer

    from qa.answer.reader.read import encode
    from qa.util.tokenize import FastTokenizer

    fast, hf = FastTokenizer.from_dir(reader_path), AutoTokenizer.from_pretrained(str(reader_path))
    assert fast.pad_token_id == hf.pad_token_id
    questions = [q for q in LONG_QUESTIONS for _ in LONG_PASSAGES]
    contexts = [c for _ in LONG_QUESTIONS for c in LONG_PASSAGES]
    a = encode(hf, questions, contexts, max_length, stride)
    b = encode(fast, questions, contexts, max_length, stride)
    assert len(a["input_ids"]) > 3 * len(contexts)  # long enough to need several windows each
    for key in ("input_ids", "token_type_ids", "overflow_to_sample_mapping", "context_mask"):
        assert list(b[key]) == list(a[key]), key
    assert [[tuple(o) for o in row] for row in b["offset_mapping"]] == [
        [tuple(o) for o in row] for row in a["offset_mapping"]]


@pytest.mark.slow
def test_reader_decodes_the_same_with_either_tokenizer(reader_path):
    """Same spans, scores and decisions when the default (tokenizers) path reads as transformers would."""
    from transformers import AutoTokenizer

    from qa.util.tokenize import FastTokenizer

    ours, theirs = Reader(reader_path, runtime="onnx-int8"), Reader(reader_path, runtime="onnx-int8")
    ours.load()
    theirs.load()
    theirs._tokenizer = AutoTokenizer.from_pretrained(str(reader_path))
    assert isinstance(ours._tokenizer, FastTokenizer)
    items = AGREEMENT_QUESTIONS + [(q, LONG_PASSAGES) for q in LONG_QUESTIONS]
    for question, passages in items:
        a, b = theirs.read(question, passages), ours.read(question, passages)
        spans = [(c.passage, c.start, c.end) for c in a.candidates]
        assert [(c.passage, c.start, c.end) for c in b.candidates] == spans
        assert [c.score for c in b.candidates] == pytest.approx([c.score for c in a.candidates], abs=1e-6)
        assert b.null_score == pytest.approx(a.null_score, abs=1e-6) and (b.margin > b.threshold) == (a.margin > a.threshold)
