"""A process tree's resources, read from /proc (Linux): for the load and soak runs (tests and bench/)."""

from __future__ import annotations

import os

TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _stat(pid: int) -> list[str]:
    with open(f"/proc/{pid}/stat") as f:
        return f.read().rsplit(")", 1)[1].split()  # after the command name, which may hold spaces


def tree(pid: int) -> list[int]:
    """``pid`` and its descendants."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                children.setdefault(int(_stat(int(entry))[1]), []).append(int(entry))
            except (OSError, IndexError, ValueError):
                continue
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(children.get(p, []))
    return out


def usage(pid: int) -> dict:
    """RSS (MB) and open file descriptors of ``pid``'s tree, and how many processes it has."""
    rss, fds, n = 0, 0, 0
    for p in tree(pid):
        try:
            with open(f"/proc/{p}/status") as f:
                rss += next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))
            fds += len(os.listdir(f"/proc/{p}/fd"))
            n += 1
        except (OSError, StopIteration):
            continue
    return {"rss_mb": round(rss / 1024, 1), "fds": fds, "processes": n}


def cpu_seconds(pid: int) -> dict[int, float]:
    """CPU time (user + system, s) of each live process of ``pid``'s tree, by pid."""
    out = {}
    for p in tree(pid):
        try:
            fields = _stat(p)
            out[p] = (int(fields[11]) + int(fields[12])) / TICKS
        except (OSError, IndexError, ValueError):
            continue
    return out


def find(pid: int, text: str) -> list[int]:
    """Processes of ``pid``'s tree whose command line holds ``text`` (Ray names its workers by
    their actor: ``ray::ServeReplica:qa:AnswerReplica``)."""
    out = []
    for p in tree(pid):
        try:
            with open(f"/proc/{p}/cmdline", "rb") as f:
                if text.encode() in f.read():
                    out.append(p)
        except OSError:
            continue
    return out
