"""Training mixtures: parsing, sampling, near-miss no-answer pairs and one answer window per question."""

import gzip
import json
import random

import pytest

from qa.training.mixture import add_other_paragraph_negatives, build_mixture, load_articles, near_miss_paragraph, parse_mix
from qa.evaluation.squad import SquadExample
from qa.text.normalize import normalize_answer

PARAS = [
    "The Seine flows through Paris. Paris is the capital of France.",
    "Paris hosted the Olympic Games in 1900 and 1924, and again in 2024.",
    "The Louvre is the world's most visited museum.",
]


def _file(path, gz=False):
    qas = [
        [{"id": "a1", "question": "What river flows through Paris?", "answers": [{"text": "The Seine", "answer_start": 0}]},
         {"id": "a2", "question": "What is the capital of France?", "answers": [{"text": "Paris", "answer_start": 31}]}],
        [{"id": "b1", "question": "When did Paris host the Olympic Games?", "answers": [{"text": "1900", "answer_start": 36}]},
         {"id": "b2", "question": "Who paid for the games?", "answers": [], "is_impossible": True}],
        [{"id": "c1", "question": "What is the most visited museum?", "answers": [{"text": "The Louvre", "answer_start": 0}]}],
    ]
    doc = {"data": [{"title": "Paris", "source": "test", "paragraphs": [
        {"context": c, "qas": q} for c, q in zip(PARAS, qas)]}]}
    raw = json.dumps(doc).encode()
    path.write_bytes(gzip.compress(raw) if gz else raw)
    return path


def test_parse_mix_resolves_names_counts_and_files(tmp_path):
    f = _file(tmp_path / "mine.json")
    items = parse_mix(f"squad11=100,squad2=x2,subjqa=all,{f}=3", tmp_path / "data", "train.json")
    assert [(i.name, i.count, i.repeat) for i in items] == [("squad11", 100, 1), ("squad2", None, 2),
                                                            ("subjqa", None, 1), (str(f), 3, 1)]
    assert items[0].path.endswith("qa_train/squad11_train.json.gz") and items[1].path == "train.json"
    with pytest.raises(ValueError, match="unknown source 'wiki'"):
        parse_mix("wiki=10", tmp_path, "train.json")
    with pytest.raises(ValueError, match="count must be"):
        parse_mix("squad11=lots", tmp_path, "train.json")


def test_near_miss_is_a_sibling_that_shares_words_but_not_the_answer(tmp_path):
    art = load_articles(_file(tmp_path / "p.json.gz", gz=True))[0]
    assert len(art.paragraphs) == 3 and len(art.examples) == 5
    # The Olympic paragraph holds the answer "Paris": the Louvre paragraph is the only sibling left.
    assert near_miss_paragraph("What is the capital of France?", ["Paris"], art, own=0) == 2
    # The Olympic paragraph shares "Paris"; it does not hold "The Seine": the near miss.
    assert near_miss_paragraph("What river flows through Paris?", ["The Seine"], art, own=0) == 1


def test_negatives_point_at_paragraphs_without_the_answer(tmp_path):
    arts = load_articles(_file(tmp_path / "p.json"))
    chosen = [ex for _, ex in arts[0].examples]
    negs = add_other_paragraph_negatives(arts, chosen, ratio=1.0, rng=random.Random(0))
    answerable = [ex for ex in chosen if not ex.is_impossible]
    assert len(negs) == len(answerable)  # every answerable question got its pair; the unanswerable none
    by_id = {ex.id: ex for ex in chosen}
    for neg in negs:
        src = by_id[neg.id.removesuffix("#neg")]
        assert neg.is_impossible and neg.question == src.question and neg.context != src.context
        assert not any(normalize_answer(a) in normalize_answer(neg.context) for a in src.answers)
    assert add_other_paragraph_negatives(arts, chosen, ratio=0.0, rng=random.Random(0)) == []


def test_build_mixture_samples_and_records(tmp_path):
    f = _file(tmp_path / "p.json")
    mix = build_mixture(parse_mix(f"{f}=2,{f}=x2", tmp_path, "t.json"), neg_ratio=0.0, seed=1)
    assert [r["sampled"] for r in mix.rows] == [2, 10]
    assert mix.rows[0]["available"] == 5 and mix.rows[0]["available_unanswerable"] == 1
    assert len(mix.examples) == 12
    again = build_mixture(parse_mix(f"{f}=2", tmp_path, "t.json"), neg_ratio=0.0, seed=1)
    assert [e.id for e in again.examples] == [e.id for e in mix.examples[:2]]  # seeded


def test_answer_windows_keep_one_window_holding_the_answer(reader_path):
    from transformers import AutoTokenizer

    from qa.training.reader import answer_windows, build_features

    tok = AutoTokenizer.from_pretrained(reader_path)
    long_ctx = "Filler sentence number one. " * 30 + "The river is the Seine. " + "More filler here. " * 30
    examples = [
        SquadExample("1", "What is the river?", long_ctx, ["the Seine"], [long_ctx.index("the Seine")]),
        SquadExample("2", "Who founded it?", long_ctx),
    ]
    enc, starts, ends = build_features(tok, examples, max_length=64, stride=16)
    assert len(enc["input_ids"]) > 6
    keep = answer_windows(enc, starts, [e.is_impossible for e in examples], seed=0)
    assert len(keep) == 2
    owner = [enc["overflow_to_sample_mapping"][w] for w in keep]
    assert owner == [0, 1]
    w = keep[0]
    assert tok.decode(enc["input_ids"][w][starts[w]:ends[w] + 1]) == "the seine"
    assert starts[keep[1]] == 0  # the unanswerable question's window points at null


def test_edited_unanswerables_are_counted_and_leave_the_rest_of_the_mixture_unchanged(tmp_path):
    from qa.training.mixture import MixItem

    f = _file(tmp_path / "p.json")
    plain = build_mixture([MixItem("mine", str(f))], neg_ratio=0.0, seed=3)
    edited = build_mixture([MixItem("mine", str(f))], neg_ratio=0.0, seed=3, unanswerable_ratio=1.0)
    extra = edited.examples[len(plain.examples):]
    assert [e.id for e in edited.examples[: len(plain.examples)]] == [e.id for e in plain.examples]
    assert extra and all(e.is_impossible and "#" in e.id for e in extra)
    assert edited.rows[0]["edited_unanswerables"] == len(extra) and plain.rows[0]["edited_unanswerables"] == 0


def test_newsqa_keeps_a_fixed_fifth_of_its_stories_out_of_training():
    from qa.training.mixture import is_held_out

    titles = [f"cnn_{i:04x}" for i in range(1000)]
    held = [t for t in titles if is_held_out(t)]
    assert 150 < len(held) < 250 and held == [t for t in titles if is_held_out(t)]
