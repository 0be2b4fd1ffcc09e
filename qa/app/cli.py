"""The `qa` command: index, ask, serve, eval, train-reader, synth-questions."""

from __future__ import annotations

import argparse
import functools
import importlib
import json
import logging
import os
import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from qa.config import Settings
from qa.util.onnx import EMBED_RUNTIMES, READER_RUNTIMES

if TYPE_CHECKING:
    from qa.types import Answer, Filters

log = logging.getLogger("qa.app.cli")

# What `--ray` takes as a cluster address rather than as the first path to index.
RAY_ADDRESS = re.compile(r"^(auto|local|ray://\S+|\[?[\w.:-]+\]?:\d+)$")

BOLD, HIGHLIGHT, RESET = "\033[1m", "\033[1;33m", "\033[0m"  # answer line; answer span in its passage


# Training tools with their own argument parsers: `qa NAME ...` hands the rest to MODULE.main.
PASSTHROUGH = {
    "train-reader": ("qa.training.reader", "train the extractive reader"),
    "synth-questions": ("qa.training.synth", "make cloze-style training questions from articles"),
    "train-verifier": ("qa.training.verifier", "fit the answer verifier (calibrated confidence) for a reader"),
    "train-calibrator": ("qa.training.calibrator", "fit the end-to-end confidence for a reader on development data"),
}


class _Parser(argparse.ArgumentParser):
    """An argument parser that, for `--json` runs, reports usage errors as a JSON object on stdout."""

    def __init__(self, *args, json_errors: bool = False, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.json_errors = json_errors

    def error(self, message: str):  # type: ignore[override]
        if self.json_errors:
            print_json_error(message)
            raise SystemExit(2)
        super().error(message)


def _common(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("configuration (flags override QA_* environment variables)")
    g.add_argument("--index-dir", type=Path, help="where the index lives (QA_INDEX_DIR; default index/)")
    g.add_argument("--reader", dest="reader_model", help="QA model folder (QA_READER_MODEL; default models/reader)")
    g.add_argument("--embedder", help="sentence-transformers model folder (QA_EMBEDDER)")
    g.add_argument("--chunk-tokens", type=int, help="hard cap of tokens per chunk (QA_CHUNK_TOKENS; default 160)")
    g.add_argument("--threshold", dest="null_threshold", type=float,
                   help="no-answer threshold on span-minus-null score (QA_NULL_THRESHOLD; default: the model's)")
    g.add_argument("--reader-runtime", choices=READER_RUNTIMES,
                   help="how the reader runs (QA_READER_RUNTIME; default auto: onnx-int8 on CPUs with VNNI/AMX, "
                        "onnx (fp32) without; torch is the exact fp32 path)")
    g.add_argument("--embed-runtime", choices=EMBED_RUNTIMES,
                   help="how the embedder runs (QA_EMBED_RUNTIME; default auto: the index's precision, else "
                        "onnx-int8 on CPUs with VNNI and onnx without; torch is sentence-transformers; "
                        "changing precision rebuilds the index)")
    g.add_argument("-v", "--verbose", action="store_true", help="log what each stage does")


def eval_arguments(parser: argparse.ArgumentParser) -> None:
    """`qa eval` flags; defined here so that building the parser does not import qa.evaluation."""
    parser.add_argument("questions", type=Path, nargs="?",
                        help="JSONL (question, answers, optional id/article_title/article_id) or SQuAD 1.1/2.0 JSON")
    parser.add_argument("--followups", type=Path, default=None, metavar="FILE",
                        help="instead: score follow-up question rewriting on a CANARD file (JSON, or .json.gz): "
                             "BLEU and token F1 against the human rewrites, for the questions as asked, title "
                             "substitution and the resolver; no index or model is needed")
    parser.add_argument("--corpus", nargs="+", type=Path, default=None, metavar="PATH",
                        help="index these files/folders first and evaluate on them alone, in a temporary index "
                             "(deleted afterwards; give --index-dir to keep it there); your index is not touched "
                             "(default: evaluate on the current index)")
    parser.add_argument("--index-contexts", action="store_true",
                        help="SQuAD files: index the file's own articles (all of them) in a temporary index and "
                             "ask its questions end to end over it")
    parser.add_argument("--held-out", action="store_true",
                        help="only the questions of the articles training keeps out (a fixed fifth, by a hash of "
                             "the title): with ../shared/data/qa_train/newsqa_train.json.gz, the news dev set")
    parser.add_argument("--reader-only", action="store_true",
                        help="score the reader alone on each question's gold context (SQuAD files, or JSONL with "
                             "'context'); reproduces reader-training dev scores")
    parser.add_argument("--k", type=int, default=None, help="passages given to the reader (default: settings top_k)")
    parser.add_argument("--out", type=Path, default=None,
                        help="output folder (default: eval_out/<questions file stem>; with --followups, only "
                             "when given: followups.jsonl, one {question, rewrite} per question)")
    parser.add_argument("--json", action="store_true", help="print the metrics as JSON instead of a table")
    parser.add_argument("--limit", type=int, default=None, help="only the first N questions")


def build_parser(json_errors: bool = False) -> argparse.ArgumentParser:
    parser = _Parser(prog="qa", description="Ask questions of a folder of news articles.", json_errors=json_errors)
    sub = parser.add_subparsers(dest="command", required=True,
                                parser_class=functools.partial(_Parser, json_errors=json_errors))

    p = sub.add_parser("index", help="add and update articles in the index (never removes any without --prune)")
    p.add_argument("paths", nargs="*", type=Path,
                   help="files or folders (default: QA_CORPUS or corpus/, and the chat's uploads folder, QA_UPLOADS)")
    p.add_argument("--prune", action="store_true",
                   help="also remove indexed articles whose files are gone (or no longer hold them); "
                        "names them before removing")
    p.add_argument("--no-progress", action="store_true")
    p.add_argument("--ray", nargs="?", const="", default=None, metavar="ADDRESS",
                   help="read, chunk and embed on Ray: a local Ray when no ADDRESS is given, else the cluster at "
                        "HOST:PORT (or auto); on a cluster, paths must be on a filesystem every node shares")
    p.add_argument("--ray-workers", type=int, metavar="N",
                   help="embedding workers on Ray (default: 1 per core up to 3 cores, else cores/2; "
                        "1 per node on a cluster)")
    _common(p)

    p = sub.add_parser("ask", help="answer one question from the indexed articles (indexes corpus/ first if "
                                   "there is no index yet)")
    p.add_argument("question")
    p.add_argument("--k", type=int, help="passages given to the reader (QA_TOP_K; default 5)")
    p.add_argument("--json", action="store_true", help="print the answer (or the error) as JSON")
    p.add_argument("--since", metavar="YYYY-MM-DD", help="only articles dated on or after this day")
    p.add_argument("--until", metavar="YYYY-MM-DD", help="only articles dated on or before this day")
    p.add_argument("--source", dest="sources", action="append", metavar="TEXT",
                   help="only articles whose file path or URL contains TEXT (case-insensitive); repeat for several")
    p.add_argument("--corpus", nargs="+", type=Path, metavar="PATH",
                   help="article files/folders to index first when there is no index yet (QA_CORPUS; "
                        "default corpus/)")
    _common(p)

    p = sub.add_parser("serve", help="start the chat in a browser (Gradio)")
    p.add_argument("--corpus", nargs="+", type=Path, help="article files/folders to index on start")
    p.add_argument("--host", help="interface to bind (QA_HOST; default 127.0.0.1)")
    p.add_argument("--port", type=int, help="port (QA_PORT; default 7860)")
    p.add_argument("--no-refresh", action="store_true", help="use the index as it is; do not re-index on start")
    p.add_argument("--concurrency", type=int, metavar="N",
                   help="questions answered at once (QA_CONCURRENCY; default: one per core; 1: one at a time, "
                        "sharing one slot with uploads, as before)")
    p.add_argument("--replicas", type=int, metavar="N",
                   help="answer on N Ray Serve replicas, each its own process (QA_REPLICAS; needs the scale extra: "
                        'pip install -e ".[scale]"; see docs/serving.md)')
    p.add_argument("--ray", dest="ray_address", metavar="ADDRESS",
                   help="with --replicas: the Ray cluster to run them on (HOST:PORT or auto; QA_RAY_ADDRESS; "
                        "default: a private local Ray)")
    _common(p)

    p = sub.add_parser("eval", help="score the system on test questions (JSONL or SQuAD JSON), or follow-up "
                                    "rewriting on CANARD (--followups)")
    eval_arguments(p)
    _common(p)

    for name, (_, help_text) in PASSTHROUGH.items():  # they parse their own flags
        sub.add_parser(name, help=f"{help_text} (see `qa {name} --help`)", add_help=False)
    return parser


def settings_from(args: argparse.Namespace) -> Settings:
    s = Settings.from_env()
    return s.with_overrides(
        index_dir=getattr(args, "index_dir", None),
        reader_model=getattr(args, "reader_model", None),
        embedder=getattr(args, "embedder", None),
        chunk_tokens=getattr(args, "chunk_tokens", None),
        null_threshold=getattr(args, "null_threshold", None),
        reader_runtime=getattr(args, "reader_runtime", None),
        embed_runtime=getattr(args, "embed_runtime", None),
        top_k=getattr(args, "k", None),
        host=getattr(args, "host", None),
        port=getattr(args, "port", None),
        corpus=tuple(args.corpus) if getattr(args, "corpus", None) else None,
        concurrency=getattr(args, "concurrency", None),
        replicas=getattr(args, "replicas", None),
        ray_address=getattr(args, "ray_address", None),
    )


def cmd_index(args: argparse.Namespace, settings: Settings) -> int:
    from qa.answer.pipeline import Pipeline

    ray = args.ray
    if ray and not RAY_ADDRESS.match(ray) and Path(ray).exists():
        args.paths, ray = [Path(ray), *args.paths], ""  # `qa index --ray corpus/`: a path, not an address
    if args.ray_workers is not None and ray is None:
        raise ValueError("--ray-workers needs --ray")
    if args.ray_workers is not None and args.ray_workers < 1:
        raise ValueError("--ray-workers must be at least 1")
    paths = args.paths or settings.article_paths()  # the corpus, and the uploads folder once it exists
    missing = [str(p) for p in paths if not Path(p).exists()]
    if missing:
        print(f"error: no such file or folder: {', '.join(missing)}", file=sys.stderr)
        return 2
    from qa.store.distributed import DistributedError

    try:
        report = Pipeline(settings).index(paths, progress=not args.no_progress, prune=args.prune, ray=ray,
                                          ray_workers=args.ray_workers)
    except DistributedError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(report.summary())
    if report.found == 0 and report.pruned == 0:
        print(f"error: no articles found in {', '.join(map(str, paths))} "
              "(supported: .txt .md .html .json .jsonl .jsonl.gz)", file=sys.stderr)
        return 1
    return 0


def cmd_ask(args: argparse.Namespace, settings: Settings) -> int:
    from qa.answer.pipeline import Pipeline

    filters = parse_filters(args.since, args.until, args.sources)  # bad flags fail before any model loads
    if not args.question.strip():
        raise ValueError("the question is empty")
    pipe = Pipeline(settings)
    articles = [p for p in settings.article_paths() if Path(p).exists()]  # the corpus, and any uploads
    if not pipe.store.exists() and articles:
        print(f"No index in {settings.index_dir} yet: indexing {', '.join(map(str, articles))} first.",
              file=sys.stderr, flush=True)
    report = pipe.ensure_index(progress=True)  # a fresh checkout answers without a separate `qa index`
    if report is not None:
        print(report.summary(), file=sys.stderr, flush=True)
    pipe.check_ready()
    answer = pipe.ask(args.question, filters=filters)
    if args.json:
        print(json.dumps(answer.to_dict(), ensure_ascii=False, indent=2))
        return 0
    print(format_answer(answer, color=use_color(sys.stdout), reader=str(settings.reader_model)))
    return 0


def parse_filters(since: str | None, until: str | None, sources: list[str] | None) -> Filters | None:
    """The article filters given on the command line, validated; None when there are none. An empty
    --since or --until is an error; blank --source values are ignored."""
    from qa.app.filters import CLI
    from qa.app.filters import parse_filters as parse

    return parse(since, until, [s.strip() for s in sources or []], CLI)


def use_color(stream: TextIO) -> bool:
    """ANSI styling only for a terminal, and never when NO_COLOR is set (https://no-color.org)."""
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty()) and not os.environ.get("NO_COLOR") and os.environ.get("TERM") != "dumb"


def _style(text: str, code: str, color: bool) -> str:
    return f"{code}{text}{RESET}" if color and text else text


def format_answer(answer: Answer, color: bool = False, reader: str = "PATH") -> str:
    """The view the chat shows too (``qa.app.view``), as text: each finding with its source and passage
    (the span highlighted when ``color``), possible answers, evidence, or the refusal's closest passages.

    Passages go through ``qa.text.excerpt`` as in the chat, so both show the same words.
    """
    from qa.text.excerpt import excerpt
    from qa.app.view import view

    def passage(c, width: int) -> str:
        ex = excerpt(c.passage, c.answer_start, c.answer_end, max_chars=width)
        flat = [" ".join(part.split()) for part in (ex.before, ex.after)]  # paragraph breaks as spaces
        before = flat[0] + (" " if flat[0] and ex.before[-1:].isspace() else "")
        after = (" " if flat[1] and ex.after[:1].isspace() else "") + flat[1]
        return ("…" if ex.clipped_start else "") + before + _style(ex.span, HIGHLIGHT, color) + after + (
            "…" if ex.clipped_end else "")

    def source(c) -> str:
        return f"— {c.title}" + (f", {c.date[:10]}" if c.date else "") + f" [{c.source}]"

    def span(f, low: bool = False) -> str:
        return f"{_style(f.text, BOLD, color)}   (confidence {f.score:.2f}{', low' if low else ''})"

    v = view(answer, reader=reader)
    lines = [f"(answered as: {v.asked_as})"] if v.asked_as else []
    if v.answer is not None:
        lines += [span(v.answer), source(v.answer.citation), "  " + passage(v.answer.citation, 500)]
    else:
        lines.append(v.lead)
        if v.heading:
            lines.append(v.heading)
    for i, b in enumerate(v.blocks if v.answer is None else [], 1):
        c = b.citation
        if b.kind == "closest":
            ex = excerpt(c.passage, c.focus_start, c.focus_end, max_chars=160)
            shown = ("…" if ex.clipped_start else "") + " ".join(ex.text.split()) + ("…" if ex.clipped_end else "")
            lines.append(f"- closest: {c.title}" + (f", {c.date[:10]}" if c.date else "") + f": {shown}")
        elif b.kind == "evidence":
            mark = f"[{b.label.lower()}] " if b.findings[0].denies else ""
            lines += [f"{i}. {mark}{_terms(b.findings[0], color)}", "   " + source(c)]
        else:
            heads = [span(f, b.kind == "possible") for f in b.findings]
            lines += [f"{i}. {heads[0]}", *(f"   {h}" for h in heads[1:]), "   " + source(c),
                      "   " + passage(c, 300)]
    if v.note:
        lines.append(v.note)
    return "\n".join(lines)


def _terms(f, color: bool) -> str:
    """An evidence sentence on one line, the question's key terms in bold (when ``color``)."""
    c = f.citation
    a, b = c.answer_start or 0, c.answer_end or len(c.passage)
    out, pos = "", a
    for x, y in sorted(t for t in f.terms if a <= t[0] and t[1] <= b):
        if x < pos:
            continue
        out += c.passage[pos:x] + _style(c.passage[x:y], BOLD, color)
        pos = y
    return " ".join((out + c.passage[pos:b]).split())


def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    from qa.app.chat import launch

    for flag, value in (("--concurrency", settings.concurrency), ("--replicas", settings.replicas)):
        if value < 0:
            raise ValueError(f"{flag} must be 0 (automatic) or more")
    if settings.ray_address and not settings.replicas:
        raise ValueError("--ray (QA_RAY_ADDRESS) needs --replicas N")
    if settings.replicas:
        from qa.util.extras import require

        require("ray.serve", "`qa serve --replicas`")  # before indexing: say what to install at once
    launch(settings, refresh=not args.no_refresh)
    return 0


def cmd_eval(args: argparse.Namespace, settings: Settings) -> int:
    if args.followups is not None:
        if args.questions is not None:
            raise ValueError("give either a questions file or --followups FILE, not both")
        from qa.evaluation import followups

        return followups.run(args)
    if args.questions is None:
        raise ValueError("qa eval needs a questions file (JSONL or SQuAD JSON), or --followups FILE")
    from qa.evaluation import evaluate

    if args.index_contexts:
        if args.corpus or args.reader_only:
            raise ValueError("--index-contexts builds the corpus from the questions file: give neither --corpus "
                             "nor --reader-only with it")
        import tempfile

        with tempfile.TemporaryDirectory(prefix="qa-eval-contexts-") as tmp:
            n = evaluate.write_context_corpus(args.questions, Path(tmp) / "articles")
            print(f"{n} articles from {args.questions} written for indexing.", file=sys.stderr, flush=True)
            args.corpus = [Path(tmp) / "articles"]
            if args.index_dir is not None:
                return evaluate.run(args, settings)
            print("Indexing them into a temporary index (give --index-dir to keep it).", file=sys.stderr, flush=True)
            return evaluate.run(args, settings.with_overrides(index_dir=Path(tmp) / "index"))
    if args.corpus and not args.reader_only and args.index_dir is None:
        # --corpus alone must not add its articles to the configured index (nor score the questions
        # against whatever else that index holds): build a throwaway one.
        import tempfile

        with tempfile.TemporaryDirectory(prefix="qa-eval-index-") as tmp:
            print(f"Indexing {', '.join(map(str, args.corpus))} into a temporary index "
                  "(give --index-dir to keep it).", file=sys.stderr, flush=True)
            return evaluate.run(args, settings.with_overrides(index_dir=Path(tmp)))
    return evaluate.run(args, settings)


COMMANDS = {"index": cmd_index, "ask": cmd_ask, "serve": cmd_serve, "eval": cmd_eval}


def print_json_error(message: str) -> None:
    """The error as the JSON a `--json` caller parses: same place (stdout), never a traceback."""
    print(json.dumps({"error": message, "answered": False}, ensure_ascii=False))


def fail(message: str, as_json: bool, code: int = 2) -> int:
    """Report an error in one line (stderr), or as JSON (stdout) under --json."""
    if as_json:
        print_json_error(message)
    else:
        print(f"error: {message}", file=sys.stderr)
    return code


def quiet_model_loading() -> None:
    """Hide transformers' per-load "Loading weights" bars (shown again with -v).

    Through the environment, so that a `qa ask` on the ONNX runtimes never imports transformers
    (and torch) just to say this. Indexing and embedding bars are tqdm's own and stay.
    """
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")  # transformers reads it when imported
    if "transformers" in sys.modules:  # already imported (a caller in the same process): tell it directly
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] in PASSTHROUGH:
        return importlib.import_module(PASSTHROUGH[argv[0]][0]).main(argv[1:])
    args = build_parser(json_errors="--json" in argv).parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    as_json = bool(getattr(args, "json", False))
    try:
        if not args.verbose:
            quiet_model_loading()
        return COMMANDS[args.command](args, settings_from(args))
    except KeyboardInterrupt:
        return fail("interrupted", as_json, code=130)
    except (OSError, ValueError, ImportError) as e:  # missing files, models and extras; bad settings and flags
        return fail(str(e), as_json)
    except Exception as e:  # noqa: BLE001 - a user sees one line; -v logs the traceback
        if args.verbose:
            log.exception("unexpected error")
        return fail(f"unexpected {type(e).__name__}: {e} (run with -v for the traceback)", as_json)


if __name__ == "__main__":
    raise SystemExit(main())
