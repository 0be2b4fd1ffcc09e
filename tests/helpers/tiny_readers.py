"""Tiny random extractive QA models of three architectures, with tokenizers trained on the spot.

Each is what a user may point ``--reader`` at: a transformers QA folder saved with
``save_pretrained``, with no reader.json and no calibration.json. Two layers, hidden size 32:
the answers are noise, but every step from tokenizing to decoding runs as for a real reader.
Nothing is downloaded: the tokenizers are trained by the ``tokenizers`` library on ``texts``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

ARCHITECTURES = ("bert", "roberta", "deberta-v2")  # run end to end; BUILDERS has three more for the reader alone
SIZE = {"hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 2, "intermediate_size": 64}
BERT_SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


def _pair_template(tok) -> None:
    """BERT's pair layout, ``[CLS] question [SEP] passage [SEP]``, with token types 0 then 1."""
    from tokenizers import processors

    cls, sep = tok.token_to_id("[CLS]"), tok.token_to_id("[SEP]")
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1", special_tokens=[("[CLS]", cls), ("[SEP]", sep)])


def _save_tokenizer(tok, folder: Path, **specials: str) -> int:
    from transformers import PreTrainedTokenizerFast

    PreTrainedTokenizerFast(tokenizer_object=tok, **specials).save_pretrained(str(folder))
    return tok.get_vocab_size()


def _wordpiece(folder: Path, texts: list[str]) -> int:
    """BERT's lower-casing WordPiece tokenizer, saved in ``folder``; returns its vocabulary size."""
    from tokenizers import (
        Tokenizer,
        decoders,
        models,
        normalizers,
        pre_tokenizers,
        trainers,
    )

    tok = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tok.normalizer = normalizers.BertNormalizer(lowercase=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.decoder = decoders.WordPiece()
    tok.train_from_iterator(texts, trainers.WordPieceTrainer(vocab_size=600, special_tokens=BERT_SPECIALS))
    _pair_template(tok)
    return _save_tokenizer(tok, folder, unk_token="[UNK]", pad_token="[PAD]", cls_token="[CLS]", sep_token="[SEP]",
                           mask_token="[MASK]")


def bert(folder: Path, texts: list[str]) -> None:
    """BERT: WordPiece and token type ids."""
    from transformers import BertConfig, BertForQuestionAnswering

    n = _wordpiece(folder, texts)
    BertForQuestionAnswering(BertConfig(vocab_size=n, max_position_embeddings=512, **SIZE)).save_pretrained(folder)


def electra(folder: Path, texts: list[str]) -> None:
    """ELECTRA: BERT's inputs, embeddings narrower than the hidden size."""
    from transformers import ElectraConfig, ElectraForQuestionAnswering

    n = _wordpiece(folder, texts)
    ElectraForQuestionAnswering(ElectraConfig(vocab_size=n, embedding_size=16, **SIZE)).save_pretrained(folder)


def mpnet(folder: Path, texts: list[str]) -> None:
    """MPNet: no token_type_ids input at all, positions offset by padding as RoBERTa's."""
    from transformers import MPNetConfig, MPNetForQuestionAnswering

    n = _wordpiece(folder, texts)
    config = MPNetConfig(vocab_size=n, max_position_embeddings=514, pad_token_id=0, **SIZE)
    MPNetForQuestionAnswering(config).save_pretrained(folder)


def distilbert(folder: Path, texts: list[str]) -> None:
    """DistilBERT: no token_type_ids input, and its own names for the sizes."""
    from transformers import DistilBertConfig, DistilBertForQuestionAnswering

    n = _wordpiece(folder, texts)
    config = DistilBertConfig(vocab_size=n, dim=SIZE["hidden_size"], n_layers=SIZE["num_hidden_layers"],
                              n_heads=SIZE["num_attention_heads"], hidden_dim=SIZE["intermediate_size"])
    DistilBertForQuestionAnswering(config).save_pretrained(folder)


def roberta(folder: Path, texts: list[str]) -> None:
    """RoBERTa: byte-level BPE, ``<s> q </s></s> p </s>``, no token types, positions offset by padding."""
    from tokenizers import ByteLevelBPETokenizer, processors
    from transformers import RobertaConfig, RobertaForQuestionAnswering

    bpe = ByteLevelBPETokenizer()
    bpe.train_from_iterator(texts, vocab_size=600, special_tokens=["<s>", "<pad>", "</s>", "<unk>", "<mask>"])
    tok = bpe._tokenizer
    tok.post_processor = processors.RobertaProcessing(("</s>", tok.token_to_id("</s>")),
                                                      ("<s>", tok.token_to_id("<s>")), trim_offsets=True)
    n = _save_tokenizer(tok, folder, bos_token="<s>", eos_token="</s>", sep_token="</s>", cls_token="<s>",
                        unk_token="<unk>", pad_token="<pad>", mask_token="<mask>")
    config = RobertaConfig(vocab_size=n, max_position_embeddings=514, type_vocab_size=1, pad_token_id=1,
                           bos_token_id=0, eos_token_id=2, **SIZE)
    RobertaForQuestionAnswering(config).save_pretrained(folder)


def deberta_v2(folder: Path, texts: list[str]) -> None:
    """DeBERTa-v3's layout: a SentencePiece-style Unigram tokenizer (its "▁word" offsets hold the
    space before the word), relative attention, no absolute positions, no token types."""
    from tokenizers import SentencePieceUnigramTokenizer
    from transformers import DebertaV2Config, DebertaV2ForQuestionAnswering

    sp = SentencePieceUnigramTokenizer()
    sp.train_from_iterator(texts, vocab_size=600, special_tokens=["[PAD]", "[CLS]", "[SEP]", "[UNK]", "[MASK]"],
                           unk_token="[UNK]")
    tok = sp._tokenizer
    _pair_template(tok)
    n = _save_tokenizer(tok, folder, unk_token="[UNK]", pad_token="[PAD]", cls_token="[CLS]", sep_token="[SEP]",
                        mask_token="[MASK]")
    config = DebertaV2Config(vocab_size=n, max_position_embeddings=512, type_vocab_size=0, relative_attention=True,
                             position_biased_input=False, pos_att_type=["p2c", "c2p"], max_relative_positions=-1,
                             position_buckets=32, norm_rel_ebd="layer_norm", share_att_key=True, **SIZE)
    DebertaV2ForQuestionAnswering(config).save_pretrained(folder)


BUILDERS: dict[str, Callable[[Path, list[str]], None]] = {
    "bert": bert, "roberta": roberta, "deberta-v2": deberta_v2, "electra": electra, "mpnet": mpnet,
    "distilbert": distilbert}


def build(arch: str, folder: Path, texts: list[str], seed: int = 0) -> Path:
    """A tiny random QA model of ``arch`` saved in ``folder`` (the same weights for the same seed)."""
    import torch

    torch.manual_seed(seed)
    folder.mkdir(parents=True, exist_ok=True)
    BUILDERS[arch](folder, texts)
    return folder


def legacy_copy(folder: Path, target: Path) -> Path:
    """``folder`` as older checkpoints ship it: the tokenizer as vocabulary files only (WordPiece's
    vocab.txt, BPE's vocab.json and merges.txt), no tokenizer.json."""
    import shutil

    from tokenizers import Tokenizer

    shutil.copytree(folder, target)
    Tokenizer.from_file(str(target / "tokenizer.json")).model.save(str(target))
    (target / "tokenizer.json").unlink()
    config = target / "tokenizer_config.json"
    kept = {k: v for k, v in json.loads(config.read_text()).items() if k not in ("tokenizer_class", "backend")}
    config.write_text(json.dumps(kept))  # the architecture's own tokenizer class, from config.json
    return target
