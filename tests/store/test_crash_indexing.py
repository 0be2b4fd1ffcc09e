"""kill -9 the indexer at random moments: the previous index still loads and answers exactly as before.

The default run kills `qa index corpus/ + Dawn` 3 times; `QA_HEAVY_TESTS=1` kills 10 times while
indexing Dawn + BBC. After the kills, a last `qa index` completes and reuses the vectors of the
articles the intact index already had.
"""

import os
import random
import signal
import subprocess
import sys
import time

import pytest

from conftest import CORPUS, need_shared
from qa.config import Settings
from qa.store.versions import IndexStore
from qa.answer.pipeline import Pipeline

HEAVY = os.environ.get("QA_HEAVY_TESTS") == "1"
QUESTIONS = [
    "What did Pakistan agree to?",
    "Where did last month's bombing happen?",
    "Which ministries did not respond to requests for comment?",
]


def _answers(index_dir, reader_path):
    settings = Settings.from_env({}).with_overrides(index_dir=index_dir, reader_model=reader_path, corpus=(CORPUS,))
    pipe = Pipeline(settings)
    out = []
    for q in QUESTIONS:
        a = pipe.ask(q)
        shown = a.findings if a.answered else a.possible  # the answer, or the possible answers under the cut-off
        out.append((a.answered, shown[0].text if shown else "", a.citations[0].article_id if a.citations else None))
    return out


def _index_cmd(index_dir, paths):
    return [sys.executable, "-m", "qa.app.cli", "index", *map(str, paths), "--index-dir", str(index_dir), "--no-progress"]


@pytest.mark.slow
def test_killed_indexing_leaves_the_previous_index_answering_as_before(tmp_path, reader_path):
    extra = [need_shared("news", "dawn_pakistan_15.json")]
    if HEAVY:
        extra.append(need_shared("news", "bbc_news_2225.jsonl.gz"))
    index_dir = tmp_path / "index"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    subprocess.run(_index_cmd(index_dir, [CORPUS]), check=True, env=env, capture_output=True)
    store = IndexStore(index_dir)
    before_version = store.current()
    before = _answers(index_dir, reader_path)
    assert before[0][1]  # the seed question gets an answer or a possible answer to begin with

    # How long a whole run takes here: kills are timed as shares of it, as fixed times could all fall after it.
    t = time.perf_counter()
    subprocess.run(_index_cmd(tmp_path / "timing", [CORPUS, *extra]), check=True, env=env, capture_output=True)
    full_run = time.perf_counter() - t

    rng = random.Random(7)
    kills, intact, done, switched = 10 if HEAVY else 3, 0, 0, False
    for _ in range(kills):
        done += 1
        proc = subprocess.Popen(_index_cmd(index_dir, [CORPUS, *extra]), env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        time.sleep(rng.uniform(0.2, 0.8) * full_run)  # from start-up to the last moments before the switch
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        now = IndexStore(index_dir)
        data = now.load()  # never damaged: IndexCorrupt would fail the test here
        if now.current() == before_version:
            assert _answers(index_dir, reader_path) == before
            intact += 1
        else:  # the kill came after the switch: the new index is whole
            assert len(data.articles) > 1
            switched = True
            break
    assert intact >= 1
    print(f"\ncrash test: {done} kills, {done} indexes loadable, {intact} kept the old version and answered "
          f"{len(QUESTIONS)} questions exactly as before")

    report = subprocess.run(_index_cmd(index_dir, [CORPUS, *extra]), env=env, capture_output=True, text=True)
    assert report.returncode == 0, report.stderr
    data = IndexStore(index_dir).load()
    assert len(data.articles) > 1
    if switched:  # a kill after the switch left the whole new index: nothing is left to do
        assert "up to date" in report.stdout, report.stdout + report.stderr
    else:  # what the intact index had embedded was reused, not embedded again
        assert "reused " in report.stdout, report.stdout + report.stderr
        assert int(report.stdout.split("reused ")[1].split(";")[0].split()[0]) >= 5, report.stdout
