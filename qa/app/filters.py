"""Article filters as a person types them (days, sources), checked once for the chat and `qa ask`.

The rules are the same on both: a day is exactly YYYY-MM-DD and real, Since is not after Until,
empty sources are dropped, and no filter at all is None. Each surface names its fields and words
a bad value its own way (``CHAT``, ``CLI``).
"""

from __future__ import annotations

from dataclasses import dataclass

from qa.app.render import shorten
from qa.types import Filters, strict_day


@dataclass(frozen=True)
class Wording:
    """How a surface names its date fields and says what is wrong with them."""

    since: str
    until: str
    not_a_day: str  # .format(name=, text=): the field and the value as typed, stripped
    reversed: str  # .format(since=, until=, lo=, hi=): the field names and the two days
    shown_chars: int | None = None  # a longer bad value is shown shortened to this


CHAT = Wording("Since", "Until", "“{text}” in {name} is not a date: write it as YYYY-MM-DD, for example 2024-11-13.",
               "{since} ({lo}) is after {until} ({hi}): no article can match.", shown_chars=40)
CLI = Wording("--since", "--until", "{name} {text!r} is not a date: use YYYY-MM-DD, e.g. 2024-11-13",
              "{since} {lo} is after {until} {hi}: no article can match")


def parse_day(text: str, name: str, wording: Wording) -> str:
    """A strict YYYY-MM-DD day, or a ValueError that names the field and shows the expected form."""
    try:
        return strict_day(text)
    except ValueError:
        shown = text.strip()
        if wording.shown_chars is not None:
            shown = shorten(shown, wording.shown_chars)
        raise ValueError(wording.not_a_day.format(name=name, text=shown)) from None


def parse_filters(since: str | None, until: str | None, sources, wording: Wording) -> Filters | None:
    """The filters, validated (ValueError in ``wording``); None when none is set. A day of None is
    not set; any other value must be a day. Empty sources are dropped."""
    lo = parse_day(since, wording.since, wording) if since is not None else None
    hi = parse_day(until, wording.until, wording) if until is not None else None
    if lo and hi and lo > hi:
        raise ValueError(wording.reversed.format(since=wording.since, until=wording.until, lo=lo, hi=hi))
    chosen = tuple(s for s in sources or () if s)
    if not (lo or hi or chosen):
        return None
    return Filters(since=lo, until=hi, sources=chosen)
