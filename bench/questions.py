"""Questions the speed benchmarks ask: the seed questions, then SQuAD dev questions, in file order."""

from __future__ import annotations

import json
from pathlib import Path


def questions(data_dir: Path, n: int) -> list[str]:
    """The first ``n``: the 10 seed questions, then SQuAD dev's (their wording and length are what the
    benchmarks need; the indexed articles need not answer them)."""
    seed = [json.loads(line)["question"] for line in (data_dir / "qa" / "seed_article_dev.jsonl").open()]
    squad = json.loads((data_dir / "squad" / "dev.json").read_text())["data"]
    more = [qa["question"] for art in squad for para in art["paragraphs"] for qa in para["qas"]]
    return (seed + more)[:n]
