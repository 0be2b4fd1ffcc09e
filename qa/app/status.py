"""What the chat page says about the index, in plain words: the status line above the chat, what a
re-index or an upload changed, and the hints under the date boxes."""

from __future__ import annotations

from qa.answer.pipeline import IndexOverview
from qa.app.render import escape


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


def date_hints(ov: IndexOverview | None) -> tuple[str, str]:
    """The hints under Since and Until: the earliest and the latest article's day."""
    lo, hi = (ov.earliest, ov.latest) if ov else (None, None)
    return (f"earliest article: {lo}" if lo else "no dated articles"), (
        f"latest article: {hi}" if hi else "no dated articles")


def _count(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


def _plural(n: int, noun: str) -> str:
    return _count(n, noun, noun + "s")
