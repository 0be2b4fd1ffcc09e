"""Soak: mixed use of the running chat for a long while, to show that nothing leaks or wedges.

    python bench/soak.py                         # 30 minutes: 20 clients, an upload a minute,
                                                 # `qa index` every 5 minutes, page loads
    python bench/soak.py --minutes 2 --clients 4 --upload-every 30 --index-every 60 --window 30
    python bench/soak.py --replicas 2            # the same against 2 Ray Serve replicas

Starts its own chat (``started_chat`` of tests/helpers/chat_load.py) on a copy of corpus/. Meanwhile:
clients ask questions without pause (a fresh conversation every few questions); a new article is
uploaded through the chat every ``--upload-every`` seconds; another article is added to the corpus folder
and indexed by a separate `qa index` every ``--index-every`` seconds; a page load (the page and its
index description, as a browser fetches them) every ``--page-every`` seconds. Prints errors; RSS
and open file descriptors of the chat's process tree at start, after the warm-up and at the end;
latency p50/p95 per window; and whether every uploaded or indexed article is answerable at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))  # the soak itself: tests/helpers/soak.py
from helpers.soak import soak  # noqa: E402


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--minutes", type=float, default=30)
    p.add_argument("--clients", type=int, default=20)
    p.add_argument("--upload-every", type=float, default=60, help="seconds between uploads")
    p.add_argument("--index-every", type=float, default=300, help="seconds between outside `qa index` runs")
    p.add_argument("--page-every", type=float, default=5, help="seconds between page loads")
    p.add_argument("--warmup", type=float, help="seconds before the 'after warm-up' sample (default: one window)")
    p.add_argument("--window", type=float, default=300, help="seconds per latency window")
    p.add_argument("--replicas", type=int, help="QA_REPLICAS of the chat (needs the scale extra)")
    p.add_argument("--concurrency", type=int, help="QA_CONCURRENCY of the chat")
    args = p.parse_args()
    env = {k: str(v) for k, v in (("QA_REPLICAS", args.replicas), ("QA_CONCURRENCY", args.concurrency))
           if v is not None}
    print(f"load before: {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores", file=sys.stderr, flush=True)
    result = soak(args.minutes, args.clients, args.upload_every, args.index_every, args.page_every,
                  args.warmup if args.warmup is not None else min(args.window, args.minutes * 30), args.window, env)
    print(json.dumps(result, indent=2))
    print(f"load after: {os.getloadavg()[0]:.2f}", file=sys.stderr)
    ok = result["errors"] == 0 and result["all_answerable"]
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
