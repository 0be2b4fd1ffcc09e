"""Load on the chat: N concurrent gradio_client clients on 127.0.0.1, each asking several questions.

    python bench/chat_load.py --clients 50 --questions 3            # starts its own server on corpus/
    python bench/chat_load.py --url http://127.0.0.1:7860/ ...      # or load a running one

Prints requests, errors, answers with findings, and latency p50 / p95 / max per question (queue wait
included: the chat answers one question at a time, so p95 grows with the number of clients). The
server's queue is bounded (QA_QUEUE_SIZE); a client over it gets Gradio's "queue is full" error,
counted here as an error.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import contextmanager
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
QUESTIONS = [
    "What did Pakistan agree to?",
    "Where did last month's bombing happen?",
    "Which ministries did not respond to requests for comment?",
    "Who was targeted in the bombing near Karachi airport?",
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def chat_server(queue_size: int = 64, timeout: float = 300.0):
    """`python app.py` on a temporary copy of corpus/, index and uploads folder, on a free local port."""
    with tempfile.TemporaryDirectory() as tmp:
        corpus = Path(tmp) / "corpus"
        shutil.copytree(ROOT / "corpus", corpus)
        port = free_port()
        env = {**os.environ, "QA_CORPUS": str(corpus), "QA_INDEX_DIR": str(Path(tmp) / "index"),
               "QA_UPLOADS": str(Path(tmp) / "uploads"), "QA_PORT": str(port), "QA_HOST": "127.0.0.1",
               "QA_QUEUE_SIZE": str(queue_size)}
        log = open(Path(tmp) / "server.log", "w")
        proc = subprocess.Popen([sys.executable, str(ROOT / "app.py")], env=env, stdout=log, stderr=log)
        url = f"http://127.0.0.1:{port}/"
        try:
            deadline = time.time() + timeout
            while time.time() < deadline:
                if proc.poll() is not None:
                    raise RuntimeError(f"the chat exited: {(Path(tmp) / 'server.log').read_text()[-2000:]}")
                with socket.socket() as s:
                    if s.connect_ex(("127.0.0.1", port)) == 0:
                        break
                time.sleep(1)
            else:
                raise RuntimeError("the chat did not start in time")
            yield url
        finally:
            proc.terminate()
            proc.wait(30)
            log.close()


def run_load(url: str, clients: int, questions: int) -> dict:
    """Each client (its own session) asks ``questions`` questions in turn; all clients at once."""
    from gradio_client import Client

    latencies: list[float] = []
    errors: list[str] = []
    answered = 0
    lock = threading.Lock()
    start = threading.Barrier(clients)

    def client(i: int) -> None:
        nonlocal answered
        try:
            c = Client(url, verbose=False)
        except Exception as e:  # noqa: BLE001 - counted, not raised
            with lock:
                errors.append(f"connect: {type(e).__name__}: {e}")
            return
        start.wait()
        history: list = []
        for k in range(questions):
            q = QUESTIONS[(i + k) % len(QUESTIONS)]
            t0 = time.perf_counter()
            try:
                _, history = c.predict(q, history, "", "", [], api_name="/ask")
                reply = json.dumps(history[-1]["content"])
                with lock:
                    latencies.append(time.perf_counter() - t0)
                    answered += "qa-error" not in reply
            except Exception as e:  # noqa: BLE001
                with lock:
                    errors.append(f"{type(e).__name__}: {str(e)[:200]}")

    t0 = time.perf_counter()
    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    lat = np.array(latencies) * 1000
    return {
        "clients": clients, "requests": clients * questions, "replies": len(latencies), "errors": len(errors),
        "error_samples": errors[:5], "replies_without_error_message": answered,
        "p50_ms": float(np.percentile(lat, 50)) if len(lat) else None,
        "p95_ms": float(np.percentile(lat, 95)) if len(lat) else None,
        "max_ms": float(lat.max()) if len(lat) else None, "wall_s": wall,
        "questions_per_s": len(latencies) / wall if wall else None,
    }


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--url", help="a running chat (default: start one on a copy of corpus/)")
    p.add_argument("--clients", type=int, default=50)
    p.add_argument("--questions", type=int, default=3)
    p.add_argument("--queue-size", type=int, default=64, help="QA_QUEUE_SIZE of the server this starts")
    args = p.parse_args()
    if args.url:
        result = run_load(args.url, args.clients, args.questions)
    else:
        with chat_server(args.queue_size) as url:
            result = run_load(url, args.clients, args.questions)
    print(json.dumps(result, indent=2))
    return 0 if result["errors"] == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
