"""The `qa` command as a user runs it: answers as JSON, and clear errors."""

import json
import os
import subprocess
import sys

from conftest import CORPUS, ROOT, SEED_TITLE


def qa(*args, env=None, timeout=300):
    full_env = {**os.environ, **(env or {})}
    return subprocess.run([sys.executable, "-m", "qa.cli", *map(str, args)], capture_output=True, text=True,
                          cwd=ROOT, env=full_env, timeout=timeout)


def test_ask_json(seed_settings):
    r = qa("ask", "What did Pakistan agree to?", "--json", "--index-dir", seed_settings.index_dir)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["answer"] and out["answered"] is True
    assert 0 <= out["score"] <= 1
    assert out["citations"][0]["title"] == SEED_TITLE


def test_ask_plain_text_shows_answer_and_source(seed_settings):
    r = qa("ask", "Where did last month's bombing happen?", "--index-dir", seed_settings.index_dir)
    assert r.returncode == 0, r.stderr
    assert "Karachi airport" in r.stdout and SEED_TITLE in r.stdout


def test_index_reports_counts_then_embeds_nothing(tmp_path):
    idx = tmp_path / "idx"
    r = qa("index", CORPUS, "--index-dir", idx, "--no-progress")
    assert r.returncode == 0, r.stderr
    assert "1 articles" in r.stdout and "skipped" in r.stdout and "duplicates" in r.stdout
    r = qa("index", CORPUS, "--index-dir", idx, "--no-progress")
    assert "up to date" in r.stdout and "nothing embedded" in r.stdout


def test_clear_errors(tmp_path):
    r = qa("ask", "  ")
    assert r.returncode == 2 and "empty" in r.stderr
    r = qa("ask", "Who?", "--index-dir", tmp_path / "none")
    assert r.returncode == 2 and "no index" in r.stderr and "qa index" in r.stderr
    r = qa("index", tmp_path / "missing")
    assert r.returncode == 2 and "no such file or folder" in r.stderr
    empty = tmp_path / "empty"
    empty.mkdir()
    r = qa("index", empty, "--index-dir", tmp_path / "i2", "--no-progress")
    assert r.returncode == 1 and "no articles found" in r.stderr


def test_missing_reader_model_is_named(seed_settings, tmp_path):
    r = qa("ask", "Who?", "--index-dir", seed_settings.index_dir, "--reader", tmp_path / "no-model")
    assert r.returncode == 2 and "no reader model" in r.stderr


def test_bad_environment_value_is_reported():
    r = qa("ask", "Who?", env={"QA_TOP_K": "many"})
    assert r.returncode == 2 and "QA_TOP_K" in r.stderr
