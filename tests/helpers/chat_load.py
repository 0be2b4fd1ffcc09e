"""A chat on a local port and a load on it: for the tests of the running chat and bench/chat_load.py.

``started_chat`` runs ``python app.py`` on a temporary corpus holding the seed article on a free port of 127.0.0.1
(its own process group, so any Ray it starts goes with it); ``run_load`` has N gradio_client clients
(each its own session) ask questions at once and reports replies, errors and latency.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from helpers.ports import free_port

ROOT = Path(__file__).resolve().parents[2]

QUESTIONS = [
    "What did Pakistan agree to?",
    "Where did last month's bombing happen?",
    "Which ministries did not respond to requests for comment?",
    "Who was targeted in the bombing near Karachi airport?",
]


@dataclass(frozen=True)
class ChatServer:
    """A chat started by ``started_chat``: where it listens, its process, and its folders."""

    url: str
    pid: int
    env: dict  # QA_* settings it runs with (for a `qa index` beside it)
    folder: Path  # corpus/, index/, uploads/ and server.log


@contextmanager
def started_chat(queue_size: int = 64, timeout: float = 300.0, env: dict | None = None):
    """`python app.py` on a temporary corpus holding the seed article, index and uploads folder, on a free local port;
    ``env``: more settings (QA_CONCURRENCY, QA_REPLICAS, ...)."""
    with tempfile.TemporaryDirectory() as tmp:
        corpus = Path(tmp) / "corpus"
        shutil.copytree(ROOT / "tests" / "data", corpus)  # the seed article QUESTIONS ask about
        port = free_port()
        settings = {"QA_CORPUS": str(corpus), "QA_INDEX_DIR": str(Path(tmp) / "index"),
                    "QA_UPLOADS": str(Path(tmp) / "uploads"), "QA_PORT": str(port), "QA_HOST": "127.0.0.1",
                    "QA_QUEUE_SIZE": str(queue_size), **(env or {})}
        log = open(Path(tmp) / "server.log", "w")
        proc = subprocess.Popen([sys.executable, str(ROOT / "app.py")], env={**os.environ, **settings}, stdout=log,
                                stderr=log, start_new_session=True)  # its own group: replicas' Ray goes with it
        url = f"http://127.0.0.1:{port}/"
        try:
            _wait_listening(proc, port, timeout, Path(tmp) / "server.log")
            yield ChatServer(url, proc.pid, settings, Path(tmp))
        finally:
            _stop_group(proc)
            log.close()


@contextmanager
def chat_server(queue_size: int = 64, timeout: float = 300.0, env: dict | None = None):
    """``started_chat``'s address alone."""
    with started_chat(queue_size, timeout, env) as server:
        yield server.url


def _stop_group(proc: subprocess.Popen) -> None:
    """SIGTERM to the chat's process group (the chat and any Ray it started), SIGKILL if it lingers."""
    for sig, wait in ((signal.SIGTERM, 60), (signal.SIGKILL, 30)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(wait)
            return
        except subprocess.TimeoutExpired:
            continue


def _wait_listening(proc: subprocess.Popen, port: int, timeout: float, log: Path) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the chat exited: {log.read_text()[-2000:]}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(1)
    raise RuntimeError("the chat did not start in time")


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

    t0, cpu0 = time.perf_counter(), time.process_time()
    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    cpu = time.process_time() - cpu0  # this process: the clients share the cores with the chat
    lat = np.array(latencies) * 1000
    return {
        "clients": clients, "requests": clients * questions, "replies": len(latencies), "errors": len(errors),
        "error_samples": errors[:5], "replies_without_error_message": answered,
        "p50_ms": float(np.percentile(lat, 50)) if len(lat) else None,
        "p95_ms": float(np.percentile(lat, 95)) if len(lat) else None,
        "max_ms": float(lat.max()) if len(lat) else None, "wall_s": wall,
        "questions_per_s": len(latencies) / wall if wall else None,
        "client_cpu_ms_per_question": round(1000 * cpu / max(1, len(latencies)), 1),
    }
