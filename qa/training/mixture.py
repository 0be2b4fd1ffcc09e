"""Training mixtures for the reader: several SQuAD-format sources, sampled, plus no-answer pairs made from the data.

A mixture spec reads ``name=COUNT`` items separated by commas, where COUNT is
a number of questions to sample, ``all``, or ``xK`` (every question K times).
Names are the files in ``shared/data/qa_train`` (``squad11``, ``subjqa``,
``tweetqa``, ``covidqa``, ``amazon``) and ``squad2`` (``--train``); an item may
also be a path to any SQuAD-format file (``path/to/file.json=all``).

The product reads five passages per question and usually only one holds the
answer, so the reader must learn to refuse a passage that is merely on topic.
``add_other_paragraph_negatives`` pairs answerable questions with another
paragraph of the same article (the one sharing most words with the question,
a near miss) that does not contain the answer, labelled "no answer".
``add_edited_unanswerables`` adds the other near miss SQuAD 2.0 is made of: the
question edited (entity swapped, antonym, negation) on its own paragraph.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import random
import re
from dataclasses import dataclass
from pathlib import Path

from qa.evaluation.squad import SquadExample
from qa.text.normalize import normalize_answer
from qa.text.terms import WH_WORDS

SOURCES = {
    "squad11": "qa_train/squad11_train.json.gz",
    "subjqa": "qa_train/subjqa.json.gz",
    "tweetqa": "qa_train/tweetqa.json.gz",
    "covidqa": "qa_train/covidqa.json.gz",
    "amazon": "qa_train/squadshifts_amazon.json.gz",
    "newsqa": "qa_train/newsqa_train.json.gz",
}

# Sources with a fixed share of their articles kept out of training, as a dev set of their own domain:
# NewsQA's CNN stories are the news our users ask about, so a fifth of them (chosen by a hash of the
# story id, the same on every machine) is the news dev set for selection and calibration.
HELD_OUT_FIFTH = frozenset({"newsqa"})

_WORD = re.compile(r"\w+", re.UNICODE)
# Shorter than qa.text.terms.STOP_WORDS on purpose: near_miss_paragraph ranks sibling paragraphs by the words
# left, and the full list picks another paragraph for about one question in seven (SQuAD train), so the same
# mixture spec and seed would no longer build the same training data.
_STOP = WH_WORDS | frozenset(
    "a an the of in on at to for by with from and or as into than then there that this these those "
    "is are was were be been do does did it its they their he his she her".split()
)


@dataclass(frozen=True)
class MixItem:
    """One source of a mixture: where it is and how many of its questions to take."""

    name: str
    path: str
    count: int | None = None  # None: all questions
    repeat: int = 1


@dataclass
class Article:
    """The paragraphs of one article, kept so that negatives can come from a sibling paragraph."""

    title: str
    source: str
    paragraphs: list[str]
    examples: list[tuple[int, SquadExample]]  # (paragraph index, example)
    _words: list[set[str]] | None = None
    _norm: list[str] | None = None

    def paragraph_words(self) -> tuple[list[set[str]], list[str]]:
        """Content words and normalised text of every paragraph, computed once per article."""
        if self._words is None:
            self._words = [_content_words(p) for p in self.paragraphs]
            self._norm = [normalize_answer(p) for p in self.paragraphs]
        return self._words, self._norm


def parse_mix(spec: str, data_dir: Path, squad2_train: str) -> list[MixItem]:
    """``squad11=50000,squad2=x2,subjqa=all`` -> items, with paths resolved and errors that name the item."""
    items = []
    for part in (p.strip() for p in spec.split(",") if p.strip()):
        name, _, count = part.partition("=")
        name, count = name.strip(), (count.strip() or "all")
        if name == "squad2":
            path = squad2_train
        elif name in SOURCES:
            path = str(data_dir / SOURCES[name])
        elif Path(name).exists():
            path = name
        else:
            raise ValueError(f"mixture item {part!r}: unknown source {name!r} (known: squad2, {', '.join(SOURCES)}, or a file)")
        if count == "all":
            items.append(MixItem(name, path))
        elif count.startswith("x") and count[1:].isdigit():
            items.append(MixItem(name, path, repeat=int(count[1:])))
        elif count.isdigit():
            items.append(MixItem(name, path, count=int(count)))
        else:
            raise ValueError(f"mixture item {part!r}: count must be a number, 'all' or xK")
    return items


def load_articles(path: str | Path) -> list[Article]:
    """A SQuAD 1.1/2.0 file, plain or gzipped, as articles with their paragraphs."""
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as f:
        data = json.load(f)
    if not isinstance(data, dict) or "data" not in data:
        raise ValueError(f"{path}: not a SQuAD file (expected a JSON object with a 'data' list)")
    articles = []
    for art in data["data"]:
        paragraphs, examples = [], []
        for p_i, para in enumerate(art.get("paragraphs", [])):
            paragraphs.append(para["context"])
            for qa in para.get("qas", []):
                answers = [] if qa.get("is_impossible") else qa.get("answers", [])
                examples.append((p_i, SquadExample(
                    id=str(qa["id"]), question=qa["question"], context=para["context"],
                    answers=[a["text"] for a in answers], answer_starts=[int(a["answer_start"]) for a in answers],
                    title=art.get("title", ""),
                )))
        articles.append(Article(art.get("title", ""), art.get("source", path.name), paragraphs, examples))
    return articles


def is_held_out(title: str) -> bool:
    """Whether an article belongs to the held-out fifth (a stable hash of its title, not Python's salted one)."""
    return int(hashlib.sha1(title.encode("utf-8")).hexdigest(), 16) % 5 == 0


def split_held_out(articles: list[Article]) -> tuple[list[Article], list[Article]]:
    """(training articles, held-out dev articles) of a source in HELD_OUT_FIFTH."""
    train = [a for a in articles if not is_held_out(a.title)]
    dev = [a for a in articles if is_held_out(a.title)]
    return train, dev


def _content_words(text: str) -> set[str]:
    return {w for w in _WORD.findall(text.lower()) if w not in _STOP and len(w) > 1}


def near_miss_paragraph(question: str, answers: list[str], article: Article, own: int) -> int | None:
    """The sibling paragraph sharing most content words with the question that contains no gold answer."""
    q = _content_words(question)
    golds = [normalize_answer(a) for a in answers if normalize_answer(a)]
    words, norms = article.paragraph_words()
    best, best_overlap = None, -1
    for i in range(len(article.paragraphs)):
        if i == own or any(g in norms[i] for g in golds):
            continue
        overlap = len(q & words[i])
        if overlap > best_overlap:
            best, best_overlap = i, overlap
    return best


def add_other_paragraph_negatives(articles: list[Article], chosen: list[SquadExample], ratio: float,
                                  rng: random.Random) -> list[SquadExample]:
    """No-answer pairs for about ``ratio`` of the chosen answerable questions whose article has other paragraphs."""
    where = {id(ex): (a, p) for a in articles for p, ex in a.examples}
    out = []
    for ex in chosen:
        if ex.is_impossible or rng.random() >= ratio or id(ex) not in where:
            continue
        art, own = where[id(ex)]
        if len(art.paragraphs) < 2:
            continue
        other = near_miss_paragraph(ex.question, ex.answers, art, own)
        if other is None:
            continue
        out.append(SquadExample(id=f"{ex.id}#neg", question=ex.question, context=art.paragraphs[other],
                                title=ex.title))
    return out


@dataclass
class Mixture:
    """The sampled training questions and a record of how they were drawn (for the model card)."""

    examples: list[SquadExample]
    rows: list[dict]


def add_edited_unanswerables(articles: list[Article], chosen: list[SquadExample], ratio: float,
                             rng: random.Random) -> list[SquadExample]:
    """SQuAD 2.0-style unanswerable twins (swapped entity, antonym, negation; see qa.training.unanswerable)
    for about ``ratio`` of the chosen answerable questions, each on the paragraph that answered it."""
    from qa.training.unanswerable import article_pool, make_unanswerable

    if ratio <= 0:
        return []
    where = {id(ex): a for a in articles for _, ex in a.examples}
    pools: dict[int, dict[str, list[str]]] = {}
    out = []
    for ex in chosen:
        if ex.is_impossible or rng.random() >= ratio or id(ex) not in where:
            continue
        art = where[id(ex)]
        pool = pools.get(id(art))
        if pool is None:
            pool = pools[id(art)] = article_pool(art.paragraphs)
        twin = make_unanswerable(ex, pool, rng)
        if twin is not None:
            out.append(twin)
    return out


def build_mixture(items: list[MixItem], neg_ratio: float, seed: int, unanswerable_ratio: float = 0.0) -> Mixture:
    rng = random.Random(seed)
    # Edited questions draw from their own generator, so adding them leaves the rest of the mixture as it was.
    edit_rng = random.Random(seed + 1)
    examples: list[SquadExample] = []
    rows = []
    for item in items:
        articles = load_articles(item.path)
        if item.name in HELD_OUT_FIFTH:
            articles, _ = split_held_out(articles)
        pool = [ex for a in articles for _, ex in a.examples]
        if item.count is not None and item.count < len(pool):
            chosen = rng.sample(pool, item.count)
        else:
            chosen = pool * item.repeat
        negs = add_other_paragraph_negatives(articles, chosen, neg_ratio, rng)
        edited = add_edited_unanswerables(articles, chosen, unanswerable_ratio, edit_rng)
        examples.extend(chosen)
        examples.extend(negs)
        examples.extend(edited)
        rows.append({
            "source": item.name, "file": item.path, "available": len(pool),
            "available_unanswerable": sum(ex.is_impossible for ex in pool),
            "sampled": len(chosen), "unanswerable": sum(ex.is_impossible for ex in chosen),
            "other_paragraph_negatives": len(negs), "edited_unanswerables": len(edited),
        })
    return Mixture(examples, rows)
