"""The chat's follow-ups in the browser: a three-turn conversation whose pronouns are resolved.

Runs the real app in Debian's Chromium like the browser tests of ``test_chat.py``, whose fixtures
(one app on a temporary copy of the seed article plus its test articles, one Chromium) and helpers it
uses; skipped, saying why, without Chromium (failed instead under ``QA_REQUIRE_BROWSER``).
The harbour article says: "The harbour dispute was settled by judge Amina Qureshi ... after two
years of hearings in Gwadar." Its title is a headline, not a name, so "her"/"she" stand for the
woman the first answer named (gender-guesser: Amina is a woman's name).
"""

import pytest

from test_chat import ask, browser, chat_server, chromium_browser, page  # noqa: F401 (fixtures)

pytestmark = pytest.mark.slow


def resolved(msg) -> str:
    """The question the chat says it answered ("Answered as: …"), or "" when it answered as typed."""
    shown = msg.locator(".qa-resolved")
    return shown.inner_text().split("Answered as:", 1)[1].strip() if shown.count() else ""


@browser
def test_three_turns_with_pronouns(page):  # noqa: F811 (the fixture)
    first = ask(page, "Who settled the harbour dispute?")
    assert "Amina Qureshi" in first.inner_text()
    assert resolved(first) == ""  # the first question is answered as typed

    second = ask(page, "Where were her hearings held?")
    assert resolved(second) == "Where were Amina Qureshi's hearings held?"
    assert "Gwadar" in second.inner_text()

    third = ask(page, "How long did she hold hearings?")
    assert resolved(third) == "How long did Amina Qureshi hold hearings?"
    assert "two years" in third.inner_text()
