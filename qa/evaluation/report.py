"""Writes an evaluation to disk: metrics.json, report.md and four PNG plots.

Presentation only: every number comes ready-made from ``qa.evaluation.evaluate.summarize``
(built on ``qa.evaluation.metrics``). Each file is written to a temporary name and moved
into place, so a reader never sees half a report. Plots use matplotlib's
object API (``Figure``, rendered by Agg), leaving pyplot's global state alone.
"""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from qa.evaluation.metrics import STAGES, EvalResult
from qa.util.atomic import atomic_write_text, atomic_write_with

MAX_MISSES = 15
PLOTS = ("calibration.png", "f1_by_question_word.png", "latency.png", "threshold_sweep.png", "risk_coverage.png")


# --- files ----------------------------------------------------------------------


def json_safe(obj: Any) -> Any:
    """Plain JSON types; non-finite floats become null (JSON has no inf/NaN)."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return json_safe(dataclasses.asdict(obj))
    if isinstance(obj, dict):
        return {str(k): json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [json_safe(v) for v in obj]
    if isinstance(obj, (bool, np.bool_)):
        return bool(obj)
    if isinstance(obj, (int, np.integer)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        return float(obj) if math.isfinite(obj) else None
    if isinstance(obj, Path):
        return str(obj)
    return obj


def atomic_save_figure(fig: Any, path: Path) -> None:
    atomic_write_with(path, lambda tmp: fig.savefig(tmp, format="png", dpi=110, bbox_inches="tight"))


def write_report(out_dir: str | Path, summary: dict, results: Sequence[EvalResult]) -> dict[str, Path]:
    """metrics.json (summary + per-question results), report.md and the plots; returns what was written.

    latency.png is skipped when no question has timings (reader-only mode batches questions).
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written: dict[str, Path] = {}
    full = json_safe({**summary, "results": list(results)})
    atomic_write_text(out / "metrics.json", json.dumps(full, indent=2, ensure_ascii=False) + "\n")
    written["metrics.json"] = out / "metrics.json"
    plots = {
        "calibration.png": lambda p: plot_calibration(summary["calibration"], p),
        "f1_by_question_word.png": lambda p: plot_question_words(summary["by_question_word"], p),
        "latency.png": lambda p: plot_latency(results, p),
        "threshold_sweep.png": lambda p: plot_threshold_sweep(summary["threshold_sweep"], p),
        "risk_coverage.png": lambda p: plot_risk_coverage(summary["threshold_sweep"], p),
    }
    for name, draw in plots.items():
        if draw(out / name):
            written[name] = out / name
    atomic_write_text(out / "report.md", render_markdown(summary, results, plots=[n for n in PLOTS if n in written]))
    written["report.md"] = out / "report.md"
    return written


# --- text -----------------------------------------------------------------------


def _num(v: Any, fmt: str = "{:.1f}") -> str:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "—"
    return fmt.format(v)


def _cell(text: Any, width: int = 100) -> str:
    """A markdown table cell: one line, pipes escaped, long text cut."""
    s = " ".join(str(text).split())
    if len(s) > width:
        s = s[: width - 1] + "…"
    return s.replace("|", "\\|") or "∅"


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    return ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|",
            *("| " + " | ".join(r) + " |" for r in rows)]


def summary_rows(summary: dict) -> list[tuple[str, str]]:
    """(metric, formatted value) pairs shared by report.md and the console table."""
    a, c = summary["answers"], summary["counts"]
    rows = [
        ("Questions", f"{c['questions']} ({c['answerable']} answerable, {c['unanswerable']} unanswerable)"),
        ("Exact match (%)", _num(a.get("exact"))),
        ("F1 (%)", _num(a.get("f1"))),
        ("HasAns EM / F1 (%)", f"{_num(a.get('HasAns_exact'))} / {_num(a.get('HasAns_f1'))}"),
        ("NoAns accuracy (%)", _num(a.get("NoAns_accuracy"))),
        ("False-refusal rate (%)", _num(a.get("false_refusal_rate"))),
        ("Answer rate (%)", _num(a.get("answer_rate"))),
    ]
    if "retrieval" in summary:
        r = summary["retrieval"]
        rows += [
            (f"Recall@{r['k']} gold article (%)", f"{_num(r['recall_at_k'])} (n={r['n']})"),
            ("Recall@1 gold article (%)", _num(r["recall_at_1"])),
            ("MRR gold article", _num(r["mrr"], "{:.3f}")),
        ]
    if "citation" in summary:
        cit = summary["citation"]
        rows.append(("Citation accuracy (%)", f"{_num(cit['accuracy'])} (n={cit['n']})"))
    rows.append(("Expected calibration error", _num(summary["calibration"].get("ece"), "{:.3f}")))
    cal = summary["calibration"]
    if cal.get("confident_answers"):
        rows.append(("Answers shown at confidence >= 0.9, wrong",
                     f"{_num(cal.get('confident_wrong_share'), '{:.1%}')} of {cal['confident_answers']}"))
    elif cal.get("highest_answered_confidence") is not None:
        rows.append(("Answers shown at confidence >= 0.9, wrong",
                     f"none shown at >= 0.9 (highest {cal['highest_answered_confidence']:.2f})"))
    for stage, s in summary.get("latency_ms", {}).items():
        if s.get("n"):
            rows.append((f"Latency {stage} p50 / p95 / mean (ms)",
                         f"{_num(s['p50'], '{:.0f}')} / {_num(s['p95'], '{:.0f}')} / {_num(s['mean'], '{:.0f}')}"))
    if "reader" in summary:
        rd = summary["reader"]
        rows.append(("Reader throughput (questions/s)", _num(rd.get("questions_per_second"), "{:.2f}")))
    sw = summary["threshold_sweep"]
    best = sw["best"]
    if sw["scale"] == "confidence":
        cur = sw["current"]
        rows.append(("Answer cut-off (answered %, answered right %)",
                     f"{sw['cutoff']:.3f} ({_num(cur['answer_rate'])}, {_num(cur.get('answered_right_share'))})"))
        rows.append(("Best confidence cut-off (F1 %)", f"{best['threshold']:.3f} ({_num(best['f1'])})"))
    else:
        rows.append(("Best margin threshold (F1 %)", f"{best['threshold']:.3f} ({_num(best['f1'])})"))
    rows.append(("Bad records", str(c["bad_records"])))
    return rows


def format_summary(summary: dict) -> str:
    """A short aligned table for the terminal."""
    rows = summary_rows(summary)
    width = max(len(k) for k, _ in rows)
    title = f"qa eval ({summary['mode'].replace('_', ' ')})"
    return "\n".join([title, "-" * len(title), *(f"{k:<{width}}  {v}" for k, v in rows)])


def _sweep_rows(sweep: dict, max_rows: int = 11) -> list[tuple[dict, str]]:
    """A compact sweep: evenly spaced rows plus the current and best thresholds, marked."""
    rows = sweep["rows"]
    spaced = np.linspace(0, len(rows) - 1, min(max_rows, len(rows))).round().astype(int) if rows else []
    keep = sorted(set(int(i) for i in spaced))
    picked = [(rows[i], "") for i in keep]
    picked.append((sweep["current"], "current"))
    picked.append((sweep["best"], "best"))
    picked.sort(key=lambda rm: (rm[0]["threshold"], rm[1]))
    out: list[tuple[dict, str]] = []
    for row, mark in picked:  # merge a marked row into a grid row at the same threshold
        if out and abs(out[-1][0]["threshold"] - row["threshold"]) < 1e-9:
            out[-1] = (out[-1][0] if not mark else row, ", ".join(m for m in (out[-1][1], mark) if m))
        else:
            out.append((row, mark))
    return out


def render_markdown(summary: dict, results: Sequence[EvalResult], plots: Sequence[str] = PLOTS) -> str:
    mode = summary["mode"]
    lines = [f"# QA evaluation: {summary.get('questions_file', '')}", ""]
    if mode == "end_to_end":
        lines.append(f"End to end: retrieve top-{summary.get('k')} passages, read, cite.")
        if "index" in summary:
            lines.append(f"Index rebuilt for this run: {summary['index'].get('summary', '')}")
    else:
        rd = summary.get("reader", {})
        lines.append(f"Reader only, on gold contexts: model `{rd.get('model', '')}`, "
                     f"stored no-answer threshold {_num(rd.get('null_threshold'), '{:.3f}')}. "
                     "Questions are read in batches, so there is no per-question latency (see throughput).")
    lines += ["", "## Summary", "", *_table(["Metric", "Value"], summary_rows(summary)), ""]

    sw = summary["threshold_sweep"]
    lines += ["## No-answer threshold", ""]
    if sw["scale"] == "confidence":
        lines += [
            "A question is answered when the confidence shown reaches the cut-off; this run's cut-off is "
            f"{sw['cutoff']:.3f} (**current**: fitted with the reader by `qa train-calibrator`, or set with "
            "`QA_ANSWER_CUTOFF`). Answered right: the share of answers given whose span is right.",
            "",
        ]
        header = ["Cut-off", "EM", "F1", "HasAns F1", "NoAns acc", "Answered %", "Answered right %", ""]
    else:
        lines += ["A question is answered when its margin (best span − null score) exceeds the threshold; "
                  "set it with `QA_NULL_THRESHOLD`.", ""]
        header = ["Margin threshold", "EM", "F1", "HasAns F1", "NoAns acc", "Answered %", ""]
    body = []
    for row, mark in _sweep_rows(sw):
        cells = [_num(row["threshold"], "{:.3f}")]
        cells += [_num(row["exact"]), _num(row["f1"]), _num(row["HasAns_f1"]), _num(row["NoAns_accuracy"]),
                  _num(row["answer_rate"])]
        if sw["scale"] == "confidence":
            cells.append(_num(row.get("answered_right_share")))
        cells.append(f"**{mark}**" if mark else "")
        body.append(cells)
    best = sw["best"]
    lines += [*_table(header, body), "",
              f"Best: threshold {_num(best['threshold'], '{:.3f}')}"
              + f", F1 {_num(best['f1'])} vs {_num(sw['current']['f1'])} now. Tuned on this set: "
              "check it on held-out questions before adopting it.", ""]

    lines += ["## F1 by question word", ""]
    byw = summary["by_question_word"]
    lines += [*_table(["Question word", "n", "EM", "F1"],
                      [[w, str(v["n"]), _num(v["exact"]), _num(v["f1"])] for w, v in byw.items()]), ""]

    cal = summary["calibration"]
    lines += ["## Calibration", "",
              f"Correct means: {cal.get('correct_means', '')}. ECE {_num(cal.get('ece'), '{:.3f}')}.", ""]
    lines += [*_table(["Confidence bin", "n", "Mean confidence", "Accuracy"],
                      [[f"{b['lo']:.1f}–{b['hi']:.1f}", str(b["n"]), _num(b["confidence"], "{:.2f}"),
                        _num(b["accuracy"], "{:.2f}")] for b in cal["bins"] if b["n"]]), ""]

    misses = sorted((r for r in results if r.f1 < 1.0), key=lambda r: (r.f1, -r.score))[:MAX_MISSES]
    lines += [f"## Worst misses ({len(misses)} shown, worst F1 first)", ""]
    if misses:
        rows = []
        for i, r in enumerate(misses, 1):
            gold = " / ".join(r.answers) if r.answers else "(unanswerable)"
            pred = r.prediction if r.answered else f"(refused; best span: {r.best_span or 'none'})"
            cited = r.cited_title or r.cited_article_id or "—"
            rows.append([str(i), _cell(r.question), _cell(gold, 80), _cell(pred, 80), f"{r.score:.2f}",
                         f"{r.f1:.2f}", _cell(cited, 60),
                         str(r.gold_rank) if r.gold_rank else ("—" if r.has_gold_article else "n/a")])
        lines += _table(["#", "Question", "Gold", "Predicted", "Conf.", "F1", "Cited article", "Gold rank"], rows)
    else:
        lines.append("None: every question scored F1 = 1.")
    lines.append("")

    bad = summary.get("bad_records", [])
    lines += [f"## Bad records ({len(bad)})", ""]
    lines += _table(["Line", "Error"], [[str(b["line"]), _cell(b["error"], 160)] for b in bad]) if bad else ["None."]
    lines.append("")
    if plots:
        lines += ["## Plots", "", *(f"![{p[:-4]}]({p})" for p in plots), ""]
    return "\n".join(lines)


# --- plots ------------------------------------------------------------------------


def _figure(*args: Any, **kw: Any):
    from matplotlib.figure import Figure

    return Figure(*args, layout="constrained", **kw)


def _integer_ticks():
    from matplotlib.ticker import MaxNLocator

    return MaxNLocator(integer=True)


def _labels(ax, xlabel: str, ylabel: str, title: str | None = None, integer_y: bool = False) -> None:
    """Axis labels, an optional title and horizontal grid lines, as every plot here has them."""
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    if integer_y:
        ax.yaxis.set_major_locator(_integer_ticks())
    ax.grid(alpha=0.3, axis="y")


def _saved(fig, path: Path) -> bool:
    atomic_save_figure(fig, path)
    return True


def plot_calibration(cal: dict, path: Path) -> bool:
    """Reliability diagram (accuracy per confidence bin against the diagonal) over the bin counts."""
    fig = _figure(figsize=(6.4, 6.4))
    top, bottom = fig.subplots(2, 1, sharex=True, gridspec_kw={"height_ratios": [3, 1]})
    bins = cal["bins"]
    width = bins[0]["hi"] - bins[0]["lo"] if bins else 0.1
    centers = [(b["lo"] + b["hi"]) / 2 for b in bins]
    full = [b for b in bins if b["n"]]
    top.bar([(b["lo"] + b["hi"]) / 2 for b in full], [b["accuracy"] for b in full], width=width * 0.95,
            color="#4c72b0", alpha=0.8, edgecolor="black", linewidth=0.6, label="accuracy in bin")
    top.plot([b["confidence"] for b in full], [b["accuracy"] for b in full], "o", color="#dd8452",
             label="mean confidence vs accuracy")
    top.plot([0, 1], [0, 1], "--", color="gray", label="perfect calibration")
    top.set_xlim(0, 1)
    top.set_ylim(0, 1.02)
    top.set_ylabel("accuracy (best span correct)")
    top.set_title(f"Reliability diagram (ECE {_num(cal.get('ece'), '{:.3f}')}, n={cal.get('n', 0)})")
    fig.legend(loc="outside lower center", ncol=3, fontsize=8)
    top.grid(alpha=0.3)
    bottom.bar(centers, [b["n"] for b in bins], width=width * 0.95, color="#55a868", edgecolor="black",
               linewidth=0.6)
    _labels(bottom, "confidence", "questions", integer_y=True)
    bottom.set_xticks(np.linspace(0, 1, 11))
    return _saved(fig, path)


def plot_question_words(byw: dict, path: Path) -> bool:
    """F1 per question word, with the number of questions on each bar."""
    fig = _figure(figsize=(8, 4.4))
    ax = fig.subplots()
    words = [w.replace(" ", "\n") for w in byw]  # two-word labels on two lines
    f1s = [byw[w]["f1"] for w in byw]
    bars = ax.bar(words, f1s, color="#4c72b0", edgecolor="black", linewidth=0.6)
    for bar, w in zip(bars, byw):
        ax.annotate(f"n={byw[w]['n']}", (bar.get_x() + bar.get_width() / 2, bar.get_height()),
                    xytext=(0, 3), textcoords="offset points", ha="center", fontsize=9)
    if not words:
        ax.text(0.5, 0.5, "no questions", ha="center", va="center", transform=ax.transAxes)
    ax.set_ylim(0, 110)
    ax.set_xlabel("question word")
    ax.set_ylabel("F1 (%)")
    ax.set_title("F1 by question word")
    ax.grid(alpha=0.3, axis="y")
    atomic_save_figure(fig, path)
    return True


def plot_latency(results: Sequence[EvalResult], path: Path) -> bool:
    """Histogram of total latency and a box per stage, p50/p95 marked; False when there are no timings."""
    data = {s: np.array([r.timings_ms[s] for r in results if s in r.timings_ms], dtype=float) for s in STAGES}
    data = {s: v for s, v in data.items() if v.size}
    if "total" not in data:
        return False
    fig = _figure(figsize=(10, 4.2))
    hist_ax, box_ax = fig.subplots(1, 2)
    total = data["total"]
    hist_ax.hist(total, bins=min(30, max(5, total.size // 2)), color="#4c72b0", edgecolor="black", linewidth=0.5)
    for q, style in ((50, "--"), (95, ":")):
        v = float(np.percentile(total, q))
        hist_ax.axvline(v, color="#c44e52", linestyle=style, label=f"p{q} {v:.0f} ms")
    hist_ax.set_xlabel("total latency per question (ms)")
    hist_ax.set_ylabel("questions")
    hist_ax.yaxis.set_major_locator(_integer_ticks())
    hist_ax.set_title(f"Total latency (n={total.size})")
    hist_ax.legend(fontsize=8)
    stages = list(data)
    box_ax.boxplot([data[s] for s in stages], showfliers=True)
    box_ax.set_xticks(range(1, len(stages) + 1), stages)
    for i, s in enumerate(stages, 1):
        p50, p95 = np.percentile(data[s], [50, 95])
        box_ax.plot([i], [p95], marker="v", color="#c44e52", label="p95" if i == 1 else None)
        box_ax.annotate(f"p50 {p50:.0f}\np95 {p95:.0f}", (i, p95), xytext=(8, 0), textcoords="offset points",
                        fontsize=8, va="center")
    _labels(box_ax, "stage", "latency (ms)", title="Latency per stage (box: quartiles, line: p50)")
    box_ax.legend(fontsize=8, loc="upper left")
    return _saved(fig, path)


def plot_threshold_sweep(sweep: dict, path: Path) -> bool:
    """F1, HasAns F1, NoAns accuracy and answer rate against the no-answer threshold."""
    fig = _figure(figsize=(9.5, 4.5))
    ax = fig.subplots()
    rows = sweep["rows"]
    x = [r["threshold"] for r in rows]
    for key, label, style in (("f1", "F1", "-o"), ("HasAns_f1", "HasAns F1", "-s"),
                              ("NoAns_accuracy", "NoAns accuracy", "-^"), ("answer_rate", "answered %", ":")):
        y = [np.nan if r[key] is None else r[key] for r in rows]
        if not all(np.isnan(y)):
            ax.plot(x, y, style, markersize=3, label=label)
    conf = sweep["scale"] == "confidence"
    cur, best = sweep["current"], sweep["best"]

    def where(row: dict) -> str:
        return f"{row['threshold']:.2f}"

    ax.axvline(cur["threshold"], color="black", linestyle="--", label=f"current {where(cur)}")
    ax.axvline(best["threshold"], color="#2ca02c", linestyle="-.",
               label=f"best F1 {_num(best['f1'])} at {where(best)}")
    ax.set_ylim(-2, 102)
    if conf:
        ax.set_xlim(0, 1)
        ax.set_xlabel("confidence cut-off (answer iff confidence >= cut-off)")
    else:
        ax.set_xlabel("margin threshold (answer iff best span − null score > threshold)")
    ax.set_ylabel("%")
    ax.set_title("No-answer threshold sweep")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="center left", bbox_to_anchor=(1.01, 0.5))
    atomic_save_figure(fig, path)
    return True


def plot_risk_coverage(sweep: dict, path: Path) -> bool:
    """The answered-right share against the share answered, one point per cut-off on the confidence shown;
    the product's cut-off marked. End to end only (reader-only runs have no calibrated confidence)."""
    curve = sweep.get("risk_coverage") or []
    if not curve:
        return False
    fig = _figure(figsize=(7.5, 4.5))
    ax = fig.subplots()
    ax.plot([100 * p["answered_share"] for p in curve], [100 * p["right_share"] for p in curve], "-",
            label="answer the most confident first")
    cur = sweep["current"]
    if cur.get("answered_right_share") is not None:
        ax.plot([cur["answer_rate"]], [cur["answered_right_share"]], "o", color="black",
                label=f"cut-off {sweep['cutoff']:.2f}: {cur['answer_rate']:.0f}% answered, "
                      f"{cur['answered_right_share']:.0f}% of them right")
    ax.axhline(70, color="#b54708", linestyle=":", label="goal: 70% right")
    ax.set_xlim(0, 100)
    ax.set_ylim(0, 102)
    ax.set_xlabel("questions answered (%)")
    ax.set_ylabel("answers right (%)")
    ax.set_title("Risk and coverage: how often answers are right, by how many are given")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower left")
    atomic_save_figure(fig, path)
    return True
