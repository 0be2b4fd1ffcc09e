"""The run-time path stays light: answering a question never loads training, evaluation or plotting
code, nor the scale extra (Ray, Milvus), and on the ONNX runtimes (the defaults) a cold `qa ask`
never loads torch or transformers.

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
demo = build_app(pipeline)
pipeline.ask("What did Pakistan agree to?")
heavy = sorted(m for m in sys.modules if m.split(".")[0] == "matplotlib"
               or m.startswith(("qa.training", "qa.evaluation")))
scale = sorted(m for m in sys.modules if m.split(".")[0] in ("ray", "pymilvus", "milvus_lite"))
print(json.dumps({"code": code, "answered": answer["answered"], "heavy": heavy, "scale": scale}))
"""

# A cold `qa ask --json`, as a user runs it, then the modules it loaded.
COLD_ASK = r"""
import contextlib, io, json, sys
from qa.app.cli import main

out = io.StringIO()
with contextlib.redirect_stdout(out):
    code = main(["ask", "What did Pakistan agree to?", "--json", "--index-dir", sys.argv[1]])
loaded = sorted(m for m in sys.modules if m.split(".")[0] in ("torch", "transformers", "sentence_transformers"))
print(json.dumps({"code": code, "answered": json.loads(out.getvalue())["answered"], "loaded": loaded}))
"""


def _run(script: str, index_dir, env_extra: dict | None = None) -> dict:
    import os

    env = {**os.environ, **(env_extra or {})}
    for name in ("QA_READER_RUNTIME", "QA_EMBED_RUNTIME"):  # the defaults: ONNX Runtime
        env.pop(name, None)
    r = subprocess.run([sys.executable, "-c", script, str(index_dir)], capture_output=True, text=True, cwd=ROOT,
                       timeout=900, env=env)
    assert r.returncode == 0, r.stderr[-3000:]
    return json.loads(r.stdout.strip().splitlines()[-1])


@pytest.mark.slow
def test_ask_and_chat_do_not_import_training_evaluation_or_plotting(seed_settings):
    result = _run(SCRIPT, seed_settings.index_dir)
    assert result["code"] == 0 and result["answered"] in (True, False)  # asked and decided (answered or refused)
    assert result["heavy"] == [], f"run-time path loaded {result['heavy']} (one of {HEAVY})"
    assert result["scale"] == [], f"the chat and `qa ask` loaded {result['scale'][:5]}: they must run without .[scale]"


@pytest.mark.slow
def test_a_cold_ask_on_the_onnx_runtimes_loads_no_torch(seed_settings):
    """torch is for the torch runtimes, training and the one-time ONNX export, never for answering.

    The first run may export the ONNX copies (that needs torch); the second, with them cached, is
    the cold `qa ask` a user runs, and must not import torch, transformers or sentence-transformers.
    """
    _run(COLD_ASK, seed_settings.index_dir)  # make sure the ONNX copies are in the (test) cache
    result = _run(COLD_ASK, seed_settings.index_dir)
    assert result["code"] == 0 and result["answered"] in (True, False)  # asked and decided (answered or refused)
    assert result["loaded"] == [], f"a cold `qa ask` loaded {result['loaded'][:10]}"
