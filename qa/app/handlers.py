"""What the chat page does on each event, apart from Gradio: a question asked, files dropped, the
index described. ``qa.app.chat`` wires these to the page's components."""

from __future__ import annotations

import logging

from qa.answer.followups.conversation import Conversation
from qa.answer.pipeline import IndexOverview, Pipeline, clean_question
from qa.app import filters
from qa.app.render import escape, note, render, shorten
from qa.app.status import plain_report
from qa.app.uploads import save_uploads, upload_dir
from qa.store.write_lock import IndexBusy
from qa.types import Filters

log = logging.getLogger("qa.app.chat")  # one name for the chat's log, whichever module writes it

EMPTY_QUESTION = "Please type a question first, for example “What did Pakistan agree to?”."
FAILED = ("Sorry, something went wrong while answering that. The details are in the server log; "
          "please try again, or rephrase the question.")
SHOWN_QUESTION_CHARS = 600  # a longer question is shown shortened in the chat (it is asked in full)


def make_filters(since: str | None, until: str | None, sources) -> Filters | None:
    """The filters from the controls (None when none is set); ValueError with a message if invalid.
    An empty date box is no filter."""
    return filters.parse_filters((since or "").strip() or None, (until or "").strip() or None, sources,
                                 filters.CHAT)


def overview(pipeline: Pipeline) -> IndexOverview | None:
    """What the status line and date hints describe; None without a (readable) index."""
    try:
        return pipeline.overview()
    except FileNotFoundError:  # no index yet
        return None
    except Exception:
        log.exception("reading the index failed")
        return None


def source_choices(pipeline: Pipeline) -> list[tuple[str, str]]:
    """The Sources list: (label, value) for each source in the index; none without an index."""
    try:
        return list(pipeline.source_choices())
    except FileNotFoundError:
        return []
    except Exception:
        log.exception("listing sources failed")
        return []


def _text_of(message: dict) -> str:
    """A chat message's text: Gradio hands history back with content as a list of parts."""
    content = message.get("content") if isinstance(message, dict) else None
    if isinstance(content, list):
        return "".join(part.get("text", "") for part in content if isinstance(part, dict))
    return content if isinstance(content, str) else ""


def answer_turn(pipeline: Pipeline, message: str, history: list, conv, since: str, until: str, chosen: list):
    """One question from the page: (what stays in the box, the history with the new bubbles, the
    conversation). A bad date or question is its own bubble and stays in the box to be fixed."""
    history = list(history or [])
    question = (message or "").strip()
    if conv is None:
        conv = Conversation()
    if not question:
        if not history or _text_of(history[-1]) != note(EMPTY_QUESTION):  # not twice in a row
            history.append({"role": "assistant", "content": note(EMPTY_QUESTION)})
        return "", history, conv
    try:
        chosen_filters = make_filters(since, until, chosen)
        clean_question(question)  # our own check: its message is for the user
    except ValueError as e:  # keep the question in the box so it can be asked once fixed
        text = str(e)
        text = text[:1].upper() + text[1:] + ("" if text.endswith((".", "?", "!")) else ".")
        history.append({"role": "assistant", "content": note(text, "qa-error")})  # its own bubble
        return message, history, conv
    shown = escape(shorten(question, SHOWN_QUESTION_CHARS))
    if len(question) > SHOWN_QUESTION_CHARS:
        shown += f" <small>({len(question):,} characters)</small>"
    history.append({"role": "user", "content": shown})
    try:
        answer = pipeline.ask(question, filters=chosen_filters, conversation=conv)
        reply = render(answer, asked=question, follows=answer.follows, reader=str(pipeline.settings.reader_model))
    except Exception:  # logged for the operator; the user gets a plain message, never a traceback
        log.exception("question failed: %r", question[:200])
        reply = note(FAILED, "qa-error")
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
        return note("The files could not be saved; see the server log.", "qa-error"), ""
    msg = report.summary()
    changed = ""
    if report.saved:
        progress(0.05, desc="Indexing the new articles")
        one = len(report.saved) == 1
        try:
            changed = plain_report(pipeline.index([folder], progress=True))  # adds and updates only
            msg += " It is indexed and searchable now." if one else " They are indexed and searchable now."
        except IndexBusy as e:
            msg += (f" {'It is' if one else 'They are'} saved but not indexed yet: {e}. "
                    "Press \"Re-index articles\" when it is done.")
        except Exception:
            log.exception("indexing uploads failed")
            msg += " Indexing failed; see the server log."
    return note(msg, "qa-error" if report.rejected and not report.stored else "qa-note"), changed
