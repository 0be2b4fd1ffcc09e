"""The chat: answers render with the highlighted passage and source, article HTML stays inert.

The browser test starts the real app (`python app.py`) and drives it in Debian's
Chromium with Playwright, as a user would.
"""

import os
from html import unescape
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import CORPUS, ROOT, SEED_TITLE
from qa.chat import escape, render
from qa.types import Answer, Citation

EVIL = '<script>window.__pwned = 1</script><img src=x onerror="window.__pwned = 2">'


def cite(passage, a=None, b=None, title="T"):
    return Citation("id", title, "2024-11-13", "corpus/x.txt", "", passage, 0, a, b)


def test_render_marks_the_span_and_escapes_article_text():
    passage = f"Officials said {EVIL} the talks **ended** in `Islamabad`."
    a = passage.index("the talks")
    html = render(Answer("q", "the talks", 0.9, True, [cite(passage, a, a + len("the talks"), title=EVIL)]))
    assert "<mark>the talks</mark>" in html
    assert "<script" not in html and "<img" not in html
    assert "&lt;script&gt;" in html
    assert "**" not in html and "`" not in html  # markdown cannot act on article text
    shown = unescape(html)  # what the browser displays
    assert "2024-11-13" in shown and "corpus/x.txt" in shown and "**ended**" in shown


def test_refusal_shows_closest_passages():
    html = render(Answer("q", "", 0.2, False, [cite("Some passage.")], message="The articles do not answer this question."))
    assert "do not answer" in html and "Some passage." in unescape(html) and "<mark>" not in html


def test_escape_is_inert_for_markdown_and_html():
    out = escape("a_b *c* [x](y) <b>")
    assert all(ch not in out for ch in "_*[]()<>")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _chromium() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if not path:
        msg = "Debian's chromium is not installed (apt-get install chromium): browser test not run"
        if os.environ.get("QA_REQUIRE_BROWSER"):
            pytest.fail(msg)
        pytest.skip(msg)
    return path


@pytest.fixture(scope="module")
def chat_server(tmp_path_factory, reader_path):
    chromium = _chromium()
    corpus = tmp_path_factory.mktemp("chat-corpus")
    shutil.copy(CORPUS / "000_5f212afdc6001fcb.txt", corpus)
    (corpus / "evil.txt").write_text(
        f"Harbour dispute settled\n\n2024-03-05\nThe harbour dispute was settled by judge Amina Qureshi {EVIL} "
        "after two years of hearings in Gwadar.\n",
        encoding="utf-8",
    )
    port = _free_port()
    env = {**os.environ, "QA_CORPUS": str(corpus), "QA_INDEX_DIR": str(tmp_path_factory.mktemp("chat-index")),
           "QA_READER_MODEL": str(reader_path), "PYTHONUNBUFFERED": "1"}
    log = tmp_path_factory.mktemp("chat-log") / "server.log"
    with open(log, "w") as out:
        proc = subprocess.Popen([sys.executable, "app.py", "--port", str(port)], cwd=ROOT, env=env,
                                stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.time() + 240
        while time.time() < deadline:
            if proc.poll() is not None:
                pytest.fail(f"app.py exited early:\n{log.read_text()}")
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(1)
        else:
            pytest.fail(f"app.py did not start in time:\n{log.read_text()}")
        yield f"http://127.0.0.1:{port}", chromium, log
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()


@pytest.fixture(scope="module")
def page(chat_server):
    from playwright.sync_api import sync_playwright

    url, chromium, _ = chat_server
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=chromium,
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"],
        )
        pg = browser.new_page(viewport={"width": 1200, "height": 1000})
        pg.goto(url, wait_until="domcontentloaded")
        pg.wait_for_selector("#question textarea", timeout=60_000)
        yield pg
        browser.close()


def ask(pg, question: str):
    before = pg.locator("#chat .message").count()
    pg.fill("#question textarea", question)
    pg.click("#ask")
    pg.wait_for_function(
        f"document.querySelectorAll('#chat .message').length >= {before + 2}", timeout=120_000
    )
    return pg.locator("#chat .message").last


def test_chat_answers_with_highlight_and_source(page, chat_server):
    _, _, log = chat_server
    assert "127.0.0.1" in log.read_text()  # bound to loopback by default
    assert page.get_by_text("What did Pakistan agree to?").first.is_visible()  # example question offered
    msg = ask(page, "What did Pakistan agree to?")
    mark = msg.locator("mark")
    mark.first.wait_for(timeout=30_000)
    assert mark.first.inner_text().strip()
    text = msg.inner_text()
    assert SEED_TITLE in text and "2024-11-13" in text
    assert mark.first.inner_text().strip() in (CORPUS / "000_5f212afdc6001fcb.txt").read_text()
    out = Path(os.environ.get("QA_SCREENSHOT_DIR", ROOT / ".pytest_cache"))
    out.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(out / "chat.png"), full_page=True)


def test_article_html_is_shown_not_run(page):
    msg = ask(page, "Who settled the harbour dispute?")
    msg.locator("mark").first.wait_for(timeout=30_000)
    assert page.evaluate("window.__pwned") is None
    assert msg.locator("img").count() == 0 and msg.locator("script").count() == 0
    assert "<script>" in msg.inner_text() or "Amina Qureshi" in msg.inner_text()
