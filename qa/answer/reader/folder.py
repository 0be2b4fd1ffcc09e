"""What the reader needs to know of a transformers QA folder that is not one of ours.

Our readers carry ``reader.json`` (window, stride, threshold); any other extractive QA folder
(BERT, RoBERTa, DeBERTa-v2/v3, MPNet, ELECTRA, ...) gets the settings SQuAD 2.0 readers are
trained and decoded with, cut to the positions the model has. Read from ``config.json`` and
``tokenizer_config.json`` only, so answering on ONNX still never imports torch.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# transformers' run_qa.py defaults: what most published SQuAD readers were fine-tuned with.
FOREIGN_MAX_LENGTH = 384
FOREIGN_STRIDE = 128
MAX_ANSWER_TOKENS = 30
NULL_THRESHOLD = 0.0  # the standard SQuAD 2.0 decode: answer when the best span beats the null score

# Position ids start after the padding id (RoBERTa's 514 embeddings hold 512 tokens).
PADDING_OFFSET_TYPES = frozenset({
    "roberta", "xlm-roberta", "xlm-roberta-xl", "camembert", "longformer", "data2vec-text", "xmod",
    "roberta-prelayernorm", "mpnet", "ibert", "luke", "mluke", "markuplm",
})
NO_LIMIT = 100_000  # model_max_length above this is transformers' "unset" (1e30)


@dataclass(frozen=True)
class WindowSettings:
    """How a reader cuts and decodes passages."""

    max_length: int
    stride: int
    max_answer_tokens: int
    null_threshold: float


def read_json(path: Path) -> dict:
    """A JSON object file, or {} when it is absent or unreadable."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def usable_positions(model_dir: str | Path) -> int | None:
    """The most tokens one window may hold: the model's position embeddings less any padding offset,
    and the tokenizer's ``model_max_length`` when it sets one; None when neither says."""
    path = Path(model_dir)
    config = read_json(path / "config.json")
    limits = []
    positions = config.get("max_position_embeddings")
    if isinstance(positions, int) and positions > 0:
        if config.get("model_type") in PADDING_OFFSET_TYPES:
            positions -= int(config.get("pad_token_id") or 0) + 1
        limits.append(positions)
    tok_max = read_json(path / "tokenizer_config.json").get("model_max_length")
    if isinstance(tok_max, (int, float)) and 0 < tok_max < NO_LIMIT:
        limits.append(int(tok_max))
    return min(limits) if limits else None


def window_settings(meta: dict, positions: int | None = None) -> WindowSettings:
    """Our reader.json's settings where it has them, else the SQuAD 2.0 defaults, within ``positions``."""
    max_length = int(meta.get("max_length", FOREIGN_MAX_LENGTH))
    if positions is not None:
        max_length = min(max_length, positions)
    return WindowSettings(
        max_length=max_length,
        stride=int(meta.get("stride", min(FOREIGN_STRIDE, max_length // 3))),
        max_answer_tokens=int(meta.get("max_answer_tokens", MAX_ANSWER_TOKENS)),
        null_threshold=float(meta.get("null_threshold", NULL_THRESHOLD)),
    )


def check_qa_folder(model_dir: str | Path) -> None:
    """FileNotFoundError for a folder without weights; ValueError for one whose config names
    architectures but no question-answering one: its QA head would be random, every answer noise."""
    path = Path(model_dir)
    if not any(path.glob("*.safetensors")) and not any(path.glob("*.bin")):
        raise FileNotFoundError(f"{path} has no weights (model.safetensors or pytorch_model.bin)")
    archs = read_json(path / "config.json").get("architectures") or []
    if archs and not any("QuestionAnswering" in str(a) for a in archs):
        raise ValueError(f"{path} holds a {', '.join(map(str, archs))}, not an extractive question-answering "
                         "model (…ForQuestionAnswering): point --reader / QA_READER_MODEL at a QA model")


def uses_token_types(model: Any) -> bool:
    """Whether a transformers model reads ``token_type_ids``: BERT and ELECTRA do; RoBERTa and DeBERTa-v3
    (one type or none) and DistilBERT and MPNet (no such input) do not."""
    import inspect

    if getattr(model.config, "type_vocab_size", 0) <= 1:
        return False
    params = inspect.signature(model.forward).parameters
    return "token_type_ids" in params or any(p.kind is p.VAR_KEYWORD for p in params.values())
