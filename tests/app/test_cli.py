"""The `qa` command as a user runs it: answers as JSON, and clear errors."""

import io
import json
import os
import shutil
import subprocess
import sys

import pytest

from conftest import CORPUS, ROOT, SEED_TITLE
from qa.app.cli import BOLD, HIGHLIGHT, format_answer, parse_filters, use_color
from qa.app.filters import CLI, parse_day
from qa.store.versions import IndexStore
from qa.types import Answer, Citation, Filters


def qa(*args, env=None, timeout=300):
    full_env = {**os.environ, **(env or {})}
    return subprocess.run([sys.executable, "-m", "qa.app.cli", *map(str, args)], capture_output=True, text=True,
                          cwd=ROOT, env=full_env, timeout=timeout)


@pytest.mark.slow
def test_ask_json(seed_settings):
    r = qa("ask", "What did Pakistan agree to?", "--json", "--index-dir", seed_settings.index_dir)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert isinstance(out["answered"], bool) and isinstance(out["calibrated"], bool)
    assert 0 <= out["score"] <= 1 and 0 <= out["cutoff"] <= 1
    first = (out["findings"] or out["possible"])[0]  # the answer, or a refusal's best possible answer
    assert bool(out["answer"]) == out["answered"] and (out["score"] >= out["cutoff"]) == out["answered"]
    assert first["title"] == SEED_TITLE and out["citations"][0]["title"] == SEED_TITLE


@pytest.mark.slow
def test_ask_plain_text_shows_answer_and_source(seed_settings):
    r = qa("ask", "Where did last month's bombing happen?", "--index-dir", seed_settings.index_dir,
           env={"NO_COLOR": ""})
    assert r.returncode == 0, r.stderr
    assert "Karachi airport" in r.stdout and SEED_TITLE in r.stdout
    assert "**" not in r.stdout and "\033[" not in r.stdout  # stdout is a pipe: plain text, no markers
    assert "Loading weights" not in r.stderr and r.stderr.strip() == ""  # no model-loading bars


@pytest.mark.slow
def test_index_reports_counts_then_embeds_nothing(tmp_path):
    idx = tmp_path / "idx"
    r = qa("index", CORPUS, "--index-dir", idx, "--no-progress")
    assert r.returncode == 0, r.stderr
    assert "1 record in 1 file: 1 article, 0 skipped, 0 duplicates" in r.stdout
    r = qa("index", CORPUS, "--index-dir", idx, "--no-progress")
    assert "up to date" in r.stdout and "nothing embedded" in r.stdout


@pytest.mark.slow
def test_clear_errors(tmp_path):
    r = qa("ask", "  ")
    assert r.returncode == 2 and "empty" in r.stderr
    r = qa("ask", "Who?", "--index-dir", tmp_path / "none", env={"QA_CORPUS": str(tmp_path / "no-articles")})
    assert r.returncode == 2 and "no index" in r.stderr and "qa index" in r.stderr
    assert "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) == 1
    r = qa("index", tmp_path / "missing")
    assert r.returncode == 2 and "no such file or folder" in r.stderr
    empty = tmp_path / "empty"
    empty.mkdir()
    r = qa("index", empty, "--index-dir", tmp_path / "i2", "--no-progress")
    assert r.returncode == 1 and "no articles found" in r.stderr


@pytest.mark.slow
def test_missing_reader_model_is_named(seed_settings, tmp_path):
    r = qa("ask", "Who?", "--index-dir", seed_settings.index_dir, "--reader", tmp_path / "no-model")
    assert r.returncode == 2 and "no reader model" in r.stderr


def test_bad_environment_value_is_reported():
    r = qa("ask", "Who?", env={"QA_TOP_K": "many"})
    assert r.returncode == 2 and "QA_TOP_K" in r.stderr


def json_error(r) -> str:
    """The error of a failed `--json` run: exit 2, one JSON object on stdout, no traceback."""
    assert r.returncode == 2, (r.stdout, r.stderr)
    assert "Traceback" not in r.stdout + r.stderr
    out = json.loads(r.stdout)
    assert out["answered"] is False and set(out) == {"error", "answered"}
    return out["error"]


@pytest.mark.slow
def test_json_errors(tmp_path):
    assert "empty" in json_error(qa("ask", "", "--json"))
    assert "--since" in json_error(qa("ask", "Who?", "--since", "2024-13-01", "--json"))
    assert "--until" in json_error(qa("ask", "Who?", "--until", "last week", "--json"))
    assert "--k" in json_error(qa("ask", "Who?", "--k", "many", "--json"))  # argparse's errors too
    err = json_error(qa("ask", "Who?", "--json", "--index-dir", tmp_path / "none",
                        env={"QA_CORPUS": str(tmp_path / "no-articles")}))
    assert "no index" in err and "no-articles" in err
    assert not (tmp_path / "none").exists()


def test_bad_date_without_json_is_one_line_on_stderr():
    r = qa("ask", "Who?", "--since", "13/11/2024")
    assert r.returncode == 2 and r.stdout == ""
    assert r.stderr.strip().splitlines() == ["error: --since '13/11/2024' is not a date: use YYYY-MM-DD, e.g. 2024-11-13"]
    r = qa("ask", "Who?", "--since", "2024-05-01", "--until", "2024-04-30")
    assert r.returncode == 2 and "after --until" in r.stderr


def test_parse_day():
    assert parse_day("2024-11-13", "--since", CLI) == "2024-11-13"
    assert parse_day(" 2024-02-29 ", "--until", CLI) == "2024-02-29"
    for bad in ("2023-02-29", "2024-1-5", "20241113", "2024-11-13T10:00", "yesterday", ""):
        with pytest.raises(ValueError, match="YYYY-MM-DD"):
            parse_day(bad, "--since", CLI)


def test_parse_filters():
    assert parse_filters(None, None, None) is None
    assert parse_filters(None, None, ["  "]) is None
    with pytest.raises(ValueError, match="after --until"):
        parse_filters("2024-05-01", "2024-04-01", None)
    f = parse_filters("2024-11-01", "2024-11-30", ["dawn.com", "corpus/"])
    assert isinstance(f, Filters)
    assert (f.since, f.until) == ("2024-11-01", "2024-11-30")
    assert len(f.sources) == 2 and "dawn.com" in f.sources
    assert parse_filters("2024-11-01", None, None).until is None


@pytest.mark.slow
def test_filter_flags_reach_the_pipeline(seed_settings):
    base = ("ask", "What did Pakistan agree to?", "--json", "--index-dir", seed_settings.index_dir)
    r = qa(*base, "--since", "2024-11-01", "--until", "2024-11-30", "--source", "corpus")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["citations"][0]["title"] == SEED_TITLE  # the seed article is dated 2024-11-13
    r = qa(*base, "--since", "2030-01-01")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["answered"] is False and all(c["title"] != SEED_TITLE for c in out["citations"])


@pytest.mark.slow
def test_first_ask_indexes_the_corpus(tmp_path):
    idx = tmp_path / "fresh-index"
    r = qa("ask", "What did Pakistan agree to?", "--json", "--index-dir", idx, env={"QA_CORPUS": str(CORPUS)})
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["citations"][0]["title"] == SEED_TITLE
    assert "No index" in r.stderr and "1 record in 1 file: 1 article" in r.stderr  # said on stderr, not stdout
    assert "ingest" in r.stderr  # with a progress bar
    assert len(IndexStore(idx).load().articles) == 1


@pytest.mark.slow
def test_index_other_folder_keeps_existing_articles_and_prune_removes_deleted(tmp_path):
    idx, news, other = tmp_path / "idx", tmp_path / "news", tmp_path / "other"
    news.mkdir()
    other.mkdir()
    shutil.copy(next(CORPUS.glob("*.txt")), news / "seed.txt")
    (other / "floods.txt").write_text("Floods in Sindh\n\n2024-08-02\nFloods displaced 2,000 families in Sindh.\n",
                                      encoding="utf-8")
    assert qa("index", news, "--index-dir", idx, "--no-progress").returncode == 0
    r = qa("index", other, "--index-dir", idx, "--no-progress")
    assert r.returncode == 0, r.stderr
    assert "1 from these files + 1 kept from earlier runs" in r.stdout
    titles = {a.title for a in IndexStore(idx).load().articles.values()}
    assert titles == {SEED_TITLE, "Floods in Sindh"}

    (other / "floods.txt").unlink()
    r = qa("index", news, "--index-dir", idx, "--no-progress")
    assert "no longer in its file" in r.stdout and "--prune" in r.stdout
    assert len(IndexStore(idx).load().articles) == 2  # still there without --prune
    r = qa("index", news, "--index-dir", idx, "--no-progress", "--prune")
    assert r.returncode == 0, r.stderr
    assert "pruning 1 article" in r.stderr and "Floods in Sindh" in r.stderr and "floods.txt" in r.stderr
    assert "1 pruned" in r.stdout
    assert {a.title for a in IndexStore(idx).load().articles.values()} == {SEED_TITLE}


@pytest.mark.slow
def test_edited_file_replaces_its_article(tmp_path):
    idx, news = tmp_path / "idx", tmp_path / "news"
    news.mkdir()
    story = news / "floods.txt"
    story.write_text("Floods in Sindh\n\nFloods displaced 2,000 families.\n", encoding="utf-8")
    assert qa("index", news, "--index-dir", idx, "--no-progress").returncode == 0
    story.write_text("Floods in Sindh\n\nFloods displaced 3,500 families.\n", encoding="utf-8")
    r = qa("index", news, "--index-dir", idx, "--no-progress")
    assert r.returncode == 0, r.stderr
    assert "1 new, 1 replaced" in r.stdout
    data = IndexStore(idx).load()
    assert len(data.articles) == 1 and "3,500" in data.chunks[0].text


def fake_answer() -> Answer:
    passage = "Officials said Pakistan had not agreed to such a step so far."
    a = passage.index("not agreed")
    citation = Citation(article_id="x", title="Talks", date="2024-11-13", source="corpus/x.txt", url="",
                        passage=passage, passage_start=0, answer_start=a, answer_end=a + len("not agreed"))
    return Answer(question="What did Pakistan agree to?", text="not agreed", score=0.9, answered=True,
                  citations=[citation])


def test_answer_is_highlighted_only_in_colour():
    plain = format_answer(fake_answer())
    assert "**" not in plain and "\033[" not in plain
    assert plain.splitlines()[0] == "not agreed   (confidence 0.90)"
    assert "had not agreed to such" in plain
    coloured = format_answer(fake_answer(), color=True)
    assert f"{HIGHLIGHT}not agreed\033[0m to such" in coloured
    assert coloured.splitlines()[0].startswith(f"{BOLD}not agreed")


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_colour_only_on_a_terminal_without_no_color(monkeypatch):
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setenv("TERM", "xterm-256color")
    assert use_color(_Tty()) is True
    assert use_color(io.StringIO()) is False
    monkeypatch.setenv("NO_COLOR", "1")
    assert use_color(_Tty()) is False


@pytest.mark.slow
def test_ask_takes_corpus_as_a_flag_too(tmp_path):
    """`qa ask --corpus PATH` does what QA_CORPUS does: the folder indexed when there is no index yet."""
    idx = tmp_path / "fresh-index"
    r = qa("ask", "Where did last month's bombing happen?", "--json", "--index-dir", idx, "--corpus", CORPUS,
           env={"QA_CORPUS": str(tmp_path / "no-articles")})
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["citations"][0]["title"] == SEED_TITLE
    assert str(CORPUS) in r.stderr and "no-articles" not in r.stderr


@pytest.mark.slow
def test_a_refused_question_in_french_says_only_english_is_read(seed_settings):
    from qa.text.language import ONLY_ENGLISH

    r = qa("ask", "Qu'est-ce que le Pakistan a accepté ?", "--json", "--index-dir", seed_settings.index_dir)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["answered"] is False and ONLY_ENGLISH in out["message"]


@pytest.mark.slow
def test_eval_with_corpus_leaves_the_configured_index_alone(seed_settings, tmp_path):
    """`qa eval --corpus` scores the questions on those articles alone, in a temporary index; the
    index in the configured folder is neither replaced nor added to."""
    index_dir = tmp_path / "my-index"
    shutil.copytree(seed_settings.index_dir, index_dir)
    before = sorted((p.relative_to(index_dir), p.stat().st_mtime_ns) for p in index_dir.rglob("*"))
    other = tmp_path / "other"
    other.mkdir()
    (other / "floods.txt").write_text("Floods in Sindh\n\n2024-08-02\nFloods displaced 2,000 families in Sindh.\n",
                                      encoding="utf-8")
    questions = tmp_path / "q.jsonl"
    questions.write_text(json.dumps({"question": "How many families did the floods displace?",
                                     "answers": ["2,000 families", "2,000"]}) + "\n", encoding="utf-8")
    r = qa("eval", questions, "--corpus", other, "--json", "--out", tmp_path / "out",
           env={"QA_INDEX_DIR": str(index_dir)})
    assert r.returncode == 0, r.stderr
    assert "temporary index" in r.stderr
    assert sorted((p.relative_to(index_dir), p.stat().st_mtime_ns) for p in index_dir.rglob("*")) == before
    assert len(IndexStore(index_dir).load().articles) == 1  # still just the seed article


@pytest.mark.slow
def test_eval_index_contexts_asks_a_squad_file_over_its_own_articles(tmp_path):
    """`--index-contexts` indexes the file's articles (all of them) in a temporary index; `--held-out`
    keeps only the questions of the held-out fifth of articles; a .json.gz file is read as SQuAD."""
    import gzip

    from qa.training.mixture import is_held_out

    titles = [f"story {i}" for i in range(12)]
    held = [t for t in titles if is_held_out(t)]
    assert held and len(held) < len(titles)
    doc = {"version": "v2.0", "data": [
        {"title": t, "paragraphs": [{"context": f"The mayor of town {i} is Ada Num{i}. She took office in {2000 + i}.",
                                     "qas": [{"id": f"q{i}", "question": f"Who is the mayor of town {i}?",
                                              "answers": [{"text": f"Ada Num{i}", "answer_start": 20 + len(str(i))}]}]}]}
        for i, t in enumerate(titles)]}
    path = tmp_path / "stories.json.gz"
    path.write_bytes(gzip.compress(json.dumps(doc).encode()))
    r = qa("eval", path, "--index-contexts", "--held-out", "--json", "--out", tmp_path / "out",
           env={"QA_INDEX_DIR": str(tmp_path / "never")})
    assert r.returncode == 0, r.stderr
    assert "12 articles" in r.stderr and not (tmp_path / "never").exists()
    summary = json.loads(r.stdout)
    assert summary["counts"]["questions"] == len(held)
    assert summary["index"]["articles"] == 12
    assert "confident_wrong_share" in summary["calibration"]
    r = qa("eval", path, "--index-contexts", "--reader-only")
    assert r.returncode == 2 and "--index-contexts" in r.stderr
