"""A model's ``tokenizer.json`` read by the ``tokenizers`` library, without transformers.

Why: ``transformers.AutoTokenizer`` imports torch (through the model configuration classes), about
1.5 s of a cold ``qa ask`` that the ONNX runtimes never use. The fast tokenizer transformers wraps
is this same Rust tokenizer, so this class drives it the way transformers does (truncation with
stride, overflowing windows, offsets, sequence ids) and answers the calls the reader and the
embedder make with the same numbers; ``tests/answer/reader/test_reader.py`` compares the two.
"""

from __future__ import annotations

import hashlib
import json
import logging
import tempfile
import threading
from pathlib import Path
from typing import Any

from qa.util.atomic import publish

log = logging.getLogger(__name__)

TOKENIZER_FILE = "tokenizer.json"
CONVERTIBLE_SUFFIXES = (".txt", ".json", ".model")  # vocab.txt; vocab.json, merges.txt; spm.model

# transformers' names for the truncation strategies, as the Rust library spells them.
_STRATEGIES = {True: "longest_first", "longest_first": "longest_first", "only_first": "only_first",
               "only_second": "only_second"}


def has_tokenizer_file(model_dir: str | Path) -> bool:
    return (Path(model_dir) / TOKENIZER_FILE).is_file()


class Encoded(dict):
    """What a call returns: ``input_ids``, ``token_type_ids``, ``attention_mask`` and, when asked,
    ``offset_mapping`` and ``overflow_to_sample_mapping`` (one row per window), as transformers'
    ``BatchEncoding``; ``sequence_ids(i)`` says which text each token of window ``i`` came from."""

    def __init__(self, windows: list[Any]) -> None:
        super().__init__()
        self.windows = windows  # a tokenizers.Encoding per row

    def sequence_ids(self, i: int = 0) -> list[int | None]:
        return self.windows[i].sequence_ids


class FastTokenizer:
    """The subset of a transformers fast tokenizer's ``__call__`` this package uses, on ``tokenizers``."""

    def __init__(self, tokenizer: Any, pad_token_id: int | None = None) -> None:
        self.tokenizer = tokenizer
        self.pad_token_id = pad_token_id
        self._lock = threading.Lock()  # truncation is a setting of the shared Rust tokenizer

    @classmethod
    def from_dir(cls, model_dir: str | Path) -> FastTokenizer:
        from tokenizers import Tokenizer

        path = Path(model_dir)
        tok = Tokenizer.from_file(str(path / TOKENIZER_FILE))
        return cls(tok, _pad_id(tok, path))

    def __call__(self, text: str | list[str], text_pair: str | list[str] | None = None, *,
                 add_special_tokens: bool = True, truncation: bool | str = False, max_length: int | None = None,
                 stride: int = 0, return_overflowing_tokens: bool = False, return_offsets_mapping: bool = False,
                 padding: bool = False) -> Encoded:
        if padding:
            raise ValueError("padding is not supported: callers pad their own batches")
        single = isinstance(text, str)
        texts = [text] if single else list(text)
        pairs = None if text_pair is None else ([text_pair] if isinstance(text_pair, str) else list(text_pair))
        inputs = texts if pairs is None else list(zip(texts, pairs))
        tok = self.tokenizer
        with self._lock:
            tok.no_padding()
            if truncation and max_length is not None:
                tok.enable_truncation(max_length, stride=stride, strategy=_STRATEGIES[truncation],
                                      direction="right")
            else:
                tok.no_truncation()
            encodings = tok.encode_batch(inputs, add_special_tokens=add_special_tokens)
        rows: list[Any] = []
        owner: list[int] = []
        for i, enc in enumerate(encodings):
            for window in [enc, *(enc.overflowing if return_overflowing_tokens else [])]:
                rows.append(window)
                owner.append(i)
        out = Encoded(rows)
        out["input_ids"] = [w.ids for w in rows]
        out["token_type_ids"] = [w.type_ids for w in rows]
        out["attention_mask"] = [w.attention_mask for w in rows]
        if return_offsets_mapping:
            out["offset_mapping"] = [list(w.offsets) for w in rows]
        if return_overflowing_tokens:
            out["overflow_to_sample_mapping"] = owner
        if single and not return_overflowing_tokens:
            for key in list(out):
                out[key] = out[key][0]
        return out


def _pad_id(tok: Any, path: Path) -> int | None:
    """The pad token's id: from tokenizer_config.json (as transformers reads it), else [PAD]."""
    name = "[PAD]"
    cfg = path / "tokenizer_config.json"
    if cfg.is_file():
        try:
            value = json.loads(cfg.read_text(encoding="utf-8")).get("pad_token")
        except (OSError, ValueError):
            value = None
        if isinstance(value, dict):
            value = value.get("content")
        if isinstance(value, str):
            name = value
    return tok.token_to_id(name)


def load_tokenizer(model: str | Path) -> Any:
    """``model``'s tokenizer: its tokenizer.json through ``FastTokenizer`` (no transformers, no torch).

    A folder with only the files a slow tokenizer reads (BERT's vocab.txt, RoBERTa's vocab.json and
    merges.txt, a SentencePiece model) is converted once by transformers' ``AutoTokenizer`` and its
    tokenizer.json kept in the model cache: the user's folder is never written. A hub name, or a
    tokenizer transformers cannot convert, is transformers' tokenizer itself.
    """
    if has_tokenizer_file(model):
        return FastTokenizer.from_dir(model)
    path = Path(model)
    cached = converted_dir(path) if path.is_dir() else None
    if cached is not None and has_tokenizer_file(cached):
        return FastTokenizer.from_dir(cached)
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(model))
    if cached is not None and getattr(tok, "is_fast", False) and save_converted(tok, cached):
        return FastTokenizer.from_dir(cached)
    return tok


def converted_dir(model_dir: Path) -> Path:
    """Where the tokenizer.json converted from ``model_dir``'s vocabulary files is kept: keyed by their
    content and the transformers version that converts them."""
    from importlib.metadata import version

    from qa.util.onnx import SIDECAR_FILES, cache_dir

    h = hashlib.sha256(f"tokenizer|{version('transformers')}".encode())
    for f in sorted(model_dir.iterdir()):
        if f.is_file() and f.suffix in CONVERTIBLE_SUFFIXES and f.name not in SIDECAR_FILES:
            h.update(f"|{f.name}|".encode())
            h.update(f.read_bytes())
    return cache_dir() / "tokenizers" / h.hexdigest()[:20]


def save_converted(tok: Any, target: Path) -> bool:
    """Save a transformers fast tokenizer to ``target`` atomically; False when the cache is not writable
    (the tokenizer still works, converted again next time)."""
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=target.parent, prefix=".convert-") as tmp:
            tok.save_pretrained(str(Path(tmp) / "t"))
            try:
                publish(Path(tmp) / "t", target)
            except OSError:  # another process converted it first
                pass
    except OSError as exc:
        log.warning("cannot keep the converted tokenizer in %s (%s)", target.parent, exc)
        return False
    return has_tokenizer_file(target)
