"""An answer as the chat's HTML: the view of ``qa.app.view``, each passage with its span marked.

Everything that comes from an article (or from the user) is escaped (HTML and Markdown), so
an article can never inject markup into the page; only the highlight, the links to sources
(http/https only) and the layout are ours.
"""

from __future__ import annotations

import html
import re

from qa.app.view import Block, view
from qa.text.excerpt import excerpt
from qa.types import Answer, Citation, Finding

# Passage windows, in characters, as `qa ask` prints them: one answer, each of several findings,
# each closest passage of a refusal.
ANSWER_CHARS, FINDING_CHARS, CLOSEST_CHARS = 500, 300, 160

_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-!|~>$'\"])")  # and quotes, for attribute values
_LINE_BREAKS = re.compile(r"\s*[\r\n]+\s*")
_ITEM_CLASS = {"finding": "qa-finding", "possible": "qa-finding qa-possible", "evidence": "qa-evidence"}


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


def note(text: str, cls: str = "qa-note") -> str:
    """A message of ours in the chat (a hint, an error), as its own paragraph."""
    return f"<p class='{cls}'>{escape(text)}</p>"
