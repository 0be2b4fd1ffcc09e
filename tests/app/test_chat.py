"""The chat: answers render with the highlighted passages and sources, article HTML stays inert.

The browser tests start the real app (`python app.py`) once, on a temporary copy of the seed article (tests/data)
and a temporary index, and drive it in Debian's Chromium with Playwright, as a user would.
"""

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from html import unescape
from pathlib import Path
from typing import NamedTuple

import pytest
from conftest import CORPUS, LIVE_CORPUS, ROOT, SEED_FILE, SEED_TITLE
from helpers.ports import free_port

from qa.app.handlers import EMPTY_QUESTION, make_filters
from qa.app.render import escape, render, source_link
from qa.types import Answer, Citation, Filters, Finding

EVIL = '<script>window.__pwned = 1</script><img src=x onerror="window.__pwned = 2">'
LONG_URL = ("https://www.example.com/news/2024/10/01/" + "apricot-growers-in-the-hunza-valley-report-" * 4
            + "?utm_source=" + "x" * 90)
AGREED = [  # what the seed article says Pakistan agreed to
    "a joint security management system",
    "Chinese officials sitting in on security meetings and co-ordination",
    "develop a joint strategy to prevent similar incidents in the future",
]
browser = pytest.mark.browser


def cite(passage, a=None, b=None, title="T", source="corpus/x.txt", date="2024-11-13"):
    return Citation("id", title, date, source, "", passage, 0, a, b)


def span(passage, words, **kw):
    a = passage.index(words)
    return cite(passage, a, a + len(words), **kw)


def test_render_marks_the_span_and_escapes_article_text():
    passage = f"Officials said {EVIL} the talks **ended** in `Islamabad`."
    html = render(Answer("q", "the talks", 0.9, True, [span(passage, "the talks", title=EVIL)]))
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


def test_escape_shows_the_text_exactly():
    text = "Last month`s bombing, \"they\" said; it's #1 & <b> a_b [x](y) 50% ~ $5"
    assert unescape(escape(text)) == text  # each character escaped once, never an entity of an entity


def test_escape_keeps_article_text_on_one_line():
    # a blank line would end the chat's HTML block and let the rest be read as Markdown
    assert "\n" not in escape("para one.\n\n    indented code?\n1. list")


def test_several_findings_render_as_a_list_best_first_each_with_its_source():
    p1 = "Both sides agreed to set up a joint security management system, officials said."
    p2 = f"In a statement {EVIL} the ministry said both sides agreed to develop a joint strategy."
    url = "https://www.dawn.com/news/1872940/beijing-pushing-islamabad?a=1&b=<x>"
    c1 = span(p1, "a joint security management system", title="Article one", source="000_seed.txt")
    c2 = span(p2, "develop a joint strategy", title=EVIL, source=url, date="2024-11-20")
    answer = Answer("What did Pakistan agree to?", "a joint security management system", 0.8, True, [c1])
    answer.findings = [Finding("a joint security management system", 0.8, c1),
                       Finding("develop a joint strategy", 0.6, c2)]
    html = render(answer)
    assert html.count("<li class='qa-finding'>") == 2
    first, second = html.index("<mark>a joint security"), html.index("<mark>develop a joint strategy</mark>")
    assert first < second  # the order given: best first
    assert "<script" not in html and "<img" not in html and "&lt;script&gt;" in html
    assert "rel=\"noopener noreferrer\"" in html and "<x>" not in html
    shown = unescape(html)
    assert "Article one" in shown and "000_seed.txt" in shown and "2024-11-20" in shown and url in shown
    assert "<code>" in html  # a file source is shown as its name, not as a link


def index_library_in_another_process(tmp_path: Path, index_dir: Path, date: str = "2024-12-02") -> None:
    """`qa index` of a new library article into ``index_dir``, in another process (as another terminal would)."""
    news = tmp_path / "library"
    news.mkdir()
    (news / "greyfield.txt").write_text(
        f"Greyfield library to close for repairs\n\n{date}\nThe Greyfield public library will close on "
        "14 January for roof repairs, the town council said on Monday. The council expects the library to "
        "reopen in early May.\n", encoding="utf-8")
    r = subprocess.run([sys.executable, "-m", "qa.app.cli", "index", str(news), "--index-dir", str(index_dir),
                        "--no-progress"], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr


def _three_findings() -> Answer:
    """Two findings quoting one passage, then one from another article."""
    p = ("Beijing is pushing Pakistan to allow its own security staff to protect its citizens. "
         "China has pushed Pakistan to begin formal negotiations for a joint security management system.")
    other = "Both sides agreed to develop a joint strategy."
    c1, c2 = span(p, "allow its own security staff"), span(p, "formal negotiations")
    c3 = span(other, "develop a joint strategy", title="Other")
    answer = Answer("q", "allow its own security staff", 0.8, True, [c1])
    answer.findings = [Finding("allow its own security staff", 0.8, c1), Finding("formal negotiations", 0.7, c2),
                       Finding("develop a joint strategy", 0.6, c3)]
    return answer


def test_findings_quoting_the_same_passage_share_it():
    answer = _three_findings()
    html = render(answer)
    assert html.count("<li class='qa-finding'>") == 2 and html.count("<blockquote") == 2
    first = html.split("<li class='qa-finding'>")[1]
    assert "<mark>allow its own security staff</mark>" in first and "<mark>formal negotiations</mark>" in first
    assert unescape(first).count("Beijing is pushing Pakistan") == 1
    assert html.index("formal negotiations</mark>") < html.index("<mark>develop")


def test_single_finding_renders_like_a_plain_answer():
    p = "Both sides agreed to set up a joint security management system."
    c = span(p, "a joint security management system")
    answer = Answer("q", "a joint security management system", 0.8, True, [c])
    answer.findings = [Finding("a joint security management system", 0.8, c)]
    html = render(answer)
    assert "<ol" not in html and html.count("<mark>") == 1


def test_source_link_only_for_web_addresses():
    assert source_link("javascript:alert(1)").startswith("<code>")
    assert source_link("docs/a.txt") == "<code>docs/a.txt</code>"
    link = source_link("https://example.com/a_b")
    assert link.startswith("<a ") and "noopener" in link and "a_b" not in link  # markdown-escaped too
    assert unescape(link).count("https://example.com/a_b") == 2


def test_long_passages_are_trimmed_around_the_span():
    passage = " ".join(f"Sentence number {i} says nothing much." for i in range(60))
    passage += " The harbour reopened on Monday. " + " ".join(f"Filler {i} here." for i in range(60))
    html = render(Answer("q", "Monday", 0.9, True, [span(passage, "Monday")]))
    quoted = unescape(html.split("<blockquote class='qa-passage'>")[1].split("</blockquote>")[0])
    assert "<mark>Monday</mark>" in quoted and len(quoted) < 700 and "…" in quoted


def test_the_answered_question_is_shown_when_it_differs():
    c = span("Last month's bombing near Karachi airport targeted two Chinese engineers.", "two Chinese engineers")
    answer = Answer("Who was targeted there?", "two Chinese engineers", 0.9, True, [c])
    answer.resolved_question = "Who was targeted near Karachi airport?"
    html = render(answer, asked="Who was targeted there?")
    assert "Answered as:" in html and "Karachi airport?" in html
    answer.resolved_question = "Who was targeted there?"
    assert "Answered as" not in render(answer, asked="Who was targeted there?")
    html = render(answer, asked="Who was targeted there?", follows="Where did last month's bombing happen?")
    assert "follow-up to" in html and "bombing happen?" in html and "Answered as" not in html


def test_filters_from_the_controls():
    assert make_filters("", " ", []) is None
    f = make_filters("2024-01-01", "2024-12-31", ["dawn.com"])
    assert f == Filters(since="2024-01-01", until="2024-12-31", sources=("dawn.com",))
    for bad in ("2024-13-01", "13/11/2024", "yesterday", "2024-02-30"):
        with pytest.raises(ValueError, match="YYYY-MM-DD"):
            make_filters(bad, "", [])
    with pytest.raises(ValueError, match="after"):
        make_filters("2024-12-01", "2024-01-01", [])


class FakePipeline:
    """Just enough of Pipeline for the chat's handlers, without models."""

    def __init__(self, corpus, fail=None, uploads=None):
        from qa.config import Settings

        self.settings = Settings.from_env({}).with_overrides(corpus=(corpus,), uploads=uploads)
        self.fail, self.indexed, self.asked, self.articles = fail, [], [], 1

    def sources(self):
        return ["corpus"]

    def source_choices(self):
        return [("Harbour reopens", "harbour.txt")]

    def date_range(self):
        return "2024-03-05", "2024-11-13"

    def overview(self):
        from qa.answer.pipeline import IndexOverview

        return IndexOverview(self.articles, 3 * self.articles, "2024-03-05", "2024-11-13")

    def index(self, paths=None, progress=True, prune=False):
        from qa.store.update import IndexReport

        self.indexed.append(paths)
        self.articles += 1
        return IndexReport(articles=self.articles, chunks=3, files=1, records=1, found=1, added=1, embedded=3,
                           seconds=8.4)

    def ask(self, question, k=None, filters=None, conversation=None):
        self.asked.append((question, filters))
        if self.fail:
            raise self.fail
        c = span("The harbour reopened on Monday.", "Monday")
        return Answer(question, "Monday", 0.9, True, [c])


def handler(demo, name):
    return next(f.fn for f in demo.fns.values() if getattr(f.fn, "__name__", "") == name)


def test_a_failing_question_gets_a_friendly_message_not_the_exception(tmp_path):
    from qa.app.chat import build_app
    from qa.app.handlers import FAILED

    pipeline = FakePipeline(tmp_path, fail=RuntimeError("torch: mat1 and mat2 shapes cannot be multiplied"))
    respond = handler(build_app(pipeline), "respond")
    box, history, _ = respond("When did the harbour reopen?", [], None, "", "", [])
    reply = history[-1]["content"]
    assert box == "" and unescape(reply).count(FAILED) == 1 and "torch" not in reply and "mat1" not in reply


def test_handlers_check_input_before_asking(tmp_path):
    from qa.app.chat import build_app

    pipeline = FakePipeline(tmp_path)
    respond = handler(build_app(pipeline), "respond")
    _, history, conv = respond("   ", [], None, "", "", [])
    assert EMPTY_QUESTION in unescape(history[-1]["content"])
    box, history, _ = respond("Who?", [], conv, "2024-02-30", "", [])
    assert box == "Who?" and "YYYY-MM-DD" in unescape(history[-1]["content"]) and not pipeline.asked
    _, history, _ = respond("!!! ???", [], conv, "", "", [])
    assert "no words" in unescape(history[-1]["content"]) and not pipeline.asked
    _, history, _ = respond("When did the harbour reopen?", [], conv, "2024-01-01", "", ["corpus"])
    assert pipeline.asked == [("When did the harbour reopen?", Filters("2024-01-01", None, ("corpus",)))]
    assert "<mark>Monday</mark>" in history[-1]["content"]


def _git_status() -> str:
    r = subprocess.run(["git", "status", "--porcelain", "--untracked-files=all"], cwd=ROOT, capture_output=True,
                       text=True)
    return r.stdout if r.returncode == 0 else f"(git status failed: {r.stderr.strip()})"


def test_uploads_go_to_the_uploads_folder_then_are_indexed_leaving_the_checkout_alone(tmp_path):
    from qa.app.chat import build_app

    uploads = tmp_path / "data" / "qa-news" / "uploads"
    pipeline = FakePipeline(tmp_path / "corpus", uploads=uploads)
    add_files = handler(build_app(pipeline), "add_files")
    src = tmp_path / "drop" / "harbour.txt"
    src.parent.mkdir()
    src.write_text("Harbour reopens\n\n2024-03-05\nThe harbour reopened on Monday.\n")
    bad = src.parent / "run.exe"
    bad.write_text("MZ")
    git_before = _git_status()
    note, status, *_ = add_files([str(src), str(bad)], progress=lambda *a, **k: None)
    assert (uploads / "harbour.txt").exists() and pipeline.indexed == [[uploads]]  # only the new folder is read
    assert not (tmp_path / "corpus").exists()
    assert _git_status() == git_before  # nothing written into the checkout
    shown = unescape(note)
    assert "harbour.txt" in shown and "It is indexed and searchable now" in shown  # one file: singular
    assert "run.exe (unsupported file type .exe" in shown
    shown = unescape(status)
    assert "Searching 2 articles" in shown and "Indexed 1 new article." in shown
    assert "embedded" not in shown and "reused" not in shown and "8.4s" not in shown  # plain words

    two = [tmp_path / "drop" / name for name in ("a.txt", "b.txt")]
    for i, path in enumerate(two):
        path.write_text(f"Story {i}\n\nText number {i}.\n")
    note, *_ = add_files([str(p) for p in two], progress=lambda *a, **k: None)
    assert "They are indexed and searchable now" in unescape(note)


def test_a_page_load_shows_the_index_as_it_is_now(tmp_path):
    from qa.app.chat import build_app

    pipeline = FakePipeline(tmp_path)
    refresh_page = handler(build_app(pipeline), "refresh_page")
    status, since, until, sources = refresh_page()
    assert "Searching 1 article dated 2024-03-05 to 2024-11-13." in unescape(status)
    assert sources.choices == [("Harbour reopens", "harbour.txt")]  # titles shown, labels filtered on
    pipeline.articles = 5  # say another process indexed more
    status, *_ = refresh_page()
    assert "Searching 5 articles" in unescape(status)


def test_status_line_and_index_notes_in_plain_words():
    from qa.answer.pipeline import IndexOverview
    from qa.app.status import plain_report, status_line
    from qa.store.update import IndexReport

    assert unescape(status_line(IndexOverview(1, 5, "2024-11-13", "2024-11-13"))) == (
        "<small>Searching 1 article from 2024-11-13.</small>")
    assert "No index yet" in status_line(None)
    assert "3 articles." in unescape(status_line(IndexOverview(3, 9, None, None)))
    assert plain_report(IndexReport(up_to_date=True, articles=3)) == "Nothing new: every article was already indexed."
    text = plain_report(IndexReport(articles=4, added=1, replaced=1, skipped=1, vanished=1, embedded=5, reused=0))
    assert text.startswith("Indexed 1 new article, 1 updated.") and "1 file or record could not be read" in text
    assert "1 article whose file was deleted is still searched until `qa index --prune`" in text
    assert "embedded" not in text and "reused" not in text


def test_the_findings_heading_counts_the_items_listed():
    answer = _three_findings()
    html = render(answer)
    assert html.count("<li class='qa-finding'>") == 2 and "in 2 passages" in html and "3 findings" not in html
    answer.findings = [answer.findings[0], answer.findings[2]]
    html = render(answer)
    assert html.count("<li class='qa-finding'>") == 2 and "2 findings, most confident first" in html


def test_a_busy_index_is_reported_not_failed(tmp_path):
    from qa.app.chat import build_app
    from qa.store.write_lock import IndexBusy

    pipeline = FakePipeline(tmp_path)

    def busy(paths=None, progress=True, prune=False):
        raise IndexBusy(f"another `qa index` is updating {tmp_path} (pid 42); try again when it finishes")

    pipeline.index = busy
    status, *_ = handler(build_app(pipeline), "reindex")(progress=lambda *a, **k: None)
    assert "Not re-indexed" in unescape(status) and "pid 42" in unescape(status) and "failed" not in status


@pytest.mark.slow
def test_the_running_chat_answers_from_an_index_another_process_updated(seed_settings, tmp_path):
    """The chat (in this process) has loaded the index; `qa index` in another process adds a folder to
    it; the next question, and the next page load, see the new article without a restart."""
    from qa.answer.pipeline import Pipeline
    from qa.app.chat import build_app

    index_dir = tmp_path / "index"
    shutil.copytree(seed_settings.index_dir, index_dir)  # the seed index, without embedding it again
    settings = seed_settings.with_overrides(index_dir=index_dir, uploads=tmp_path / "uploads")
    demo = build_app(Pipeline(settings))
    respond, refresh_page = handler(demo, "respond"), handler(demo, "refresh_page")
    _, history, conv = respond("What did Pakistan agree to?", [], None, "", "", [])  # loads the index
    assert SEED_TITLE in unescape(history[-1]["content"])
    assert "Searching 1 article" in unescape(refresh_page()[0])

    index_library_in_another_process(tmp_path, index_dir)

    _, history, _ = respond("When will the Greyfield library close?", history, conv, "", "", [])
    reply = unescape(history[-1]["content"])
    assert "14 January" in reply and "Greyfield library to close for repairs" in reply, reply[:500]
    status, _, until, sources = refresh_page()
    assert "Searching 2 articles" in unescape(status) and "2024-12-02" in until.info
    assert {"Greyfield library to close for repairs", SEED_TITLE} <= {shown for shown, _ in sources.choices}


# --- in the browser ---------------------------------------------------------------------------


def _chromium() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if not path:
        msg = "Debian's chromium is not installed (apt-get install chromium): browser test not run"
        if os.environ.get("QA_REQUIRE_BROWSER"):
            pytest.fail(msg)
        pytest.skip(msg)
    return path


class Server(NamedTuple):
    url: str
    chromium: str
    log: Path
    corpus: Path
    uploads: Path
    index_dir: Path


@pytest.fixture(scope="module")
def chat_server(tmp_path_factory, reader_path):
    """One app for all browser tests, on a temporary copy of the seed article plus two test articles, with its
    index and uploads folder in temporary folders too."""
    chromium = _chromium()
    corpus = tmp_path_factory.mktemp("chat-corpus") / "corpus"
    shutil.copytree(CORPUS, corpus)
    (corpus / "evil.txt").write_text(
        f"Harbour dispute settled\n\n2024-03-05\nThe harbour dispute was settled by judge Amina Qureshi {EVIL} "
        "after two years of hearings in Gwadar.\n",
        encoding="utf-8",
    )
    record = {"title": "Apricot growers in Hunza report a record harvest", "date": "2024-10-01", "url": LONG_URL,
              "text": "GILGIT: Apricot growers in the Hunza valley reported a record harvest this summer, the "
                      "regional agriculture department said on Tuesday. The department said 41,000 tonnes of "
                      "apricots were picked, helped by a mild spring. The growers' association said the crop "
                      "would be sold in Lahore and Dubai."}
    (corpus / "wire.jsonl").write_text(json.dumps(record) + "\n", encoding="utf-8")
    port = free_port()
    index_dir = tmp_path_factory.mktemp("chat-index")
    uploads = tmp_path_factory.mktemp("chat-data") / "uploads"
    env = {**os.environ, "QA_CORPUS": str(corpus), "QA_INDEX_DIR": str(index_dir), "QA_UPLOADS": str(uploads),
           "QA_READER_MODEL": str(reader_path), "PYTHONUNBUFFERED": "1"}
    log = tmp_path_factory.mktemp("chat-log") / "server.log"
    with open(log, "w") as out:
        proc = subprocess.Popen([sys.executable, "app.py", "--port", str(port)], cwd=ROOT, env=env,
                                stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.time() + 300
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
        yield Server(f"http://127.0.0.1:{port}", chromium, log, corpus, uploads, index_dir)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()


@pytest.fixture(scope="module")
def chromium_browser(chat_server):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(
            executable_path=chat_server.chromium,
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"],
        )
        yield b
        b.close()


def open_chat(chromium_browser, chat_server, width=1200, height=1000):
    """A new browser session (so a new conversation) on the chat."""
    pg = chromium_browser.new_page(viewport={"width": width, "height": height})
    pg.goto(chat_server.url, wait_until="domcontentloaded")
    pg.wait_for_selector("#question textarea", timeout=60_000)
    # the status line is filled in when the page loads (demo.load)
    pg.wait_for_function("/Searching|No index|No articles/.test(document.querySelector('#index-status')?.innerText)",
                         timeout=60_000)
    return pg


@pytest.fixture
def page(chromium_browser, chat_server):
    pg = open_chat(chromium_browser, chat_server)
    yield pg
    pg.close()


MESSAGES = "#chat [data-testid=user], #chat [data-testid=bot]"  # one per message ('.message' nests)


def messages(pg):
    return pg.locator(MESSAGES)


def wait_for_messages(pg, n: int, timeout=180_000):
    pg.wait_for_function(f"document.querySelectorAll({MESSAGES!r}).length >= {n}", timeout=timeout)
    pg.wait_for_timeout(300)  # let the last message finish rendering


def ask(pg, question: str):
    before = messages(pg).count()
    pg.fill("#question textarea", question)
    pg.click("#ask")
    wait_for_messages(pg, before + 2)
    return messages(pg).last


def screenshot(pg, tmp_path, name: str):
    """The whole page with the whole conversation (the chat's own scroll box let out), kept in
    the test's tmp dir and in /tmp; the messages' text goes next to it."""
    pg.evaluate(
        """() => {
            for (const el of [document.querySelector('#chat'), ...document.querySelectorAll('#chat *')]) {
                const oy = getComputedStyle(el).overflowY;
                if (el.id === 'chat' || oy === 'auto' || oy === 'scroll') {
                    el.style.height = 'auto'; el.style.maxHeight = 'none'; el.style.overflowY = 'visible';
                }
            }
        }"""
    )
    pg.wait_for_timeout(300)
    pg.screenshot(path=str(tmp_path / name), full_page=True)
    shutil.copy(tmp_path / name, Path("/tmp") / name)
    (tmp_path / (name + ".txt")).write_text("\n\n----\n\n".join(messages(pg).all_inner_texts()), encoding="utf-8")


def view(pg, tmp_path, name: str):
    """The page as the user sees it (the chat's scroll box as it is), in the test's tmp dir and /tmp."""
    pg.screenshot(path=str(tmp_path / name))
    shutil.copy(tmp_path / name, Path("/tmp") / name)


def shown_spans(msg) -> list[dict]:
    """Each span the message shows, in order: its text, the confidence printed beside it, and whether it is
    a possible answer (below the cut-off) rather than a finding."""
    return msg.locator(".qa-span").evaluate_all(
        """els => els.map(e => ({text: e.innerText.trim(),
            confidence: parseFloat(((e.nextElementSibling || {}).innerText || '').replace(/[^0-9.]/g, '')),
            possible: !!e.closest('li.qa-possible')}))""")


def status(pg) -> str:
    return pg.locator("#index-status").inner_text()


def source_options(pg) -> list[str]:
    """What the Sources list offers (opened, read, closed again)."""
    pg.click("#sources input")
    pg.get_by_role("option").first.wait_for(timeout=10_000)
    shown = [t.replace("✓", "").strip() for t in pg.get_by_role("option").all_inner_texts()]
    pg.keyboard.press("Escape")
    pg.locator("#title").click()  # and away, so the list is closed
    return shown


def answer_in_view(pg) -> dict:
    """Where the last answer starts, relative to the conversation's visible box."""
    pg.wait_for_timeout(1000)  # the scroll after an answer runs over ~0.7 s
    return pg.evaluate(
        """() => {
            const log = document.querySelector('#chat [role=log]');
            const bots = log.querySelectorAll('[data-testid=bot]');
            const box = log.getBoundingClientRect(), r = bots[bots.length - 1].getBoundingClientRect();
            return {top: r.top - box.top, box: box.height, height: r.height};
        }"""
    )


def covered_questions(pg) -> list[str]:
    """Question bubbles that any control of the chat (its toolbar, a message's buttons) sits on."""
    return pg.evaluate(
        """() => {
            const out = [];
            const users = [...document.querySelectorAll('#chat [data-testid=user]')];
            const buttons = [...document.querySelectorAll('#chat button')].filter(b => {
                const r = b.getBoundingClientRect();
                return r.width > 0 && r.height > 0 && !b.closest('[data-testid=user]');
            });
            const log = document.querySelector('#chat [role=log]').getBoundingClientRect();
            for (const u of users) {
                const full = u.getBoundingClientRect();  // the part in view: the rest is clipped by the log
                const q = {left: full.left, right: full.right, top: Math.max(full.top, log.top),
                           bottom: Math.min(full.bottom, log.bottom)};
                if (q.bottom <= q.top) continue;  // scrolled out of view
                for (const b of buttons) {
                    const r = b.getBoundingClientRect();
                    if (r.left < q.right && q.left < r.right && r.top < q.bottom && q.top < r.bottom)
                        out.push(`${b.getAttribute('aria-label') || b.title || b.innerText} over "${u.innerText.slice(0, 40)}"`);
                }
                const y = q.top + 6;  // the bubble's top corners (as far as in view), inside its rounding
                for (const x of (y < q.bottom - 2 ? [q.right - 16, q.left + 16] : [])) {
                    const hit = document.elementFromPoint(x, y);
                    if (hit && !u.contains(hit) && hit.closest('#chat'))
                        out.push(`${hit.tagName}.${hit.className} at a corner of "${u.innerText.slice(0, 40)}"`);
                }
            }
            return out;
        }"""
    )


def aria_labels_with_markup(pg) -> list[str]:
    """Messages whose aria-label is missing or holds our markup (tags, character entities)."""
    pg.wait_for_timeout(500)  # relabelled as the messages render
    return pg.evaluate(
        r"""() => [...document.querySelectorAll('#chat [data-testid=user], #chat [data-testid=bot]')]
                .map(el => el.getAttribute('aria-label') || '')
                .filter(label => !label || /<(p|span|mark|blockquote|small|code|ol|li|br|i)\b[^>]*>|&#\d+;/.test(label))"""
    )


@browser
def test_chat_answers_with_highlight_and_source(page, chat_server, tmp_path):
    assert "127.0.0.1" in chat_server.log.read_text()  # bound to loopback by default
    assert page.get_by_text("What did Pakistan agree to?").first.is_visible()  # example question offered
    line = status(page)  # the status line, in plain words
    assert "Searching 3 articles dated 2024-03-05 to 2024-11-13." in line, line
    assert not any(word in line for word in ("embedded", "reused", "chunk", "Index:")), line
    options = source_options(page)  # an article with a title is listed by its title
    assert SEED_TITLE in options and "Harbour dispute settled" in options and SEED_FILE not in options, options
    msg = ask(page, "What did Pakistan agree to?")
    mark = msg.locator("mark")
    mark.first.wait_for(timeout=30_000)
    assert mark.first.inner_text().strip()
    text = msg.inner_text()
    assert SEED_TITLE in text and "2024-11-13" in text
    assert mark.first.inner_text().strip() in (CORPUS / SEED_FILE).read_text()

    # what is shown: the findings, most confident first, or below the cut-off the possible answers, marked
    spans = shown_spans(msg)
    assert spans, msg.inner_text()
    assert any(t in spans[0]["text"] or (len(spans[0]["text"]) >= 15 and spans[0]["text"] in t) for t in AGREED), spans
    confidences = [s["confidence"] for s in spans]
    assert confidences == sorted(confidences, reverse=True), spans
    marks = [m.strip() for m in msg.locator("mark").all_inner_texts()]
    assert not any("such a step" in m or "not agreed" in m or "allow its own security staff" in m for m in marks), marks
    if any(s["possible"] for s in spans):  # refused: every candidate is marked, under a heading that says why
        assert all(s["possible"] for s in spans) and msg.locator(".qa-low").count() == len(spans)
        assert "Possible answers" in msg.inner_text() and msg.locator(".qa-refusal").count() == 1
    else:
        for s in spans:  # every finding is one of the things the article says Pakistan agreed to
            assert any(t in s["text"] or (len(s["text"]) >= 15 and s["text"] in t) for t in AGREED), spans
    assert aria_labels_with_markup(page) == []  # each message labelled with its text, not its HTML
    assert msg.get_attribute("aria-label").startswith("Answer: ")
    view(page, tmp_path, "chat-desktop-view.png")
    screenshot(page, tmp_path, "chat-desktop.png")


@browser
def test_article_html_is_shown_not_run(page):
    msg = ask(page, "Who settled the harbour dispute?")
    msg.locator("mark").first.wait_for(timeout=30_000)
    assert page.evaluate("window.__pwned") is None
    assert msg.locator("img").count() == 0 and msg.locator("script").count() == 0
    assert "Amina Qureshi" in msg.inner_text()  # the answer is shown; its article's markup (above) never runs


@browser
def test_payloads_in_questions_are_shown_as_text(page):
    payload = '<img src=x onerror="window.__pwned = 3"><script>window.__pwned = 4</script> What did Pakistan agree to?'
    msg = ask(page, payload)
    msg.locator(".qa-answer, .qa-refusal").first.wait_for(timeout=60_000)
    asked = messages(page).nth(messages(page).count() - 2)  # the user's message
    assert page.evaluate("window.__pwned") is None
    assert asked.locator("img").count() == 0 and asked.locator("script").count() == 0
    assert "<img src=x" in asked.inner_text()


@browser
def test_follow_up_questions(page):
    first = ask(page, "Where did last month's bombing happen?")
    assert "Karachi" in first.inner_text()
    msg = ask(page, "Who was targeted there?")  # kept as asked, searched with the previous turn's terms
    assert "two Chinese engineers" in msg.inner_text()
    assert "Where did last month's bombing happen?" in msg.locator(".qa-follows").inner_text()
    msg = ask(page, "And China?")  # rewritten: the question actually answered is shown
    resolved = msg.locator(".qa-resolved")
    assert resolved.count() == 1 and "Answered as:" in resolved.inner_text()
    shown = resolved.inner_text().split("Answered as:")[1].strip()
    assert "China" in shown and shown != "And China?"


@browser
def test_example_button_asks(page):
    question = "Which ministries did not respond to requests for comment?"
    page.get_by_role("button", name=question).click()
    wait_for_messages(page, 2)
    user, reply = messages(page).nth(0), messages(page).nth(1)
    assert question in user.inner_text()
    assert reply.inner_text().strip() and "wrong" not in reply.inner_text()
    # the answer, or the sentence that holds it, in view
    assert "interior and planning ministries" in reply.inner_text(), reply.inner_text()[:800]


@browser
def test_a_yes_no_question_shows_evidence_with_the_denial_marked(page, tmp_path):
    msg = ask(page, "Did Pakistan agree to let Chinese security staff in?")
    msg.locator("li.qa-evidence").first.wait_for(timeout=60_000)
    assert msg.locator(".qa-span").count() == 0  # no span claimed as the answer
    denials = msg.locator("li.qa-evidence:has(.qa-denial)")
    assert denials.count() >= 1
    assert any("Pakistan had not agreed to such a step" in t for t in denials.all_inner_texts())
    assert msg.locator("li.qa-evidence mark.qa-term").count() >= 2  # the question's key terms highlighted
    view(page, tmp_path, "chat-polar-view.png")


@browser
def test_a_refusal_under_a_filter_says_so_and_shows_the_closest_sentence(page):
    page.fill("#until textarea, #until input", "2024-06-30")  # only the harbour article is that old
    msg = ask(page, "What is the name of the Chinese foreign ministry spokesperson?")
    text = msg.inner_text()
    assert msg.locator(".qa-refusal").count() == 1, text[:500]
    assert "Only articles dated" in text and "2024-06-30" in text, text[:500]
    assert msg.locator("blockquote.qa-passage").count() >= 1  # closest passages, shown


@browser
def test_empty_question_and_bad_date_get_a_message(page):
    page.click("#ask")
    wait_for_messages(page, 1, timeout=30_000)
    assert EMPTY_QUESTION in messages(page).last.inner_text()
    page.click("#ask")  # again: the hint is not repeated
    page.wait_for_timeout(1500)
    assert messages(page).count() == 1
    answer = ask(page, "Where did last month's bombing happen?").inner_text()
    page.fill("#since textarea, #since input", "2024-13-40")
    page.fill("#question textarea", "What did Pakistan agree to?")
    page.click("#ask")
    wait_for_messages(page, 4, timeout=30_000)
    assert "YYYY-MM-DD" in messages(page).last.inner_text()  # in a bubble of its own…
    assert messages(page).nth(2).inner_text() == answer and "YYYY-MM-DD" not in answer  # …not in the answer
    assert page.input_value("#question textarea") == "What did Pakistan agree to?"  # kept, to ask again


@browser
def test_date_filter_limits_the_articles(page):
    page.fill("#until textarea, #until input", "2024-06-30")  # before the seed article (2024-11-13)
    msg = ask(page, "What did Pakistan agree to?")
    assert SEED_TITLE not in msg.inner_text()


@browser
def test_a_5000_character_question_gets_an_answer_or_a_message(page, tmp_path):
    question = ("What did Pakistan agree to? " * 200)[:5000]
    msg = ask(page, question)
    text = msg.inner_text()
    (tmp_path / "reply.txt").write_text(text, encoding="utf-8")
    assert "5,000 characters" in messages(page).first.inner_text()  # shown shortened, asked in full
    assert text.strip()
    body = page.locator("body").inner_text()
    assert "Traceback" not in body and "Error" not in body  # no exception text, no error toast


@browser
def test_upload_an_article_then_ask_about_it(page, chromium_browser, chat_server, tmp_path):
    """The file goes to the uploads folder (QA_UPLOADS), never into the checkout or the corpus; it is
    searchable at once, and a new tab lists it."""
    live_before = sorted(p.name for p in LIVE_CORPUS.iterdir())
    git_before = _git_status()
    status_before = status(page)
    article = tmp_path / "lake ferry.txt"
    article.write_text(
        "Lake Orvela ferry resumes service\n\n2024-12-02\n"
        "The ferry across Lake Orvela resumed service on Tuesday after the regional transport authority "
        "approved a new timetable. The operator, Blue Heron Lines, said the crossing would run every forty "
        "minutes until the end of March.\n",
        encoding="utf-8",
    )
    page.set_input_files("#upload input[type=file]", str(article))
    page.wait_for_function(
        "(document.querySelector('#upload-status')?.innerText || '').includes('searchable')", timeout=240_000)
    note = page.locator("#upload-status").inner_text()
    assert "lake ferry.txt" in note and "It is indexed and searchable now" in note, note  # one file: singular
    assert (chat_server.uploads / "lake ferry.txt").read_text(encoding="utf-8") == article.read_text(encoding="utf-8")
    assert not (chat_server.corpus / "lake ferry.txt").exists()
    assert sorted(p.name for p in LIVE_CORPUS.iterdir()) == live_before  # the repo's corpus untouched
    assert _git_status() == git_before  # the checkout is as it was
    assert status(page) != status_before and "Indexed 1 new article." in status(page)
    msg = ask(page, "Which company operates the Lake Orvela ferry?")
    text = msg.inner_text()
    assert "Blue Heron Lines" in text and "Lake Orvela ferry resumes service" in text and "lake ferry.txt" in text

    other = open_chat(chromium_browser, chat_server)  # a new tab: the status and Sources computed afresh
    try:
        assert "latest article: 2024-12-02" in other.locator("#until").inner_text()
        assert "Lake Orvela ferry resumes service" in source_options(other)
        assert status(other).startswith("Searching ") and "2024-12-02" in status(other)
    finally:
        other.close()


@browser
def test_a_qa_index_in_another_terminal_reaches_the_open_chat_and_new_tabs(page, chromium_browser, chat_server,
                                                                           tmp_path):
    """The chat checks the index version before each question: no restart, no "Re-index" press."""
    before = status(page)
    index_library_in_another_process(tmp_path, chat_server.index_dir, date="2024-12-05")
    msg = ask(page, "When will the Greyfield library close?")  # the tab opened before the change
    assert "14 January" in msg.inner_text() and "Greyfield library to close for repairs" in msg.inner_text()
    page.reload()
    page.wait_for_function("(document.querySelector('#index-status')?.innerText || '').includes('Searching')",
                           timeout=60_000)
    assert status(page) != before and "2024-12-05" in page.locator("#until").inner_text()
    assert "Greyfield library to close for repairs" in source_options(page)


@browser
def test_a_refused_question_in_another_language_says_only_english_is_read(page):
    for question in ("Qu'est-ce que le Pakistan a accepté ?", "پاکستان نے کس بات پر اتفاق کیا؟"):
        msg = ask(page, question)
        assert msg.locator(".qa-refusal").count() == 1, msg.inner_text()[:300]
        assert "Only English is read here" in msg.inner_text()


@browser
def test_a_long_answer_shows_its_start_and_no_icon_covers_a_question(page, tmp_path):
    for question in ("Where did last month's bombing happen?", "What did Pakistan agree to?",
                     "Which ministries did not respond to requests for comment?", "What did Pakistan agree to?"):
        ask(page, question)
        where = answer_in_view(page)
        assert 0 <= where["top"] < where["box"] - 40, (question, where)  # the answer's first lines are in view
        assert covered_questions(page) == [], question
    view(page, tmp_path, "chat-desktop-long-view.png")


@browser
def test_narrow_screen_nothing_runs_off_the_card(chromium_browser, chat_server, tmp_path):
    pg = open_chat(chromium_browser, chat_server, width=390, height=844)
    try:
        ask(pg, "What did Pakistan agree to?")  # several findings: much taller than the chat at 390 px
        where = answer_in_view(pg)
        assert 0 <= where["top"] < where["box"] - 40 and where["height"] > where["box"] / 2, where
        assert covered_questions(pg) == [] and aria_labels_with_markup(pg) == []
        view(pg, tmp_path, "chat-390-view.png")
        msg = ask(pg, "How many tonnes of apricots were picked in Hunza?")
        assert covered_questions(pg) == []
        link = msg.locator("a.qa-url").first  # the long URL is in the card, as a link
        assert link.get_attribute("href") == LONG_URL and "noopener" in (link.get_attribute("rel") or "")
        screenshot(pg, tmp_path, "chat-390.png")
        overflowing = pg.evaluate(
            """() => {
                const out = [];
                const vw = document.documentElement.clientWidth;
                for (const el of document.querySelectorAll('#chat .message, #chat .message *')) {  // all of it
                    const r = el.getBoundingClientRect();
                    if (r.width === 0 || r.height === 0) continue;
                    const scrolls = el.clientWidth > 0 && el.scrollWidth > el.clientWidth + 1;
                    if (scrolls || r.right > vw + 1)
                        out.push(`${el.tagName}.${el.className}: right ${Math.round(r.right)} > ${vw} or `
                                 + `scroll ${el.scrollWidth} > ${el.clientWidth}: ${el.innerText.slice(0, 60)}`);
                }
                if (document.documentElement.scrollWidth > vw + 1) out.push('page scrolls sideways');
                return out;
            }"""
        )
        assert not overflowing, overflowing
    finally:
        pg.close()


def test_an_uncalibrated_reader_is_said_so_in_words_with_how_to_calibrate_it():
    from qa.app.cli import format_answer

    passage = "The talks ended in Islamabad."
    answer = Answer("q", "Islamabad", 0.97, True, [span(passage, "Islamabad")], calibrated=False)
    for shown in (unescape(render(answer, reader="/models/mine")), format_answer(answer, reader="/models/mine")):
        assert "not calibrated" in shown and "qa train-calibrator --reader /models/mine" in shown
    answer.calibrated = True
    assert "not calibrated" not in render(answer) and "not calibrated" not in format_answer(answer)
