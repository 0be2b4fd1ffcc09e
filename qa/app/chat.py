"""The Gradio chat: the page's layout, its wiring to the handlers (``qa.app.handlers``) and launch.

Answers are rendered as HTML by ``qa.app.render``; the page's stylesheet and scripts are files in
``qa/app/assets``.
"""

from __future__ import annotations

import logging
from importlib import resources
from types import SimpleNamespace

from qa.answer.pipeline import Pipeline
from qa.app.handlers import answer_turn, overview, save_and_index, source_choices
from qa.app.serving import answer_slots, answering_pipeline
from qa.app.status import date_hints, plain_report, status_line
from qa.app.uploads import MAX_UPLOAD_BYTES, MAX_UPLOAD_FILES, upload_dir
from qa.config import Settings
from qa.store.write_lock import IndexBusy

log = logging.getLogger(__name__)

EXAMPLES = [
    "What did Pakistan agree to?",
    "What is Beijing pushing Pakistan to allow?",
    "Where did last month's bombing happen?",
    "Which ministries did not respond to requests for comment?",
]


def _asset(name: str) -> str:
    return (resources.files(__package__) / "assets" / name).read_text(encoding="utf-8")


CSS = _asset("chat.css")
# After an answer: scroll the conversation so the question and the start of its answer are in view
# (Gradio's autoscroll would show the end of a long answer). The answer alone when the question is
# taller than half the box. Run a few times: the message renders over a frame or two.
SCROLL_TO_ANSWER = _asset("scroll_to_answer.js")
# Gradio labels each message "bot's message: " + its content, which for us is HTML. Relabel each with
# its visible text instead, whenever the chat changes (a MutationObserver; it stops once labels match).
PLAIN_ARIA_LABELS = _asset("plain_aria_labels.js")


def _layout(gr) -> SimpleNamespace:
    """The page's components, made inside the caller's ``gr.Blocks``."""
    ui = SimpleNamespace()
    ui.conv = gr.State(None)  # one Conversation per browser session, made on the first question
    gr.Markdown("## News QA\nAsk a question; the answer is quoted from the articles, with its source.",
                elem_id="title")
    ui.status_md = gr.Markdown("", elem_id="index-status")
    # Each message its own bubble (a note never lands inside the previous answer); no scrolling to
    # the end of a long answer (SCROLL_TO_ANSWER shows its start); only the copy buttons.
    ui.chatbot = gr.Chatbot(label="Answers", show_label=False, height=520, sanitize_html=True, elem_id="chat",
                            group_consecutive_messages=False, autoscroll=False, buttons=["copy"])
    with gr.Row(elem_id="ask-row", equal_height=True):
        ui.box = gr.Textbox(placeholder="e.g. What did Pakistan agree to?", show_label=False, scale=8,
                            elem_id="question", autofocus=True, max_lines=8)
        ui.send = gr.Button("Ask", variant="primary", scale=1, min_width=80, elem_id="ask")
    with gr.Row(elem_id="filters"):
        ui.since = gr.Textbox(label="Since", placeholder="YYYY-MM-DD", max_lines=1, min_width=140, elem_id="since")
        ui.until = gr.Textbox(label="Until", placeholder="YYYY-MM-DD", max_lines=1, min_width=140, elem_id="until")
        ui.chosen = gr.Dropdown(choices=[], value=[], multiselect=True, label="Sources", scale=2,
                                min_width=200, elem_id="sources", info="all when none is chosen")
    gr.Markdown("Examples (click to ask):", elem_id="examples-label")
    with gr.Row(elem_id="examples"):
        ui.example_buttons = [gr.Button(q, size="sm", elem_classes=["qa-example"]) for q in EXAMPLES]
    kinds = ".txt, .md, .html, .json, .jsonl, .jsonl.gz"
    ui.files = gr.File(label=f"Add articles: drop {kinds} files (up to {MAX_UPLOAD_FILES} at a time, "
                             f"{MAX_UPLOAD_BYTES // (1024 * 1024)} MB each)",
                       file_count="multiple", elem_id="upload")
    ui.upload_md = gr.Markdown("", elem_id="upload-status")
    ui.refresh = gr.Button("Re-index articles", size="sm", elem_id="reindex")
    return ui


def build_app(pipeline: Pipeline):
    """The chat's page. What describes the index (status line, date hints, Sources) is computed when a
    page loads, and the pipeline checks the index version before each question, so every tab sees
    what a `qa index` in another process, an upload or a re-index did."""
    import gradio as gr

    def page(note: str = ""):
        """Status line, date hints and Sources for the index as it is now."""
        ov = overview(pipeline)
        lo, hi = date_hints(ov)
        return (status_line(ov, note), gr.Textbox(info=lo), gr.Textbox(info=hi),
                gr.Dropdown(choices=source_choices(pipeline)))

    def refresh_page():
        return page()

    def respond(message: str, history: list, conv, since: str, until: str, chosen: list):
        return answer_turn(pipeline, message, history, conv, since, until, chosen)

    def reindex(progress=gr.Progress(track_tqdm=True)):  # noqa: B008 (Gradio's way to ask for progress)
        progress(0, desc="Re-indexing")
        try:
            # Adds and updates only: removing articles whose files vanished is `qa index --prune`, which
            # lists them before removing (the note here says how many are waiting for it).
            note = "Re-indexed: " + plain_report(pipeline.index(progress=True))
        except IndexBusy as e:  # a `qa index` elsewhere holds the lock: say so, it is not a failure
            note = f"Not re-indexed: {e}"
        except Exception:
            log.exception("re-indexing failed")
            note = "Re-indexing failed; see the server log."
        return page(note)

    def add_files(files, progress=gr.Progress(track_tqdm=True)):  # noqa: B008
        if not files:
            return ("", *page(), None)
        message, note = save_and_index(pipeline, files, progress)
        return (message, *page(note), None)

    with gr.Blocks(title="News QA") as demo:
        ui = _layout(gr)
        index_view = [ui.status_md, ui.since, ui.until, ui.chosen]
        demo.load(refresh_page, None, index_view, api_visibility="private", show_progress="hidden")
        ask_io = {"fn": respond, "inputs": [ui.box, ui.chatbot, ui.conv, ui.since, ui.until, ui.chosen],
                  "outputs": [ui.box, ui.chatbot, ui.conv], **answer_slots(pipeline.settings)}
        scroll = {"fn": None, "inputs": None, "outputs": None, "js": SCROLL_TO_ANSWER, "queue": False}
        ui.box.submit(**ask_io, api_name="ask").then(**scroll)  # the endpoint gradio_client calls (bench/chat_load.py)
        ui.send.click(**ask_io, api_visibility="private").then(**scroll)
        for button, question in zip(ui.example_buttons, EXAMPLES):
            button.click(lambda q=question: q, None, ui.box, queue=False, api_visibility="private").then(
                **ask_io, api_visibility="private").then(**scroll)
        ui.refresh.click(reindex, None, index_view, concurrency_id="pipeline", concurrency_limit=1)
        ui.files.upload(add_files, ui.files, [ui.upload_md, *index_view, ui.files], concurrency_id="pipeline",
                        concurrency_limit=1)
    return demo


def launch(settings: Settings | None = None, refresh: bool = True, block: bool = True):
    """Refresh the index of the configured corpus (progress on the console), then serve."""
    pipeline = answering_pipeline(settings := settings or Settings.from_env())  # in this process, or replicas
    if refresh:
        paths = settings.article_paths()  # the corpus and, once there are any, the chat's uploads
        print(f"Indexing {', '.join(map(str, paths))} …", flush=True)
        print(pipeline.index(paths, progress=True).summary(), flush=True)
    pipeline.warm_up()
    demo = build_app(pipeline)
    print(f"Chat on http://{settings.host}:{settings.port} (uploads are saved in {upload_dir(settings)})", flush=True)
    demo.queue(max_size=settings.queue_size).launch(server_name=settings.host, server_port=settings.port, css=CSS,
                        js=PLAIN_ARIA_LABELS, prevent_thread_lock=not block, footer_links=[], show_error=False,
                        max_file_size=5 * MAX_UPLOAD_BYTES, state_session_capacity=settings.sessions)
    return demo
