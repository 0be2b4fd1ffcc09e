"""The `qa` command: index, ask, serve, eval, train-reader, synth-questions."""

from __future__ import annotations

import argparse
import importlib
import json
import logging
import sys
from pathlib import Path

from qa.config import Settings


# Training tools with their own argument parsers: `qa NAME ...` hands the rest to MODULE.main.
PASSTHROUGH = {
    "train-reader": ("qa.train", "train the extractive reader"),
    "synth-questions": ("qa.synth", "make cloze-style training questions from articles"),
}


def _common(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("configuration (flags override QA_* environment variables)")
    g.add_argument("--index-dir", type=Path, help="where the index lives (QA_INDEX_DIR; default index/)")
    g.add_argument("--reader", dest="reader_model", help="QA model folder (QA_READER_MODEL; default models/reader)")
    g.add_argument("--embedder", help="sentence-transformers model folder (QA_EMBEDDER)")
    g.add_argument("--chunk-tokens", type=int, help="hard cap of tokens per chunk (QA_CHUNK_TOKENS; default 160)")
    g.add_argument("--threshold", dest="null_threshold", type=float,
                   help="no-answer threshold on span-minus-null score (QA_NULL_THRESHOLD; default: the model's)")
    g.add_argument("--int8", dest="reader_int8", action="store_const", const=True,
                   help="quantize the reader to int8 on load (QA_READER_INT8)")
    g.add_argument("-v", "--verbose", action="store_true", help="log what each stage does")


def build_parser() -> argparse.ArgumentParser:
    from qa import evaluate

    parser = argparse.ArgumentParser(prog="qa", description="Ask questions of a folder of news articles.")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("index", help="build or refresh the index of article files and folders")
    p.add_argument("paths", nargs="*", type=Path, help="files or folders (default: QA_CORPUS or corpus/)")
    p.add_argument("--no-progress", action="store_true")
    _common(p)

    p = sub.add_parser("ask", help="answer one question from the indexed articles")
    p.add_argument("question")
    p.add_argument("--k", type=int, help="passages given to the reader (QA_TOP_K; default 5)")
    p.add_argument("--json", action="store_true", help="print the answer as JSON")
    _common(p)

    p = sub.add_parser("serve", help="start the chat in a browser (Gradio)")
    p.add_argument("--corpus", nargs="+", type=Path, help="article files/folders to index on start")
    p.add_argument("--host", help="interface to bind (QA_HOST; default 127.0.0.1)")
    p.add_argument("--port", type=int, help="port (QA_PORT; default 7860)")
    p.add_argument("--no-refresh", action="store_true", help="use the index as it is; do not re-index on start")
    _common(p)

    p = sub.add_parser("eval", help="score the system on test questions (JSONL or SQuAD JSON)")
    evaluate.add_arguments(p)
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
        reader_int8=getattr(args, "reader_int8", None),
        top_k=getattr(args, "k", None),
        host=getattr(args, "host", None),
        port=getattr(args, "port", None),
        corpus=tuple(args.corpus) if getattr(args, "corpus", None) else None,
    )


def cmd_index(args: argparse.Namespace, settings: Settings) -> int:
    from qa.pipeline import Pipeline

    paths = args.paths or list(settings.corpus)
    missing = [str(p) for p in paths if not Path(p).exists()]
    if missing:
        print(f"error: no such file or folder: {', '.join(missing)}", file=sys.stderr)
        return 2
    report = Pipeline(settings).index(paths, progress=not args.no_progress)
    print(report.summary())
    if report.articles == 0:
        print(f"error: no articles found in {', '.join(map(str, paths))} "
              "(supported: .txt .md .html .json .jsonl .jsonl.gz)", file=sys.stderr)
        return 1
    return 0


def cmd_ask(args: argparse.Namespace, settings: Settings) -> int:
    from qa.pipeline import Pipeline

    if not args.question.strip():
        print("error: the question is empty", file=sys.stderr)
        return 2
    pipe = Pipeline(settings)
    pipe.check_ready()
    answer = pipe.ask(args.question)
    if args.json:
        print(json.dumps(answer.to_dict(), ensure_ascii=False, indent=2))
        return 0
    print(format_answer(answer))
    return 0


def format_answer(answer) -> str:
    lines = []
    if answer.answered:
        c = answer.citations[0]
        lines.append(f"{answer.text}   (confidence {answer.score:.2f})")
        lines.append(f"— {c.title}" + (f", {c.date}" if c.date else "") + f" [{c.source}]")
        a, b = c.answer_start, c.answer_end
        lines.append("  " + c.passage[:a] + "**" + c.passage[a:b] + "**" + c.passage[b:])
    else:
        lines.append(answer.message)
        for c in answer.citations:
            lines.append(f"- closest: {c.title}" + (f", {c.date}" if c.date else "") + f": {c.passage[:160]}…")
    return "\n".join(lines)


def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    from qa.chat import launch

    launch(settings, refresh=not args.no_refresh)
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] in PASSTHROUGH:
        return importlib.import_module(PASSTHROUGH[argv[0]][0]).main(argv[1:])
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    try:
        settings = settings_from(args)
        if args.command == "index":
            return cmd_index(args, settings)
        if args.command == "ask":
            return cmd_ask(args, settings)
        if args.command == "serve":
            return cmd_serve(args, settings)
        if args.command == "eval":
            from qa import evaluate

            return evaluate.run(args, settings)
    except (FileNotFoundError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 1


if __name__ == "__main__":
    raise SystemExit(main())
