"""The run-time path stays light: answering a question never loads training, evaluation or plotting code.

Run in a fresh interpreter, because the test session itself imports everything.
"""

import json
import subprocess
import sys

import pytest

from conftest import ROOT

HEAVY = ("qa.training", "qa.evaluation", "matplotlib")  # (sentence-transformers itself imports sklearn)

SCRIPT = r"""
import contextlib, io, json, sys
from qa.app.cli import main
from qa.app.chat import build_app
from qa.config import Settings

index_dir = sys.argv[1]
out = io.StringIO()
with contextlib.redirect_stdout(out):
    code = main(["ask", "What did Pakistan agree to?", "--json", "--index-dir", index_dir])
answer = json.loads(out.getvalue())
from qa.answer.pipeline import Pipeline
pipeline = Pipeline(Settings.from_env().with_overrides(index_dir=index_dir))
demo = build_app(pipeline, "")
pipeline.ask("What did Pakistan agree to?")
heavy = sorted(m for m in sys.modules if m.split(".")[0] == "matplotlib"
               or m.startswith(("qa.training", "qa.evaluation")))
print(json.dumps({"code": code, "answered": answer["answered"], "heavy": heavy}))
"""


@pytest.mark.slow
def test_ask_and_chat_do_not_import_training_evaluation_or_plotting(seed_settings):
    r = subprocess.run([sys.executable, "-c", SCRIPT, str(seed_settings.index_dir)], capture_output=True, text=True,
                       cwd=ROOT, timeout=900)
    assert r.returncode == 0, r.stderr[-3000:]
    result = json.loads(r.stdout.strip().splitlines()[-1])
    assert result["code"] == 0 and result["answered"] is True
    assert result["heavy"] == [], f"run-time path loaded {result['heavy']} (one of {HEAVY})"
