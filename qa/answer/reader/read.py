"""The extractive reader: question + passages in, scored answer spans out.

Every window of every passage goes through the model: on ONNX Runtime one window per call (int8
by default, exported from the shipped weights on first use), on torch in batches cut to waste
little on padding. Decoding (``qa.answer.reader.decode``) ranks spans on raw logit sums across passages
and decides no-answer against the null score with the threshold stored beside the model.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from qa.answer.reader.decode import SpanCandidate, confidence, decode
from qa.answer.reader.folder import check_qa_folder, usable_positions, uses_token_types, window_settings
from qa.text.sentences import trimmed
from qa.util.onnx import READER_RUNTIMES, Runtime, auto_reader_runtime, check_runtime, load_model

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
    verifier: Any = None  # qa.answer.confidence.verify.VerifierModel stored with the reader, if any
    calibrator: Any = None  # qa.answer.confidence.calibrate.Calibrator stored with the reader, if any

    @property
    def best(self) -> SpanCandidate | None:
        return self.candidates[0] if self.candidates else None

    @property
    def margin(self) -> float:
        """Best span score minus null score: how much the model prefers answering."""
        return self.best.score - self.null_score if self.best else float("-inf")

    def probability(self, cand: SpanCandidate) -> float:
        """The reader's own confidence that ``cand`` answers the question, used when no end-to-end
        calibration is fitted for it: the verifier's P(right) when the reader has one, else the
        sigmoid of its margin over the threshold (0.5 at the threshold). What is shown and decided
        is ``qa.answer.decide``'s."""
        margin = cand.score - self.null_score
        if self.verifier is None:
            return confidence(margin, self.threshold)
        from qa.answer.confidence.verify import features

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


# One more forward pass costs about as much as this many padded tokens. Measured for torch fp32 on 12
# questions x 5 BBC paragraphs: 112 ms/question at 24 (and 64), 121 at 0 (a call per length), 125 in one batch.
CALL_COST_TOKENS = 24


def plan_batches(lengths: list[int], max_rows: int, call_cost: int = CALL_COST_TOKENS) -> list[tuple[int, int]]:
    """Cut windows sorted by length into batches that waste the least work on padding.

    A batch costs rows x its longest window, plus ``call_cost`` for the call itself; a dynamic
    programme over the sorted lengths finds the cheapest cut, at most ``max_rows`` a batch. Five
    passages of 120-190 tokens become two or three batches instead of one padded to 190.
    """
    n = len(lengths)
    best = [0.0] + [float("inf")] * n
    cut = [0] * (n + 1)
    for i in range(1, n + 1):
        for j in range(max(0, i - max_rows), i):
            cost = best[j] + (i - j) * lengths[i - 1] + call_cost
            if cost < best[i]:
                best[i], cut[i] = cost, j
    out: list[tuple[int, int]] = []
    i = n
    while i > 0:
        out.append((cut[i], i))
        i = cut[i]
    return out[::-1]


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


def strip_spans(cands: list[SpanCandidate], texts: list[str]) -> list[SpanCandidate]:
    """Spans without edge whitespace, and none that is only whitespace: SentencePiece and byte-level
    tokens ("▁plan", "Ġplan") may carry the space before a word in their offsets."""
    out = []
    for c in cands:
        start, end = trimmed(texts[c.passage], c.start, c.end)
        if start < end:
            out.append(c if (start, end) == (c.start, c.end) else replace(c, start=start, end=end))
    return out


class TorchQA:
    """A transformers QA model run by torch: the exact fp32 path (or torch's dynamic int8)."""

    def __init__(self, model: Any, rows_per_call: int | None = None) -> None:
        self.model = model
        self.rows_per_call = rows_per_call  # None: as many windows per call as the reader's batch size
        self.token_types = uses_token_types(model)

    @classmethod
    def load(cls, path: str, int8: bool = False) -> "TorchQA":
        import torch
        from transformers import AutoModelForQuestionAnswering

        # Weights ship in fp16 to keep the repo small; CPUs lack fast fp16 kernels, so upcast.
        model = AutoModelForQuestionAnswering.from_pretrained(path, dtype=torch.float32).eval()
        return cls(quantize_int8(model), rows_per_call=1) if int8 else cls(model)

    def __call__(self, ids: np.ndarray, mask: np.ndarray, types: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        import torch

        param = next(self.model.parameters(), None)  # a model being trained on a GPU is scored there
        device = param.device if param is not None else "cpu"
        inputs = {"input_ids": torch.from_numpy(ids).to(device), "attention_mask": torch.from_numpy(mask).to(device)}
        if types is not None and self.token_types:
            inputs["token_type_ids"] = torch.from_numpy(types).to(device)
        with torch.inference_mode():
            out = self.model(**inputs)
        return out.start_logits.float().cpu().numpy(), out.end_logits.float().cpu().numpy()


# Kept fp32 in the int8 reader: the feed-forward output of the first two layers (and the 2-wide
# head). Measured on dev (README "Speed"): all-int8 costs 1.06 F1, this 0.52 at 4% of the speed;
# all six feed-forward outputs in fp32 cost 0.25 F1 but 20% of the speed.
READER_FP32_NODES: tuple[str, ...] = ("layer.0/output/dense", "layer.1/output/dense", "qa_outputs")


class OnnxQA:
    """The same QA model exported to ONNX and run by ONNX Runtime (fp32, or int8 weights)."""

    def __init__(self, session: Any, rows_per_call: int | None = None) -> None:
        self.session = session
        self.inputs = {i.name for i in session.get_inputs()}
        # One window per call. Dynamic int8 takes one activation scale per call, so windows batched
        # together would change each other's scores: alone, a passage's score is its own (the same
        # answer however many questions are read at once). And with no padding it is as fast or faster:
        # 12 questions x 5 BBC paragraphs, ms/question, one call per window vs padding-aware batches vs
        # one batch: int8 45 / 44 / 52, fp32 53 / 67 / 79.
        self.rows_per_call = rows_per_call

    @classmethod
    def load(cls, path: Path, int8: bool = True, threads: int | None = None) -> "OnnxQA":
        from qa.util.onnx import cached_model, session

        def export(out: Path) -> None:
            import torch

            from qa.util.onnx import export_module

            model = TorchQA.load(str(path)).model
            names = ["input_ids", "attention_mask"] + (["token_type_ids"] if uses_token_types(model) else [])
            export_module(model, {n: torch.ones((1, 8), dtype=torch.long) for n in names},
                          ["start_logits", "end_logits"], out)

        return cls(session(cached_model(path, "reader", int8, export, READER_FP32_NODES), threads),
                   rows_per_call=1)

    def __call__(self, ids: np.ndarray, mask: np.ndarray, types: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        feed = {"input_ids": ids, "attention_mask": mask}
        if "token_type_ids" in self.inputs:
            feed["token_type_ids"] = types if types is not None else np.zeros_like(ids)
        start, end = self.session.run(["start_logits", "end_logits"], feed)
        return start, end


def _load_fit(kind: Any, path: Path) -> Any:
    """A confidence model stored beside the reader, or None when there is none or it no longer fits this
    version (its features changed): the reader then answers with its own, uncalibrated, confidence and
    says so, rather than not answering at all."""
    if not path.exists():
        return None
    try:
        return kind.load(path)
    except (ValueError, TypeError, KeyError) as e:
        log.warning("%s is not used: %s", Path(path) / kind.FILE, e)
        return None


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
        runtime: str = "auto",
        threads: int | None = None,
    ) -> None:
        self.model_path = str(model_path)
        self.max_length = max_length
        self.stride = stride
        self.max_answer_tokens = max_answer_tokens
        self.null_threshold = null_threshold
        self.batch_size = batch_size
        self.top_n = top_n
        asked = check_runtime(runtime, READER_RUNTIMES)
        self.runtime: Runtime = auto_reader_runtime() if asked == "auto" else asked  # torch is exact fp32
        self.threads = threads
        self._model: Any = None  # a QAModel: (ids, mask, types) -> start and end logits
        self._tokenizer = None
        self.verifier = None  # loaded with the model from verifier.json, when present
        self.calibrator = None  # and from calibration.json

    @classmethod
    def from_model(cls, model: Any, tokenizer: Any, **settings: Any) -> "Reader":
        """Wrap an already loaded model (used while training, for dev scores)."""
        reader = cls(model_path="<in memory>", runtime="torch", **settings)
        reader._model, reader._tokenizer = TorchQA(model), tokenizer
        reader._fill_defaults({})
        return reader

    def _fill_defaults(self, meta: dict, positions: int | None = None) -> None:
        """Settings not given: ``meta``'s (our reader.json), else those of SQuAD 2.0 readers."""
        d = window_settings(meta, positions)
        if self.max_length is None:
            self.max_length = d.max_length
        if self.stride is None:
            self.stride = d.stride
        if self.max_answer_tokens is None:
            self.max_answer_tokens = d.max_answer_tokens
        if self.null_threshold is None:
            self.null_threshold = d.null_threshold

    def load(self) -> None:
        if self._model is not None:
            return
        from qa.util.tokenize import load_tokenizer

        path = Path(self.model_path)
        if path.exists() and not (path / "config.json").exists():
            raise FileNotFoundError(
                f"reader model folder {path} has no config.json: train one with "
                "`qa train-reader` or set QA_READER_MODEL to a QA model"
            )
        if path.exists():
            check_qa_folder(path)
        self._fill_defaults(read_meta(path), usable_positions(path))
        from qa.answer.confidence.calibrate import Calibrator
        from qa.answer.confidence.verify import VerifierModel

        self.verifier = _load_fit(VerifierModel, path)
        self.calibrator = _load_fit(Calibrator, path)
        log.info("loading reader from %s (%s)", path, self.runtime)
        self._tokenizer = load_tokenizer(path)  # tokenizer.json read without transformers (and torch)
        self._model = load_model(self.runtime, path, onnx=lambda p, int8: OnnxQA.load(p, int8, self.threads),
                                 torch=TorchQA.load)

    def read(self, question: str, passages: list[str]) -> ReadResult:
        return self.read_many([(question, passages)])[0]

    def read_many(self, items: list[tuple[str, list[str]]]) -> list[ReadResult]:
        """Read several questions, each over its own passages, in shared batches."""
        self.load()
        pair_q, pair_c, pair_owner = [], [], []
        for qi, (question, passages) in enumerate(items):
            for pi, text in enumerate(passages):
                pair_q.append(question)
                pair_c.append(text)
                pair_owner.append((qi, pi))
        results = [
            ReadResult([], float("inf"), self.null_threshold, texts=list(p), question=q, verifier=self.verifier,
                       calibrator=self.calibrator)
            for q, p in items
        ]
        if not pair_q:
            return results
        enc = encode(self._tokenizer, pair_q, pair_c, self.max_length, self.stride)
        n = len(enc["input_ids"])
        start_by: dict[int, np.ndarray] = {}
        end_by: dict[int, np.ndarray] = {}
        pad = self._tokenizer.pad_token_id or 0
        order = sorted(range(n), key=lambda i: len(enc["input_ids"][i]))
        rows = self._model.rows_per_call or self.batch_size
        for a, b in plan_batches([len(enc["input_ids"][i]) for i in order], rows):
            idx = order[a:b]
            ids = pad_batch([enc["input_ids"][i] for i in idx], pad)
            mask = pad_batch([[1] * len(enc["input_ids"][i]) for i in idx], 0)
            types = pad_batch([enc["token_type_ids"][i] for i in idx], 0) if "token_type_ids" in enc else None
            starts, ends = self._model(ids, mask, types)
            for row, i in enumerate(idx):
                length = len(enc["input_ids"][i])
                start_by[i] = starts[row, :length]
                end_by[i] = ends[row, :length]
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
            cands = strip_spans(cands, items[qi][1])
            results[qi] = ReadResult(cands, null, self.null_threshold, texts=list(items[qi][1]),
                                     question=items[qi][0], verifier=self.verifier, calibrator=self.calibrator)
        return results
