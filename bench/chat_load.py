"""Load on the chat: N concurrent gradio_client clients on 127.0.0.1, each asking several questions.

    python bench/chat_load.py --clients 50 --questions 3            # starts its own server on corpus/
    python bench/chat_load.py --concurrency 1 ...                   # one question at a time
    python bench/chat_load.py --replicas 2 ...                      # answering on 2 Ray Serve replicas
    python bench/chat_load.py --compare                             # all three in one run, with ratios
    python bench/chat_load.py --url http://127.0.0.1:7860/ ...      # or load a running one

Prints requests, errors, answers with findings, and latency p50 / p95 / max per question (queue wait
included, so p95 grows with the number of clients). The server's queue is bounded (QA_QUEUE_SIZE);
a client over it gets Gradio's "queue is full" error, counted here as an error.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))  # the chat and the load: tests/helpers/chat_load.py
from helpers.chat_load import run_load, started_chat  # noqa: E402
from helpers.proc import cpu_seconds, find  # noqa: E402


# --compare: one question at a time, concurrent answering in one process, and 2 replicas.
WAYS = {"one at a time": {"QA_CONCURRENCY": "1"}, "concurrent": {}, "2 replicas": {"QA_REPLICAS": "2"}}


REPLICA = "ServeReplica:qa:AnswerReplica"


def compare(clients: int, questions: int, queue_size: int, kill_after: float | None = None,
            ways: dict[str, dict] = WAYS) -> dict:
    """Each way on a fresh server, one after the other; ratios against the first. ``kill_after``:
    SIGKILL one replica that many seconds into a run with replicas."""
    results = {}
    for name, env in ways.items():
        with started_chat(queue_size, env=env) as server:
            run_load(server.url, min(clients, 4), 1)  # warm-up: first questions, connections
            before = cpu_seconds(server.pid)
            killer = kill_one_replica(server.pid, kill_after) if kill_after and "QA_REPLICAS" in env else None
            results[name] = r = run_load(server.url, clients, questions)
            r["cpu_ms_per_question"] = cpu_per_question(before, cpu_seconds(server.pid), server.pid, r["replies"])
            if killer is not None:
                killer.join()
                r["replica_killed"] = killer.killed
        print(name, json.dumps(results[name]), file=sys.stderr, flush=True)
    base = next(iter(results.values()))
    for r in results.values():
        r[f"ratio_vs_{next(iter(results))}".replace(" ", "_")] = {
            "p50": _ratio(r["p50_ms"], base["p50_ms"]), "p95": _ratio(r["p95_ms"], base["p95_ms"]),
            "questions_per_s": _ratio(r["questions_per_s"], base["questions_per_s"])}
    return results


def kill_one_replica(chat_pid: int, after: float) -> threading.Thread:
    """A thread that SIGKILLs one answering replica of the chat ``after`` seconds from now; its
    ``killed`` is the pid (0: none was found)."""
    def kill() -> None:
        time.sleep(after)
        pids = find(chat_pid, REPLICA)
        if pids:
            os.kill(pids[0], signal.SIGKILL)
            thread.killed = pids[0]

    thread = threading.Thread(target=kill)
    thread.killed = 0  # type: ignore[attr-defined]
    thread.start()
    return thread


def cpu_per_question(before: dict[int, float], after: dict[int, float], front: int, replies: int) -> dict:
    """CPU ms per answered question: the chat's own process, and the rest of its tree (replicas, Ray)."""
    used = {p: after[p] - before.get(p, 0.0) for p in after}
    rest = sum(v for p, v in used.items() if p != front)
    return {"chat": round(1000 * used.get(front, 0.0) / max(1, replies), 1),
            "replicas_and_ray": round(1000 * rest / max(1, replies), 1)}


def _ratio(a: float | None, b: float | None) -> float | None:
    return round(a / b, 2) if a and b else None


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--url", help="a running chat (default: start one on a copy of corpus/)")
    p.add_argument("--clients", type=int, default=50)
    p.add_argument("--questions", type=int, default=3)
    p.add_argument("--queue-size", type=int, default=64, help="QA_QUEUE_SIZE of the server this starts")
    p.add_argument("--concurrency", type=int, help="QA_CONCURRENCY of the server this starts (1: one at a time)")
    p.add_argument("--replicas", type=int, help="QA_REPLICAS of the server this starts (needs the scale extra)")
    p.add_argument("--compare", action="store_true", help="one at a time, concurrent and 2 replicas, with ratios")
    p.add_argument("--kill-replica-after", type=float, metavar="S",
                   help="SIGKILL one replica S seconds into a run with replicas (no question may fail)")
    args = p.parse_args()
    print(f"load before: {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores", file=sys.stderr)
    if args.url:
        result = run_load(args.url, args.clients, args.questions)
        errors = result["errors"]
    else:
        env = {k: str(v) for k, v in (("QA_CONCURRENCY", args.concurrency), ("QA_REPLICAS", args.replicas))
               if v is not None}
        ways = WAYS if args.compare else {"this server": env}
        result = compare(args.clients, args.questions, args.queue_size, args.kill_replica_after, ways)
        errors = sum(r["errors"] for r in result.values())
    print(json.dumps(result, indent=2))
    return 0 if errors == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
