"""The Gradio chat: questions in, answers with the highlighted passage and its source out.

Everything that comes from an article is escaped (HTML and Markdown), so an
article can never inject markup into the page; only the highlight and the
layout are ours.
"""

from __future__ import annotations

import html
import logging
import re

from qa.config import Settings
from qa.pipeline import Pipeline
from qa.types import Answer, Citation

log = logging.getLogger(__name__)

EXAMPLES = [
    "What did Pakistan agree to?",
    "What is Beijing pushing Pakistan to allow?",
    "Where did last month's bombing happen?",
    "Which ministries did not respond to requests for comment?",
]

_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-!|~>$])")


def escape(text: str) -> str:
    """Article text as inert markup: HTML-escaped, Markdown characters as entities."""
    text = html.escape(text, quote=True)
    return _MD_SPECIAL.sub(lambda m: f"&#{ord(m.group(1))};", text)


def highlight(c: Citation, context: int = 400) -> str:
    """The passage with the answer span marked, trimmed around the span if long."""
    text, a, b = c.passage, c.answer_start, c.answer_end
    if a is None or b is None:
        return escape(text if len(text) <= context * 2 else text[: context * 2] + "…")
    lo = max(0, a - context)
    hi = min(len(text), b + context)
    pre = ("…" if lo > 0 else "") + escape(text[lo:a])
    post = escape(text[b:hi]) + ("…" if hi < len(text) else "")
    return f"{pre}<mark>{escape(text[a:b])}</mark>{post}"


def source_line(c: Citation) -> str:
    parts = [f"<b>{escape(c.title or 'Untitled')}</b>"]
    if c.date:
        parts.append(escape(c.date[:10]))
    parts.append(f"<code>{escape(c.source)}</code>")
    return " · ".join(parts)


def render(answer: Answer) -> str:
    """One chat message: the answer, the cited passage with the span highlighted, the source."""
    if answer.answered:
        c = answer.citations[0]
        return (
            f"<p class='qa-answer'><b>{escape(answer.text)}</b> "
            f"<small>(confidence {answer.score:.2f})</small></p>"
            f"<blockquote class='qa-passage'>{highlight(c)}</blockquote>"
            f"<p class='qa-source'>{source_line(c)}</p>"
        )
    out = [f"<p class='qa-refusal'>{escape(answer.message)}</p>"]
    if answer.citations:
        out.append("<p>Closest passages:</p>")
        for c in answer.citations:
            out.append(f"<blockquote class='qa-passage'>{highlight(c, context=150)}</blockquote>"
                       f"<p class='qa-source'>{source_line(c)}</p>")
    return "".join(out)


def build_app(pipeline: Pipeline, status: str = ""):
    import gradio as gr

    def respond(message: str, history: list):
        history = list(history or [])
        question = (message or "").strip()
        if not question:
            return "", history
        history.append({"role": "user", "content": escape(question)})
        try:
            reply = render(pipeline.ask(question))
        except Exception as e:  # shown to the user, logged for the operator
            log.exception("question failed")
            reply = f"<p class='qa-error'>Sorry, that failed: {escape(str(e))}</p>"
        history.append({"role": "assistant", "content": reply})
        return "", history

    def reindex(progress=gr.Progress(track_tqdm=True)):
        report = pipeline.index(progress=True)
        return index_status(report.summary())

    with gr.Blocks(title="News QA") as demo:
        gr.Markdown("## News QA\nAsk a question; the answer is quoted from the articles, with its source.")
        status_md = gr.Markdown(index_status(status), elem_id="index-status")
        chatbot = gr.Chatbot(label="Answers", height=520, sanitize_html=True, elem_id="chat")
        with gr.Row():
            box = gr.Textbox(placeholder="e.g. What did Pakistan agree to?", show_label=False, scale=8,
                             elem_id="question", autofocus=True)
            send = gr.Button("Ask", variant="primary", scale=1, elem_id="ask")
        gr.Examples(EXAMPLES, inputs=box, label="Examples")
        refresh = gr.Button("Re-index articles", size="sm", elem_id="reindex")
        box.submit(respond, [box, chatbot], [box, chatbot])
        send.click(respond, [box, chatbot], [box, chatbot])
        refresh.click(reindex, None, status_md)
    return demo


def index_status(summary: str) -> str:
    return f"<small>Index: {escape(summary)}</small>" if summary else ""


CSS = "mark { background: #ffe58a; padding: 0 2px; border-radius: 2px; } .qa-passage { font-size: 0.95em; }"


def launch(settings: Settings | None = None, refresh: bool = True, block: bool = True):
    """Refresh the index of the configured corpus (progress on the console), then serve."""
    settings = settings or Settings.from_env()
    pipeline = Pipeline(settings)
    status = ""
    if refresh:
        print(f"Indexing {', '.join(map(str, settings.corpus))} …", flush=True)
        status = pipeline.index(progress=True).summary()
        print(status, flush=True)
    pipeline.warm_up()
    demo = build_app(pipeline, status)
    print(f"Chat on http://{settings.host}:{settings.port}", flush=True)
    demo.queue().launch(server_name=settings.host, server_port=settings.port, css=CSS,
                        prevent_thread_lock=not block, footer_links=[], show_error=True)
    return demo
