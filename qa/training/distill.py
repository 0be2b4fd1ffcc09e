"""Distillation: the student reader also learns the teacher's start/end distributions.

The teacher (an MPNet reader) and the student (MiniLM, BERT-uncased) cut text into different tokens,
so their logits cannot be compared position by position. Each training window is given to the
teacher as the student reads it (the same question, the same slice of the context), and the
teacher's distributions over its own tokens are moved onto the student's through character offsets:
a teacher token's start probability goes to the student token holding its first character, its end
probability to the one holding its last, and the null position (the first token, ``<s>`` or
``[CLS]``) to the null position. Teacher tokens no student token holds lose their mass, and the rest
is renormalised. Running the teacher over 100k windows takes minutes even on a GPU, so its logits,
already placed on student positions, are computed once per teacher and data and kept in a cache file
outside the repository; any temperature is applied afterwards.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from qa.answer.reader.read import fit_questions, pad_batch
from qa.evaluation.squad import SquadExample
from qa.training.reader_data import kept_windows, mixture_key
from qa.training.reader_settings import TrainSettings
from qa.util.atomic import atomic_write_with

log = logging.getLogger(__name__)

DISTILL_RECIPE = "1"  # bump when the windows given to the teacher or the mapping change: old caches stop matching
TEACHER_MAX_LENGTH = 512  # the teacher reads the student's whole window: MPNet tokens are about as many as BERT's
TEACHER_QUESTION_TOKENS = 64
TEACHER_BATCH = 64


def student_positions(teacher_spans: np.ndarray, student_spans: np.ndarray,
                      positions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Where each teacher token's start and end probability land among the student's context tokens.

    ``teacher_spans`` and ``student_spans`` are [n, 2] character spans in the same text, the
    student's in order; ``positions`` are the student tokens' places in its window. A start lands on
    the first student token ending after the teacher token's first character, an end on the last
    student token starting before its end (the rules that place the gold labels); -1 where that
    token does not overlap the teacher token.
    """
    n = len(teacher_spans)
    to_start = np.full(n, -1, dtype=np.int32)
    to_end = np.full(n, -1, dtype=np.int32)
    if not n or not len(student_spans):
        return to_start, to_end
    a, b = teacher_spans[:, 0], teacher_spans[:, 1]
    s_begin, s_end = student_spans[:, 0], student_spans[:, 1]
    i = np.searchsorted(s_end, a, side="right")
    ok = (i < len(s_end)) & (s_begin[np.minimum(i, len(s_end) - 1)] < b)
    to_start[ok] = positions[i[ok]]
    j = np.searchsorted(s_begin, b, side="left") - 1
    ok = (j >= 0) & (s_end[np.maximum(j, 0)] > a)
    to_end[ok] = positions[j[ok]]
    return to_start, to_end


@dataclass
class TeacherTargets:
    """The teacher's logits for every training window, each entry placed on a student position.

    Window ``w`` owns entries ``rows[w]:rows[w + 1]``, the first being the null position; ``to_start``
    and ``to_end`` say which student position an entry's start and end probability move to (-1: none).
    ``student_lengths`` checks that a cache file belongs to the windows being trained on.
    """

    rows: np.ndarray
    start_logits: np.ndarray
    end_logits: np.ndarray
    to_start: np.ndarray
    to_end: np.ndarray
    student_lengths: np.ndarray

    def save(self, path: Path, key: dict) -> None:
        """numpy arrays only (no pickle), written to a temporary sibling and renamed into place."""
        path.parent.mkdir(parents=True, exist_ok=True)

        def write(tmp: Path) -> None:
            with open(tmp, "wb") as f:
                np.savez(f, key=np.frombuffer(json.dumps(key, sort_keys=True).encode(), dtype=np.uint8),
                         **{name: getattr(self, name) for name in self.__dataclass_fields__})

        atomic_write_with(path, write)

    @classmethod
    def load(cls, path: Path) -> TeacherTargets:
        with np.load(path, allow_pickle=False) as z:
            return cls(**{name: z[name] for name in cls.__dataclass_fields__})

    def batch(self, idx: list[int], device: str):
        """Padded tensors for a batch of windows: start and end logits (-inf pad), their student positions (-1 pad)."""
        import torch

        spans = [(self.rows[i], self.rows[i + 1]) for i in idx]
        width = max(b - a for a, b in spans)
        out = [np.full((len(idx), width), fill, dtype=dtype) for fill, dtype in
               ((-np.inf, np.float32), (-np.inf, np.float32), (-1, np.int64), (-1, np.int64))]
        for r, (a, b) in enumerate(spans):
            for arr, src in zip(out, (self.start_logits, self.end_logits, self.to_start, self.to_end)):
                arr[r, : b - a] = src[a:b]
        return tuple(torch.from_numpy(arr).to(device) for arr in out)


def soft_targets(logits, to, width: int, temperature: float):
    """The teacher's distribution at ``temperature`` moved onto ``width`` student positions, renormalised."""
    import torch

    p = torch.softmax(logits / temperature, dim=-1) * (to >= 0)
    q = torch.zeros(logits.shape[0], width, dtype=p.dtype, device=p.device).scatter_add_(1, to.clamp(min=0), p)
    return q / q.sum(-1, keepdim=True).clamp_min(1e-12)


def distill_loss(start_logits, end_logits, batch, temperature: float):
    """KL divergence of the student's softened start and end distributions from the teacher's, times T²
    (which keeps its gradients on the scale of the gold spans' cross-entropy)."""
    import torch.nn.functional as F

    t_start, t_end, to_start, to_end = batch

    def kl(student, teacher, to):
        q = soft_targets(teacher, to, student.shape[1], temperature)
        return (q * (q.clamp_min(1e-12).log() - F.log_softmax(student / temperature, dim=-1))).sum(-1)

    return ((kl(start_logits, t_start, to_start) + kl(end_logits, t_end, to_end)) / 2).mean() * temperature ** 2


def vocab_digest(tokenizer) -> str:
    """The student's vocabulary: the positions in a cache file are its tokens'."""
    items = sorted(tokenizer.get_vocab().items())
    return hashlib.sha256(f"{type(tokenizer).__name__}|{items}".encode()).hexdigest()[:20]


def cache_key(teacher: str, tokenizer, settings: TrainSettings) -> dict:
    """What fixes a cache file's content: the teacher's weights, the student's vocabulary, the windows."""
    from qa.util.onnx import source_digest

    return {"recipe": DISTILL_RECIPE, "teacher": source_digest(teacher, "teacher-logits", False),
            "student_vocab": vocab_digest(tokenizer), "data": json.loads(mixture_key(settings)),
            "teacher_max_length": TEACHER_MAX_LENGTH}


def cache_path(folder: Path, key: dict) -> Path:
    return folder / f"teacher-logits-{hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:20]}.npz"


@dataclass
class TeacherInput:
    """One student window as the teacher reads it: the question and the context slice the window holds."""

    question: str
    text: str
    student_spans: np.ndarray  # the student's context tokens' character spans in ``text``
    positions: np.ndarray  # and their places in the student's window


def teacher_inputs(part: list[SquadExample], enc, keep) -> list[TeacherInput]:
    """The kept windows of one block of the student's encoding, cut to the characters each covers."""
    out = []
    for w in keep:
        ex = part[enc["overflow_to_sample_mapping"][w]]
        positions = np.array([i for i, c in enumerate(enc["context_mask"][w]) if c], dtype=np.int64)
        spans = np.array([enc["offset_mapping"][w][i] for i in positions], dtype=np.int64).reshape(-1, 2)
        c0 = int(spans[0, 0]) if len(spans) else 0
        c1 = int(spans[-1, 1]) if len(spans) else 0
        out.append(TeacherInput(ex.question, ex.context[c0:c1], spans - c0, positions))
    return out


class TeacherRunner:
    """The teacher model and tokenizer, reading windows in length-sorted batches."""

    def __init__(self, path: str, device: str, bf16: bool) -> None:
        import torch
        from transformers import AutoModelForQuestionAnswering, AutoTokenizer

        self.tokenizer = AutoTokenizer.from_pretrained(path)
        self.model = AutoModelForQuestionAnswering.from_pretrained(path, dtype=torch.float32).to(device).eval()
        self.device, self.bf16 = device, bf16

    def logits(self, inputs: list[TeacherInput]) -> list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]]:
        """Per window: start and end logits of the null and context tokens, and where they land in the student."""
        import contextlib

        import torch

        tok = self.tokenizer
        questions = fit_questions(tok, [x.question for x in inputs], TEACHER_QUESTION_TOKENS)
        enc = tok(questions, [x.text for x in inputs], truncation="only_second",
                  max_length=min(TEACHER_MAX_LENGTH, tok.model_max_length),
                  return_offsets_mapping=True, padding=False)
        types = "token_type_ids" in tok.model_input_names and "token_type_ids" in enc
        order = sorted(range(len(inputs)), key=lambda i: len(enc["input_ids"][i]))
        out: list = [None] * len(inputs)
        autocast = (torch.autocast(torch.device(self.device).type, dtype=torch.bfloat16) if self.bf16
                    else contextlib.nullcontext())
        for b in range(0, len(order), TEACHER_BATCH):
            idx = order[b : b + TEACHER_BATCH]
            feed = {"input_ids": pad_batch([enc["input_ids"][i] for i in idx], tok.pad_token_id or 0),
                    "attention_mask": pad_batch([[1] * len(enc["input_ids"][i]) for i in idx], 0)}
            if types:
                feed["token_type_ids"] = pad_batch([enc["token_type_ids"][i] for i in idx], 0)
            with torch.inference_mode(), autocast:
                res = self.model(**{k: torch.from_numpy(v).to(self.device) for k, v in feed.items()})
            starts, ends = res.start_logits.float().cpu().numpy(), res.end_logits.float().cpu().numpy()
            for r, i in enumerate(idx):
                ctx = [t for t, sid in enumerate(enc.sequence_ids(i)) if sid == 1]
                spans = np.array([enc["offset_mapping"][i][t] for t in ctx], dtype=np.int64).reshape(-1, 2)
                to_s, to_e = student_positions(spans, inputs[i].student_spans, inputs[i].positions)
                keep = [0] + ctx
                out[i] = (starts[r, keep], ends[r, keep], np.concatenate([[0], to_s]), np.concatenate([[0], to_e]))
        return out


def compute_targets(teacher: str, tokenizer, examples: list[SquadExample], settings: TrainSettings,
                    device: str) -> TeacherTargets:
    """Run the teacher over every training window, block by block (the windows ``training_windows`` keeps)."""
    runner = TeacherRunner(teacher, device, settings.precision == "bf16")
    parts: list[tuple] = []
    lengths: list[int] = []
    t0 = time.time()
    max_length = settings.train_max_length or settings.max_length
    for part, enc, _, _, keep in kept_windows(tokenizer, examples, max_length, settings):
        keep = list(keep)
        parts.extend(runner.logits(teacher_inputs(part, enc, keep)))
        lengths.extend(len(enc["input_ids"][w]) for w in keep)
        log.info("teacher logits: %d windows (%.0f a second)", len(lengths), len(lengths) / max(1e-9, time.time() - t0))
    del runner
    sizes = np.array([len(p[0]) for p in parts], dtype=np.int64)
    cat = [np.concatenate([p[k] for p in parts]) if parts else np.zeros(0) for k in range(4)]
    return TeacherTargets(np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64), cat[0].astype(np.float32),
                          cat[1].astype(np.float32), cat[2].astype(np.int32), cat[3].astype(np.int32),
                          np.array(lengths, dtype=np.int32))


def teacher_targets(settings: TrainSettings, tokenizer, examples: list[SquadExample], lengths: list[int],
                    device: str, folder: Path) -> TeacherTargets:
    """The teacher's targets for these windows: from the cache when this teacher already read this data."""
    from qa.training.reader_settings import repo_path

    teacher = repo_path(settings.teacher)
    key = cache_key(teacher, tokenizer, settings)
    path = cache_path(folder, key)
    if path.exists():
        targets = TeacherTargets.load(path)
        if targets.student_lengths.tolist() == list(lengths):
            log.info("teacher logits reused from %s", path)
            return targets
        log.warning("%s does not match this run's windows: computing the teacher's logits again", path)
    log.info("computing the teacher's logits for %d windows (cached in %s)", len(lengths), path)
    targets = compute_targets(teacher, tokenizer, examples, settings, device)
    if targets.student_lengths.tolist() != list(lengths):
        raise RuntimeError("the teacher read other windows than the student trains on")
    targets.save(path, key)
    return targets
