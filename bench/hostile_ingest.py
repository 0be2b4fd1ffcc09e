"""Fuzz ingestion with hostile inputs: zero crashes, every input accounted for, bounded memory and time.

    python bench/hostile_ingest.py [--n 1000] [--seed 0] [--formats .html,.htm] [--no-chunk] [--keep DIR]

Writes ``--n`` inputs with ``generate`` (tests/helpers/hostile_inputs.py) into a temporary folder,
runs ``qa.ingest.load_articles`` on it in a child process (``run_ingest``, tests/helpers/hostile_ingest.py:
a hang, a segfault or a memory blow-up is seen rather than suffered, since the child has a wall-clock
limit and an address-space limit), then chunks the resulting articles with the embedder's tokenizer,
as ``qa index`` would, timing each article. Prints inputs tried / crashes / articles / skips by
reason / peak RSS / seconds, and exits non-zero when an input crashed, went unaccounted or came out wrong.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
for path in (ROOT, ROOT / "tests"):  # run as a script: make `qa` and the tests' helpers importable
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

from helpers.hostile_ingest import run_ingest  # noqa: E402
from helpers.hostile_inputs import check, cleanup, generate  # noqa: E402


def _table(args: argparse.Namespace, cases: list, result: dict, verdict, gen_seconds: float) -> str:
    """The human-readable report."""
    from collections import Counter

    lines = [f"hostile ingest: n={len(cases)} seed={args.seed} ({len({c.kind for c in cases})} kinds, "
             f"formats {' '.join(sorted({c.fmt for c in cases}))})"]
    row = "  {:<28} {}".format
    lines.append(row("inputs tried", verdict.inputs))
    lines.append(row("crashes", len(verdict.crashes)))
    if not result.get("crash"):
        accounted = verdict.inputs - len(verdict.unaccounted)
        lines += [
            row("articles", verdict.articles),
            row("duplicates", verdict.duplicates),
            row("skips (records + files)", sum(verdict.skips.values())),
            row("report", result["summary"].replace("\n", " ")),
            row("inputs accounted for", f"{accounted}/{verdict.inputs} "
                                        f"({sum(1 for c in cases if c.expect == 'ignored')} ignored by design)"),
            row("wrong outcomes", len(verdict.wrong)),
            row("leaks (markers, caps)", len(verdict.leaks)),
            row("peak RSS, ingest child", f"{result['peak_rss_mb']:.0f} MB"),
            row("ingest seconds", f"{result['seconds']:.1f} (child wall {result['wall_seconds']:.1f})"),
            row("generate seconds", f"{gen_seconds:.1f}"),
        ]
        ch = result.get("chunking")
        if ch:
            lines.append(row("chunking", f"{ch['articles']} articles -> {ch['chunks']} chunks "
                                         f"in {ch['seconds']:.1f} s, "
                                         f"peak RSS {ch['peak_rss_mb']:.0f} MB"))
            for s in ch["slowest"][:3]:
                lines.append(row("  slowest", f"{s['seconds']:.2f} s, {s['chars']:,} chars: {s['source']!r}"))
            lines.append(row(f"  stalls (> {ch['stall_seconds']:.0f} s)", len(ch["stalls"])))
            for s in ch["stalls"]:
                lines.append(row("  stalled", f"{s['chars']:,} chars ending {s['head']!r}: {s['source']!r}"))
        lines.append("skips by reason:")
        for reason, n in verdict.skips.most_common():
            lines.append(f"  {n:>8}  {reason}")
        lines.append("outcomes by kind:")
        kinds: dict[str, Counter] = {}
        for (kind, outcome), n in verdict.outcomes.items():
            kinds.setdefault(kind, Counter())[outcome] += n
        for kind, counts in kinds.items():
            lines.append(f"  {kind:<26} " + ", ".join(f"{o} {n}" for o, n in sorted(counts.items())))
    for p in verdict.problems()[:40]:
        lines.append("PROBLEM " + p)
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=1000, help="hostile inputs to write (default 1000)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--formats", help="only these formats, comma-separated (e.g. .html,.htm; default: all)")
    parser.add_argument("--timeout", type=float, default=1800, help="seconds the ingest child may take")
    parser.add_argument("--no-chunk", action="store_true", help="skip the chunking step")
    parser.add_argument("--keep", type=Path, help="write the inputs here and keep them (default: a temp folder)")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args(argv)
    folder = args.keep or Path(tempfile.mkdtemp(prefix="hostile-inputs-"))
    try:
        t0 = time.perf_counter()
        formats = tuple(f.strip() for f in args.formats.split(",")) if args.formats else None
        cases = generate(folder / "inputs", args.n, args.seed, formats)
        gen_seconds = time.perf_counter() - t0
        result = run_ingest(folder / "inputs", args.timeout, chunk=not args.no_chunk)
        verdict = check(cases, result)
        print(_table(args, cases, result, verdict, gen_seconds))
        if args.json:
            figures = {k: v for k, v in result.items() if k not in ("articles", "skipped", "sources")}
            figures.update(inputs=verdict.inputs, crashes=verdict.crashes, skips=dict(verdict.skips),
                           unaccounted=verdict.unaccounted, wrong=verdict.wrong, leaks=verdict.leaks)
            args.json.write_text(json.dumps(figures, indent=2))
        stalls = (result.get("chunking") or {}).get("stalls", [])
        return 0 if verdict.ok and not stalls else 1
    finally:
        if not args.keep:
            cleanup(folder)


if __name__ == "__main__":
    sys.exit(main())
