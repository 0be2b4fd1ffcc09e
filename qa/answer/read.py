"""The extractive reader: question + passages in, scored answer spans out.

All windows of all passages of a question go through the model in batched
forward passes; decoding (``qa.answer.decode``) ranks spans on raw logit sums across
passages and decides no-answer against the null score with the threshold
stored beside the model.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from qa.answer.decode import SpanCandidate, confidence, decode

log = logging.getLogger(__name__)

READER_META = "reader.json"
_SENTENCE_START = re.compile(r"(?:[.!?]\s|\n)\S")  # matched just before a token start
MAX_QUESTION_TOKENS = 64  # SQuAD questions run to ~30 tokens; the rest of a 256-token window is passage


@dataclass
class ReadResult:
    """The reader's view of one question over its passages."""

    candidates: list[SpanCandidate]  # best first, overlaps merged
    null_score: float
    threshold: float
    texts: list[str] = field(default_factory=list)  # passage texts, for span text
    question: str = ""
    verifier: Any = None  # qa.answer.verify.VerifierModel stored with the reader, if any

    @property
    def best(self) -> SpanCandidate | None:
        return self.candidates[0] if self.candidates else None

    @property
    def margin(self) -> float:
        """Best span score minus null score: how much the model prefers answering."""
        return self.best.score - self.null_score if self.best else float("-inf")

    @property
    def has_answer(self) -> bool:
        """The best span clears the margin threshold and, with a verifier, its answer cut-off."""
        if self.best is None or self.margin <= self.threshold:
            return False
        return self.verifier is None or self.confidence > self.verifier.cutoff

    @property
    def confidence(self) -> float:
        return self.probability(self.best) if self.best else 0.0

    def probability(self, cand: SpanCandidate) -> float:
        """Confidence that ``cand`` answers the question: the verifier's P(right) when the reader has
        one, else the sigmoid of its margin over the threshold (0.5 at the threshold)."""
        margin = cand.score - self.null_score
        if self.verifier is None:
            return confidence(margin, self.threshold)
        from qa.answer.verify import features

        x = features(self.question, self.texts[cand.passage], cand.start, cand.end, cand.score, self.null_score)
        return float(self.verifier.probability(x)[0])

    def span_text(self, cand: SpanCandidate | None = None) -> str:
        cand = cand or self.best
        return self.texts[cand.passage][cand.start : cand.end] if cand else ""


def question_budget(max_length: int, stride: int) -> int:
    """Question tokens allowed in a window: ``MAX_QUESTION_TOKENS``, less if the window is small.

    The context part of each window must stay longer than the stride, or the
    tokenizer cannot make overlapping windows (3 special tokens, 1 spare).
    """
    return max(1, min(MAX_QUESTION_TOKENS, max_length - stride - 4))


def fit_questions(tokenizer: Any, questions: list[str], budget: int) -> list[str]:
    """Each question cut to its last ``budget`` tokens, at a token boundary.

    A long paste usually ends with the question itself ("…article text…
    So what did Pakistan agree to?"), so the end is what is kept.
    """
    out = [q.strip() for q in questions]
    # No tokenizer makes more tokens than characters: only longer questions need a look.
    long = [i for i, q in enumerate(out) if len(q) > budget]
    if not long:
        return out
    enc = tokenizer([out[i] for i in long], add_special_tokens=False, return_offsets_mapping=True)
    for i, offsets in zip(long, enc["offset_mapping"]):
        if len(offsets) <= budget:
            continue
        out[i] = out[i][_cut(out[i], [a for a, _ in offsets[len(offsets) - budget :]]) :].strip()
    return out


def _cut(q: str, starts: list[int]) -> int:
    """Where to cut a long question, given the start offsets of the tokens that fit.

    The start of the sentence holding the last '?' when it fits ("… So what did
    Pakistan agree to?"), else the first sentence start, else the first word
    start: whole words tokenize as they did, so the cut never adds tokens.
    """
    sentences = [a for a in starts if a > 0 and _SENTENCE_START.match(q, max(a - 2, 0), a + 1)]
    last_q = q.rfind("?")
    asking = [a for a in sentences if a < last_q]
    if asking:
        return asking[-1]
    if sentences:
        return sentences[0]
    return next((a for a in starts if a == 0 or q[a - 1].isspace()), starts[0])


def encode(tokenizer: Any, questions: list[str], contexts: list[str], max_length: int, stride: int):
    """Question + context windows with stride, offsets and a context-token mask.

    The same featurisation serves training and inference, so the model sees
    at run time exactly what it was trained on. Questions longer than
    ``question_budget`` tokens keep their end (training questions are far
    shorter, so training is unchanged).
    """
    budget = question_budget(max_length, stride)
    enc = tokenizer(
        fit_questions(tokenizer, questions, budget),
        contexts,
        truncation="only_second",
        max_length=max_length,
        stride=stride,
        return_overflowing_tokens=True,
        return_offsets_mapping=True,
        padding=False,
    )
    enc["context_mask"] = [
        [sid == 1 for sid in enc.sequence_ids(i)] for i in range(len(enc["input_ids"]))
    ]
    return enc


def pad_batch(rows: list[list[int]], pad: int) -> np.ndarray:
    width = max(len(r) for r in rows)
    out = np.full((len(rows), width), pad, dtype=np.int64)
    for i, r in enumerate(rows):
        out[i, : len(r)] = r
    return out


def quantize_int8(model: Any) -> Any:
    """Dynamic int8 quantization of the linear layers: a smaller, faster CPU reader."""
    import warnings

    import torch
    from torch.ao.quantization import quantize_dynamic

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch marks quantized tensors deprecated; they still work
        return quantize_dynamic(model, {torch.nn.Linear}, dtype=torch.qint8)


def read_meta(model_path: str | Path) -> dict:
    """The decoding settings and provenance stored with one of our readers ({} for other QA models)."""
    path = Path(model_path) / READER_META
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}


class Reader:
    """Extractive QA over passages with a transformers QA model; loads lazily."""

    def __init__(
        self,
        model_path: str | Path,
        max_length: int | None = None,
        stride: int | None = None,
        max_answer_tokens: int | None = None,
        null_threshold: float | None = None,
        batch_size: int = 32,
        top_n: int = 20,
        int8: bool = False,
    ) -> None:
        self.model_path = str(model_path)
        self.max_length = max_length
        self.stride = stride
        self.max_answer_tokens = max_answer_tokens
        self.null_threshold = null_threshold
        self.batch_size = batch_size
        self.top_n = top_n
        self.int8 = int8
        self._model = None
        self._tokenizer = None
        self.verifier = None  # loaded with the model from verifier.json, when present

    @classmethod
    def from_model(cls, model: Any, tokenizer: Any, **settings: Any) -> "Reader":
        """Wrap an already loaded model (used while training, for dev scores)."""
        reader = cls(model_path="<in memory>", **settings)
        reader._model, reader._tokenizer = model, tokenizer
        reader._fill_defaults({})
        return reader

    def _fill_defaults(self, meta: dict) -> None:
        if self.max_length is None:
            self.max_length = int(meta.get("max_length", 256))
        if self.stride is None:
            self.stride = int(meta.get("stride", 96))
        if self.max_answer_tokens is None:
            self.max_answer_tokens = int(meta.get("max_answer_tokens", 30))
        if self.null_threshold is None:
            self.null_threshold = float(meta.get("null_threshold", 0.0))

    def load(self) -> None:
        if self._model is not None:
            return
        import torch
        from transformers import AutoModelForQuestionAnswering, AutoTokenizer

        path = Path(self.model_path)
        if path.exists() and not (path / "config.json").exists():
            raise FileNotFoundError(
                f"reader model folder {path} has no config.json: train one with "
                "`qa train-reader` or set QA_READER_MODEL to a QA model"
            )
        self._fill_defaults(read_meta(path))
        from qa.answer.verify import VerifierModel

        self.verifier = VerifierModel.load(path) if path.exists() else None
        log.info("loading reader from %s", path)
        self._tokenizer = AutoTokenizer.from_pretrained(str(path))
        # Weights ship in fp16 to keep the repo small; CPUs lack fast fp16 kernels, so upcast.
        self._model = AutoModelForQuestionAnswering.from_pretrained(str(path), dtype=torch.float32)
        self._model.eval()
        if self.int8:
            self._model = quantize_int8(self._model)

    def read(self, question: str, passages: list[str]) -> ReadResult:
        return self.read_many([(question, passages)])[0]

    def read_many(self, items: list[tuple[str, list[str]]]) -> list[ReadResult]:
        """Read several questions, each over its own passages, in shared batches."""
        import torch

        self.load()
        pair_q, pair_c, pair_owner = [], [], []
        for qi, (question, passages) in enumerate(items):
            for pi, text in enumerate(passages):
                pair_q.append(question)
                pair_c.append(text)
                pair_owner.append((qi, pi))
        results = [
            ReadResult([], float("inf"), self.null_threshold, texts=list(p), question=q, verifier=self.verifier)
            for q, p in items
        ]
        if not pair_q:
            return results
        enc = encode(self._tokenizer, pair_q, pair_c, self.max_length, self.stride)
        n = len(enc["input_ids"])
        start_by: dict[int, np.ndarray] = {}
        end_by: dict[int, np.ndarray] = {}
        pad = self._tokenizer.pad_token_id or 0
        order = sorted(range(n), key=lambda i: len(enc["input_ids"][i]))  # less padding
        with torch.inference_mode():
            for b in range(0, n, self.batch_size):
                idx = order[b : b + self.batch_size]
                ids = pad_batch([enc["input_ids"][i] for i in idx], pad)
                mask = pad_batch([[1] * len(enc["input_ids"][i]) for i in idx], 0)
                inputs = {"input_ids": torch.from_numpy(ids), "attention_mask": torch.from_numpy(mask)}
                if "token_type_ids" in enc:
                    inputs["token_type_ids"] = torch.from_numpy(
                        pad_batch([enc["token_type_ids"][i] for i in idx], 0)
                    )
                out = self._model(**inputs)
                for row, i in enumerate(idx):
                    length = len(enc["input_ids"][i])
                    start_by[i] = out.start_logits[row, :length].float().numpy()
                    end_by[i] = out.end_logits[row, :length].float().numpy()
        windows: dict[int, list[int]] = {}
        for w in range(n):
            windows.setdefault(pair_owner[enc["overflow_to_sample_mapping"][w]][0], []).append(w)
        for qi, ws in windows.items():
            width = max(len(enc["input_ids"][w]) for w in ws)
            s = np.full((len(ws), width), -1e4, dtype=np.float32)
            e = np.full((len(ws), width), -1e4, dtype=np.float32)
            offs = np.zeros((len(ws), width, 2), dtype=np.int64)
            cmask = np.zeros((len(ws), width), dtype=bool)
            for r, w in enumerate(ws):
                length = len(enc["input_ids"][w])
                s[r, :length] = start_by[w]
                e[r, :length] = end_by[w]
                offs[r, :length] = [o if o is not None else (0, 0) for o in enc["offset_mapping"][w]]
                cmask[r, :length] = enc["context_mask"][w]
            passage_of = [pair_owner[enc["overflow_to_sample_mapping"][w]][1] for w in ws]
            cands, null = decode(s, e, offs, cmask, passage_of, self.max_answer_tokens, self.top_n)
            results[qi] = ReadResult(cands, null, self.null_threshold, texts=list(items[qi][1]),
                                     question=items[qi][0], verifier=self.verifier)
        return results
