"""Mixed use of the running chat for a while, measuring what leaks or wedges: for tests/app/test_soak.py
and bench/soak.py (which documents the kinds of use and the figures).

``soak`` starts its own chat (``chat_load.started_chat``) on a corpus holding the seed article; meanwhile clients
ask questions, articles are uploaded through the chat and added by an outside `qa index`, and the
page is loaded; it returns errors, the chat's RSS and file descriptors over time, latency per
window, and whether every new article is answerable at the end.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .chat_load import QUESTIONS, started_chat
from .proc import usage

ROOT = Path(__file__).resolve().parents[2]

MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
          "November", "December"]
HEADS, TAILS = ["Kel", "Mor", "Dun", "Ash", "Bri", "Cal", "Fen", "Gar", "Hol", "Lin"], ["va", "ri", "do", "ne", "su"]
TURNS_PER_CONVERSATION = 4


@dataclass(frozen=True)
class Fact:
    """An article written for the soak: its file text, a question only it answers, and the answer."""

    name: str
    text: str
    question: str
    answer: str


KINDS = {"library": ("community library", "reopened", "ford"), "bridge": ("footbridge", "opened", "mouth")}


def fact(i: int, kind: str) -> Fact:
    """The ``i``-th invented town's library (uploads) or footbridge (`qa index`) and the day it opened."""
    thing, verb, suffix = KINDS[kind]
    town = f"{HEADS[i % 10]}{TAILS[i // 10 % 5]}{suffix}{i // 50 or ''}"
    day = f"{1 + i % 28} {MONTHS[(i * 5) % 12]}"
    text = (f"{town} {thing} {verb}\n\n2025-01-{1 + i % 28:02d}\n"
            f"The {town} {thing} {verb} on {day} after two years of work, the town council said. "
            f"Residents of {town} had waited since the old one closed.\n")
    return Fact(f"{kind}-{i:03d}-{town}.txt", text, f"When was the {town} {thing} {verb}?", day)


@dataclass
class Log:
    """Everything the soak's threads record, under one lock."""

    asked: list[tuple[float, float]] = field(default_factory=list)  # (time since start, latency s)
    errors: list[str] = field(default_factory=list)
    busy: int = 0  # an upload or `qa index` that found the index's writer busy (not an error: retried)
    pages: int = 0
    client_races: int = 0  # replies gradio_client lost to its stream race, asked again (see ``predict``)
    uploads: list[Fact] = field(default_factory=list)
    indexed: list[Fact] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    t0: float = field(default_factory=time.time)

    def error(self, what: str) -> None:
        with self.lock:
            self.errors.append(f"at {time.time() - self.t0:.0f} s: {what[:300]}")


# --- the kinds of use -----------------------------------------------------------------------------
def asker(url: str, i: int, until: float, t0: float, log: Log) -> None:
    from gradio_client import Client

    client = Client(url, verbose=False)
    history: list = []
    n = 0
    while time.time() < until:
        q = QUESTIONS[(i + n) % len(QUESTIONS)]
        if n % TURNS_PER_CONVERSATION == 0:
            history = []
        start = time.perf_counter()
        try:
            _, history = predict(client, q, history, log)
            reply = json.dumps(history[-1]["content"])
            with log.lock:
                log.asked.append((time.time() - t0, time.perf_counter() - start))
            if "qa-error" in reply:
                log.error(f"ask {q!r}: {reply[:200]}")
        except Exception as e:  # noqa: BLE001 - counted
            log.error(f"ask: {type(e).__name__}: {e}")
        n += 1


def predict(client, question: str, history: list, log: Log):
    """``/ask`` once, or twice when gradio_client lost the reply to its own stream race: it tags a
    question sent just as the server closes the session's finished stream to the closing reader
    (gradio_client 2.7: ``CancelledError`` with nothing cancelled). Counted, not hidden."""
    from concurrent.futures import CancelledError

    try:
        return client.predict(question, history, "", "", [], api_name="/ask")
    except CancelledError:
        with log.lock:
            log.client_races += 1
        return client.predict(question, history, "", "", [], api_name="/ask")


def uploader(url: str, folder: Path, every: float, until: float, log: Log) -> None:
    from gradio_client import Client, handle_file

    client = Client(url, verbose=False)
    i = 0
    while _sleep_until(min(until, time.time() + every), until):
        f = fact(i, "library")
        path = folder / f.name
        path.write_text(f.text, encoding="utf-8")
        try:
            message = str(client.predict([handle_file(str(path))], api_name="/add_files")[0])
            if "searchable now" in message:
                with log.lock:
                    log.uploads.append(f)
            elif "not indexed yet" in message:  # the outside `qa index` held the writer's lock
                with log.lock:
                    log.busy += 1
                    log.uploads.append(f)  # indexed by the next upload or `qa index`
            else:
                log.error(f"upload {f.name}: {message[:200]}")
        except Exception as e:  # noqa: BLE001
            log.error(f"upload: {type(e).__name__}: {e}")
        i += 1


def outside_indexer(env: dict, corpus: Path, every: float, until: float, log: Log) -> None:
    i = 0
    while _sleep_until(min(until, time.time() + every), until):
        f = fact(i, "bridge")
        (corpus / f.name).write_text(f.text, encoding="utf-8")
        for _ in range(10):
            r = subprocess.run([sys.executable, "-m", "qa.app.cli", "index", "--no-progress"], env={**os.environ, **env},
                               capture_output=True, text=True, cwd=ROOT, timeout=600)
            if r.returncode == 0:
                with log.lock:
                    log.indexed.append(f)
                break
            if "is updating" in r.stderr:  # an upload is indexing: the one writer; try again shortly
                with log.lock:
                    log.busy += 1
                time.sleep(3)
                continue
            log.error(f"qa index: exit {r.returncode}: {r.stderr.strip()[-300:]}")
            break
        i += 1


def page_loader(url: str, every: float, until: float, log: Log) -> None:
    import httpx

    with httpx.Client(base_url=url, timeout=60) as http:
        load_fn = _load_event(http)
        while _sleep_until(min(until, time.time() + every), until):
            try:
                assert http.get("/").status_code == 200
                _run_event(http, load_fn)
                with log.lock:
                    log.pages += 1
            except Exception as e:  # noqa: BLE001
                log.error(f"page load: {type(e).__name__}: {e}")


def _load_event(http) -> int:
    """The id of the page's load event (status line, date hints, sources), from the app's config."""
    config = http.get("/config").json()
    return next(d["id"] for d in config["dependencies"] if any(t[1] == "load" for t in d.get("targets", [])))


def _run_event(http, fn_index: int) -> None:
    """Run one event through the queue, as the browser does: join, then read its stream to the end."""
    session = uuid.uuid4().hex
    joined = http.post("/gradio_api/queue/join", json={"data": [], "fn_index": fn_index, "session_hash": session,
                                                      "event_data": None, "trigger_id": None})
    joined.raise_for_status()
    with http.stream("GET", "/gradio_api/queue/data", params={"session_hash": session}) as stream:
        for line in stream.iter_lines():
            if line.startswith("data:"):
                msg = json.loads(line[5:])
                if msg.get("msg") == "process_completed":
                    if not msg.get("success", False):
                        raise RuntimeError(f"the page's load event failed: {str(msg)[:200]}")
                    return
    raise RuntimeError("the page's load event never completed")


def _sleep_until(t: float, until: float) -> bool:
    """Sleep to ``t``; False once ``until`` has passed (time to stop)."""
    time.sleep(max(0.0, t - time.time()))
    return time.time() < until


# --- the run --------------------------------------------------------------------------------------
def answerable(url: str, facts: list[Fact]) -> dict[str, bool]:
    """Each article's question asked once more at the end: does the answer hold its day?"""
    from gradio_client import Client

    client = Client(url, verbose=False)
    out = {}
    for f in facts:
        _, history = client.predict(f.question, [], "", "", [], api_name="/ask")
        out[f.name] = f.answer.lower() in json.dumps(history[-1]["content"]).lower()
    return out


def windows(asked: list[tuple[float, float]], width: float, end: float, samples: dict[float, dict]) -> list[dict]:
    """p50 / p95 latency (ms) of the questions that finished in each ``width``-second window, and
    the chat's RSS and fds at the window's end."""
    out = []
    for lo in np.arange(0, end, width):
        lat = [d for t, d in asked if lo <= t < lo + width]
        out.append({"from_s": int(lo), "questions": len(lat),
                     "p50_ms": round(float(np.percentile(lat, 50)) * 1000) if lat else None,
                     "p95_ms": round(float(np.percentile(lat, 95)) * 1000) if lat else None,
                     **{k: v for k, v in samples.get(float(lo + width), {}).items() if k != "processes"}})
    return out


def sample(pid: int, t0: float, marks: list[float], threads: list[threading.Thread]) -> dict[float, dict]:
    """The chat's usage at each of ``marks`` (seconds from ``t0``) while the soak's threads run."""
    out = {}
    for mark in marks:
        time.sleep(max(0.0, t0 + mark - time.time()))
        if not any(t.is_alive() for t in threads):
            break
        out[mark] = usage(pid)
    return out


def soak(minutes: float, clients: int, upload_every: float, index_every: float, page_every: float,
         warmup: float, window: float, env: dict | None = None) -> dict:
    with started_chat(env=env) as server:
        start_use = usage(server.pid)
        log = Log()
        t0 = log.t0
        until = t0 + minutes * 60
        corpus = Path(server.env["QA_CORPUS"])
        drops = server.folder / "to-upload"
        drops.mkdir()
        threads = [threading.Thread(target=asker, args=(server.url, i, until, t0, log)) for i in range(clients)]
        threads += [threading.Thread(target=uploader, args=(server.url, drops, upload_every, until, log)),
                    threading.Thread(target=outside_indexer, args=(server.env, corpus, index_every, until, log)),
                    threading.Thread(target=page_loader, args=(server.url, page_every, until, log))]
        for t in threads:
            t.start()
        marks = sorted({float(warmup), *(float(m) for m in np.arange(window, minutes * 60, window))})
        samples = sample(server.pid, t0, marks, threads)
        warm_use = samples.get(float(warmup)) or usage(server.pid)
        for t in threads:
            t.join()
        end_use = usage(server.pid)
        reachable = answerable(server.url, log.uploads + log.indexed)
    lat = np.array([d for _, d in log.asked]) * 1000
    return {
        "minutes": minutes, "clients": clients, "questions": len(log.asked), "errors": len(log.errors),
        "error_samples": log.errors[:5], "uploads": len(log.uploads), "outside_indexes": len(log.indexed),
        "writer_busy_retries": log.busy, "page_loads": log.pages, "client_stream_races_retried": log.client_races,
        "usage": {"start": start_use, "after_warmup": warm_use, "end": end_use},
        "rss_growth_after_warmup": round(end_use["rss_mb"] / warm_use["rss_mb"] - 1, 3) if warm_use["rss_mb"] else None,
        "fd_change_after_warmup": end_use["fds"] - warm_use["fds"],
        "p50_ms": round(float(np.percentile(lat, 50))) if len(lat) else None,
        "p95_ms": round(float(np.percentile(lat, 95))) if len(lat) else None,
        "windows": windows(log.asked, window, minutes * 60, {**samples, float(minutes * 60): end_use}),
        "answerable": reachable, "all_answerable": all(reachable.values()) and bool(reachable),
    }
