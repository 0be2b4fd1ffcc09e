"""The Gradio chat: questions in, answers with the highlighted passages and their sources out.

Everything that comes from an article (or from the user) is escaped (HTML and Markdown), so
an article can never inject markup into the page; only the highlight, the links to sources
(http/https only) and the layout are ours.
"""

from __future__ import annotations

import html
import logging
import re
from pathlib import Path
from types import SimpleNamespace

from qa.config import Settings
from qa.answer.followups.conversation import Conversation
from qa.text.excerpt import excerpt
from qa.store.index import IndexBusy
from qa.answer.pipeline import IndexOverview, Pipeline, clean_question
from qa.types import Answer, Citation, Filters, Finding, strict_day
from qa.app.view import Block, view
from qa.app.uploads import MAX_UPLOAD_BYTES, MAX_UPLOAD_FILES, save_uploads
from qa.app.serving import answer_slots, answering_pipeline

log = logging.getLogger(__name__)

EXAMPLES = [
    "What did Pakistan agree to?",
    "What is Beijing pushing Pakistan to allow?",
    "Where did last month's bombing happen?",
    "Which ministries did not respond to requests for comment?",
]

EMPTY_QUESTION = "Please type a question first, for example “What did Pakistan agree to?”."
FAILED = ("Sorry, something went wrong while answering that. The details are in the server log; "
          "please try again, or rephrase the question.")
# Passage windows, in characters, as `qa ask` prints them: one answer, each of several findings,
# each closest passage of a refusal.
ANSWER_CHARS, FINDING_CHARS, CLOSEST_CHARS = 500, 300, 160
SHOWN_QUESTION_CHARS = 600  # a longer question is shown shortened in the chat (it is asked in full)

_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-!|~>$'\"])")  # and quotes, for attribute values
_LINE_BREAKS = re.compile(r"\s*[\r\n]+\s*")


def escape(text: str) -> str:
    """Article text as inert markup: HTML-escaped, Markdown characters as entities, one line.

    Line breaks become spaces: a blank line would end the HTML block the chat renders and let
    the rest be read as Markdown.
    """
    text = html.escape(_LINE_BREAKS.sub(" ", text), quote=False)  # &, <, >; quotes with the rest below
    return _MD_SPECIAL.sub(lambda m: f"&#{ord(m.group(1))};", text)


def shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit].rstrip() + "…"


def highlight(c: Citation, max_chars: int = ANSWER_CHARS, also: list[tuple[int, int]] = ()) -> str:
    """The passage with the answer span marked, trimmed around it at sentence/word boundaries.

    The window is the one `qa ask` prints (``qa.text.excerpt``). ``also``: more spans of the same
    passage to mark (findings that share it); the window then covers them all.
    """
    spans = [(c.answer_start, c.answer_end)] if c.answer_start is not None and c.answer_end is not None else []
    spans = sorted({*spans, *also})
    a, b = (min(x for x, _ in spans), max(y for _, y in spans)) if spans else (None, None)
    ex = excerpt(c.passage, a, b, max_chars=max_chars)
    marked = ""
    if ex.span:
        pos = a
        for x, y in _merge(spans):
            marked += escape(c.passage[pos:x]) + f"<mark>{escape(c.passage[x:y])}</mark>"
            pos = y
        marked += escape(c.passage[pos:b])
    return ("…" if ex.clipped_start else "") + escape(ex.before) + marked + escape(ex.after) + (
        "…" if ex.clipped_end else "")


def highlight_focus(c: Citation, max_chars: int = CLOSEST_CHARS) -> str:
    """A closest passage of a refusal, trimmed around its sentence that best matches the question
    (not marked: it is not an answer, only the words that came closest)."""
    ex = excerpt(c.passage, c.focus_start, c.focus_end, max_chars=max_chars)
    return ("…" if ex.clipped_start else "") + escape(ex.text) + ("…" if ex.clipped_end else "")


def highlight_evidence(f: Finding, max_chars: int = FINDING_CHARS) -> str:
    """An evidence sentence in its passage: the sentence set apart, the question's key terms marked."""
    c = f.citation
    ex = excerpt(c.passage, c.answer_start, c.answer_end, max_chars=max_chars)
    a, b = ex.start + len(ex.before), ex.start + len(ex.before) + len(ex.span)
    pos, sentence = a, ""
    for x, y in _merge([(x, y) for x, y in f.terms if a <= x and y <= b]):
        sentence += escape(c.passage[pos:x]) + f"<mark class='qa-term'>{escape(c.passage[x:y])}</mark>"
        pos = y
    sentence += escape(c.passage[pos:b])
    return ("…" if ex.clipped_start else "") + escape(ex.before) + f"<span class='qa-sentence'>{sentence}</span>" + (
        escape(ex.after) + ("…" if ex.clipped_end else ""))


def _merge(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for x, y in sorted(spans):
        if out and x <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], y))
        else:
            out.append((x, y))
    return out


def source_link(source: str) -> str:
    """The article's source: a link when it is a web address, else its file name as code."""
    if re.match(r"https?://", source or "", re.IGNORECASE):
        return (f"<a class='qa-url' href=\"{escape(source)}\" target=\"_blank\" "
                f"rel=\"noopener noreferrer\">{escape(source)}</a>")
    return f"<code>{escape(source or 'unknown source')}</code>"


def source_line(c: Citation) -> str:
    parts = [f"<span class='qa-title'>{escape(c.title or 'Untitled')}</span>"]
    if c.date:
        parts.append(f"<span class='qa-date'>{escape(c.date[:10])}</span>")
    parts.append(source_link(c.source or c.url))
    return " · ".join(parts)


def _cited(c: Citation, max_chars: int = ANSWER_CHARS, also: list[tuple[int, int]] = ()) -> str:
    return (f"<blockquote class='qa-passage'>{highlight(c, max_chars, also)}</blockquote>"
            f"<p class='qa-source'>{source_line(c)}</p>")


def _spans(block: Block) -> str:
    """The spans of a block, each with its confidence (a possible answer marked as such)."""
    low = " <span class='qa-low'>low confidence</span>" if block.kind == "possible" else ""
    heads = "<br>".join(f"<span class='qa-span'>{escape(f.text)}</span> <small>(confidence {f.score:.2f})</small>{low}"
                        for f in block.findings)
    return f"<p class='qa-finding-text'>{heads}</p>"


def _block(block: Block, chars: int) -> str:
    """One passage under an answer: its spans marked (a finding, a possible answer), its sentence set
    apart with the question's terms marked (evidence), or its closest sentence in view (a refusal)."""
    c = block.citation
    if block.kind == "closest":
        return (f"<blockquote class='qa-passage'>{highlight_focus(c)}</blockquote>"
                f"<p class='qa-source'>{source_line(c)}</p>")
    if block.kind == "evidence":
        cls = "qa-denial" if block.findings[0].denies else "qa-bears"
        return (f"<p class='qa-finding-text'><span class='{cls}'>{block.label}</span></p>"
                f"<blockquote class='qa-passage'>{highlight_evidence(block.findings[0])}</blockquote>"
                f"<p class='qa-source'>{source_line(c)}</p>")
    also = [(f.citation.answer_start, f.citation.answer_end) for f in block.findings[1:]
            if f.citation.answer_start is not None and f.citation.answer_end is not None]
    return _spans(block) + _cited(c, chars, also)


_ITEM_CLASS = {"finding": "qa-finding", "possible": "qa-finding qa-possible", "evidence": "qa-evidence"}


def render(answer: Answer, asked: str | None = None, follows: str | None = None, reader: str = "PATH") -> str:
    """One chat message, from the view both the chat and `qa ask` show (``qa.app.view``): the answer,
    each passage with its span highlighted and its source, possible answers or closest passages.

    ``asked`` is the question as typed; when the pipeline answered a different (rewritten
    follow-up) question, that question is shown. ``follows``: the earlier question a follow-up
    kept as asked was read with.
    """
    v = view(answer, asked, follows, reader)
    out = []
    if v.asked_as:
        out.append(f"<p class='qa-resolved'><small>Answered as: <i>{escape(shorten(v.asked_as, 300))}</i></small></p>")
    elif v.follows:
        out.append(f"<p class='qa-follows'><small>Read as a follow-up to: <i>{escape(shorten(v.follows, 300))}</i>"
                   "</small></p>")
    if v.answer is not None:
        out.append(f"<p class='qa-answer'><span class='qa-span'>{escape(v.answer.text)}</span> "
                   f"<small>(confidence {v.answer.score:.2f})</small></p>")
        out.extend(_cited(b.citation, ANSWER_CHARS) for b in v.blocks)
    else:
        out.append(f"<p class='{'qa-refusal' if v.refused else 'qa-answer'}'>{escape(v.lead)}</p>")
        if v.heading:
            out.append(f"<p class='qa-heading'>{escape(v.heading)}</p>")
        if v.listed:
            items = "".join(f"<li class='{_ITEM_CLASS[b.kind]}'>{_block(b, FINDING_CHARS)}</li>" for b in v.blocks)
            out.append(f"<ol class='qa-findings'>{items}</ol>")
        else:
            out.extend(_block(b, CLOSEST_CHARS) for b in v.blocks)
    if v.note:
        out.append(f"<p class='qa-uncalibrated'><small>{escape(v.note)}</small></p>")
    return "".join(out)


def parse_date(text: str | None, label: str) -> str | None:
    """'' → None; YYYY-MM-DD → itself; anything else → ValueError with a message for the user."""
    text = (text or "").strip()
    if not text:
        return None
    try:
        return strict_day(text)
    except ValueError:
        raise ValueError(f"“{shorten(text, 40)}” in {label} is not a date: write it as YYYY-MM-DD, "
                         "for example 2024-11-13.") from None


def make_filters(since: str | None, until: str | None, sources) -> Filters | None:
    """The filters from the controls (None when none is set); ValueError with a message if invalid."""
    lo, hi = parse_date(since, "Since"), parse_date(until, "Until")
    if lo and hi and lo > hi:
        raise ValueError(f"Since ({lo}) is after Until ({hi}): no article can match.")
    chosen = tuple(s for s in (sources or []) if s)
    if not (lo or hi or chosen):
        return None
    return Filters(since=lo, until=hi, sources=chosen)


def upload_dir(settings: Settings) -> Path:
    """Where uploads go: ``QA_UPLOADS``, by default in the user's data folder, outside any checkout
    (created on the first upload; indexed with the corpus from then on)."""
    return Path(settings.uploads)


def status_line(overview: IndexOverview | None, note: str = "") -> str:
    """The line above the chat, in plain words: how many articles are searched, over which dates;
    ``note`` (what a re-index or an upload just did) goes on a second line."""
    if overview is None:
        head = "No index yet: add articles below, or run `qa index` in a terminal."
    elif not overview.articles:
        head = "No articles indexed yet: add some below."
    else:
        head = f"Searching {_plural(overview.articles, 'article')}"
        if overview.earliest and overview.latest:
            head += (f" from {overview.earliest}" if overview.earliest == overview.latest
                     else f" dated {overview.earliest} to {overview.latest}")
        head += "."
    lines = [head] + ([note] if note else [])
    return "<small>" + "<br>".join(escape(line) for line in lines) + "</small>"


def plain_report(report) -> str:
    """What an indexing run changed, for a reader rather than an operator (``IndexReport``)."""
    if report.up_to_date:
        text = "Nothing new: every article was already indexed."
    else:
        changes = [_plural(report.added, "new article")] if report.added else []
        if report.replaced:
            changes.append(f"{report.replaced} updated")
        if report.pruned:
            changes.append(f"{report.pruned} removed")
        text = ("Indexed " + ", ".join(changes) + "." if changes else "The index is up to date.")
        if report.rebuilt_because:
            text += " The whole index was rebuilt because its settings changed."
    if report.skipped:
        skipped = _count(report.skipped, "file or record", "files or records")
        text += f" {skipped} could not be read (the server log says why)."
    if report.vanished:
        one = report.vanished == 1
        text += (f" {_plural(report.vanished, 'article')} whose {'file was' if one else 'files were'} deleted "
                 f"{'is' if one else 'are'} still searched until `qa index --prune`.")
    return text


def _text_of(message: dict) -> str:
    """A chat message's text: Gradio hands history back with content as a list of parts."""
    content = message.get("content") if isinstance(message, dict) else None
    if isinstance(content, list):
        return "".join(part.get("text", "") for part in content if isinstance(part, dict))
    return content if isinstance(content, str) else ""


def _note(text: str, cls: str = "qa-note") -> str:
    return f"<p class='{cls}'>{escape(text)}</p>"


def _overview(pipeline: Pipeline) -> IndexOverview | None:
    """What the status line and date hints describe; None without a (readable) index."""
    try:
        return pipeline.overview()
    except FileNotFoundError:  # no index yet
        return None
    except Exception:
        log.exception("reading the index failed")
        return None


def _source_choices(pipeline: Pipeline) -> list[tuple[str, str]]:
    try:
        return list(pipeline.source_choices())
    except FileNotFoundError:
        return []
    except Exception:
        log.exception("listing sources failed")
        return []


def _date_hints(ov: IndexOverview | None) -> tuple[str, str]:
    lo, hi = (ov.earliest, ov.latest) if ov else (None, None)
    return (f"earliest article: {lo}" if lo else "no dated articles"), (
        f"latest article: {hi}" if hi else "no dated articles")


def answer_turn(pipeline: Pipeline, message: str, history: list, conv, since: str, until: str, chosen: list):
    """One question from the page: (what stays in the box, the history with the new bubbles, the
    conversation). A bad date or question is its own bubble and stays in the box to be fixed."""
    history = list(history or [])
    question = (message or "").strip()
    if conv is None:
        conv = Conversation()
    if not question:
        if not history or _text_of(history[-1]) != _note(EMPTY_QUESTION):  # not twice in a row
            history.append({"role": "assistant", "content": _note(EMPTY_QUESTION)})
        return "", history, conv
    try:
        filters = make_filters(since, until, chosen)
        clean_question(question)  # our own check: its message is for the user
    except ValueError as e:  # keep the question in the box so it can be asked once fixed
        text = str(e)
        text = text[:1].upper() + text[1:] + ("" if text.endswith((".", "?", "!")) else ".")
        history.append({"role": "assistant", "content": _note(text, "qa-error")})  # its own bubble
        return message, history, conv
    shown = escape(shorten(question, SHOWN_QUESTION_CHARS))
    if len(question) > SHOWN_QUESTION_CHARS:
        shown += f" <small>({len(question):,} characters)</small>"
    history.append({"role": "user", "content": shown})
    try:
        answer = pipeline.ask(question, filters=filters, conversation=conv)
        reply = render(answer, asked=question, follows=answer.follows, reader=str(pipeline.settings.reader_model))
    except Exception:  # logged for the operator; the user gets a plain message, never a traceback
        log.exception("question failed: %r", question[:200])
        reply = _note(FAILED, "qa-error")
    history.append({"role": "assistant", "content": reply})
    return "", history, conv


def save_and_index(pipeline: Pipeline, files, progress) -> tuple[str, str]:
    """Dropped files saved to the uploads folder and indexed: (the upload box's message as HTML,
    what the index run changed, for the status line)."""
    folder = upload_dir(pipeline.settings)
    progress(0, desc="Saving files")
    try:
        report = save_uploads(files, folder)
    except Exception:
        log.exception("saving uploads failed")
        return _note("The files could not be saved; see the server log.", "qa-error"), ""
    msg = report.summary()
    note = ""
    if report.saved:
        progress(0.05, desc="Indexing the new articles")
        one = len(report.saved) == 1
        try:
            note = plain_report(pipeline.index([folder], progress=True))  # adds and updates only
            msg += " It is indexed and searchable now." if one else " They are indexed and searchable now."
        except IndexBusy as e:
            msg += (f" {'It is' if one else 'They are'} saved but not indexed yet: {e}. "
                    "Press \"Re-index articles\" when it is done.")
        except Exception:
            log.exception("indexing uploads failed")
            msg += " Indexing failed; see the server log."
    return _note(msg, "qa-error" if report.rejected and not report.stored else "qa-note"), note


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
        ov = _overview(pipeline)
        lo, hi = _date_hints(ov)
        return (status_line(ov, note), gr.Textbox(info=lo), gr.Textbox(info=hi),
                gr.Dropdown(choices=_source_choices(pipeline)))

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


def _count(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


def _plural(n: int, noun: str) -> str:
    return _count(n, noun, noun + "s")


# After an answer: scroll the conversation so the question and the start of its answer are in view
# (Gradio's autoscroll would show the end of a long answer). The answer alone when the question is
# taller than half the box. Run a few times: the message renders over a frame or two.
SCROLL_TO_ANSWER = """
() => {
  const show = () => {
    const log = document.querySelector('#chat [role=log]');
    if (!log) return;
    const msgs = log.querySelectorAll('[data-testid=user], [data-testid=bot]');
    if (!msgs.length) return;
    const last = msgs[msgs.length - 1], prev = msgs.length > 1 ? msgs[msgs.length - 2] : null;
    const top = (el) => el.getBoundingClientRect().top - log.getBoundingClientRect().top + log.scrollTop;
    let anchor = last;
    if (prev && prev.dataset.testid === 'user' && last.dataset.testid === 'bot'
        && top(last) - top(prev) < log.clientHeight / 2) anchor = prev;
    log.scrollTop = Math.max(0, top(anchor) - 8);
  };
  requestAnimationFrame(show);
  setTimeout(show, 200);
  setTimeout(show, 700);
}
"""

# Gradio labels each message "bot's message: " + its content, which for us is HTML. Relabel each with
# its visible text instead, whenever the chat changes (a MutationObserver; it stops once labels match).
PLAIN_ARIA_LABELS = """
() => {
  const relabel = () => {
    for (const el of document.querySelectorAll('#chat [data-testid=user], #chat [data-testid=bot]')) {
      const text = (el.innerText || '').replace(/\\s+/g, ' ').trim();
      const label = (el.dataset.testid === 'user' ? 'Question: ' : 'Answer: ')
        + (text.length > 300 ? text.slice(0, 300) + '…' : text);
      if (el.getAttribute('aria-label') !== label) el.setAttribute('aria-label', label);
    }
  };
  new MutationObserver(relabel).observe(document.body, {subtree: true, childList: true, characterData: true,
                                                        attributes: true, attributeFilter: ['aria-label']});
  relabel();
}
"""


CSS = """
mark { background: #ffe58a; color: inherit; padding: 0 2px; border-radius: 2px; }
.qa-passage { font-size: 0.95em; margin: 0.3em 0; }
.qa-resolved { color: var(--body-text-color-subdued); margin: 0 0 0.3em; }
.qa-error { color: var(--error-text-color, #b91c1c); }
ol.qa-findings { padding-left: 1.4em; margin: 0.3em 0; }
.qa-denial { font-weight: 600; color: #b42318; }
.qa-bears { font-weight: 600; color: var(--body-text-color-subdued); }
.qa-sentence { font-weight: 600; }
mark.qa-term { background: #fff3bf; color: inherit; padding: 0 1px; }
li.qa-finding { margin-bottom: 0.6em; }
.qa-finding-text, .qa-source { margin: 0.2em 0; }
.qa-span { font-weight: 600; font-size: 0.95em; }
li.qa-possible .qa-span { font-weight: 400; }
.qa-low { white-space: nowrap; font-size: 0.8em; padding: 0 4px; border: 1px solid #b54708; border-radius: 3px; color: #b54708; }
.qa-heading { margin: 0.4em 0 0.2em; }
.qa-uncalibrated { color: #b54708; margin: 0.4em 0 0; }
.qa-date { white-space: nowrap; }
/* Gradio's Source Sans Pro SemiBold lacks some capitals (they fall back to a smaller face):
   bold text of ours uses the system's sans-serif instead */
.qa-span, .qa-title, #title h2 { font-family: system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
.qa-source { font-size: 0.85em; color: var(--body-text-color-subdued); }
.qa-title { font-weight: 600; color: var(--body-text-color); }
.qa-source a { color: var(--link-text-color, #2563eb); }
#chat .message, #chat .message *, #index-status, #upload-status { overflow-wrap: anywhere; word-break: normal; }
#chat .message code, #chat .message a { white-space: normal; overflow-wrap: anywhere; }
#chat .message blockquote { max-width: 100%; box-sizing: border-box; }
#examples { flex-wrap: wrap; gap: 6px; }
#examples button { flex: 0 1 auto; min-width: 0; white-space: normal; }
/* The chat's toolbar (clear) on its own row above the conversation, never over a question bubble */
#chat .icon-button-wrapper.top-panel { position: static; align-self: flex-end; margin: 4px 6px 2px auto; }
#chat [role=log] { flex: 1 1 auto; min-height: 0; }
"""


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
