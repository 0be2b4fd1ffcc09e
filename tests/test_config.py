"""Configuration: defaults, environment overrides, CLI flags on top, clear errors."""

from pathlib import Path

import pytest

from qa.config import ROOT, Settings


def test_defaults_point_into_the_checkout():
    s = Settings.from_env({})
    assert s.corpus == (ROOT / "corpus",)
    assert s.index_dir == ROOT / "index"
    assert s.reader_model == ROOT / "models" / "reader"
    assert s.host == "127.0.0.1"


def test_environment_overrides_and_flags_win():
    env = {"QA_CORPUS": "/a:/b", "QA_TOP_K": "7", "QA_NULL_THRESHOLD": "-1.5", "QA_READER_RUNTIME": "Torch",
           "QA_EMBED_RUNTIME": "onnx", "QA_HOST": "0.0.0.0"}
    s = Settings.from_env(env)
    assert s.corpus == (Path("/a"), Path("/b"))
    assert (s.top_k, s.null_threshold, s.reader_runtime, s.embed_runtime, s.host) == (7, -1.5, "torch", "onnx",
                                                                                       "0.0.0.0")
    s2 = s.with_overrides(top_k=3, host=None)
    assert s2.top_k == 3 and s2.host == "0.0.0.0"  # None means "flag not given"


@pytest.mark.parametrize("name, value", [("QA_TOP_K", "many"), ("QA_READER_RUNTIME", "int4"),
                                                ("QA_EMBED_RUNTIME", "torch-int8"), ("QA_PORT", "80a")])
def test_bad_values_name_the_variable(name, value):
    with pytest.raises(ValueError, match=name):
        Settings.from_env({name: value})


def test_fast_runtimes_are_the_defaults():
    s = Settings.from_env({})
    assert (s.reader_runtime, s.embed_runtime) == ("onnx-int8", "auto")


def test_embedder_defaults_to_the_packaged_model():
    path = Path(Settings.from_env({}).embedder_path())
    assert (path / "config.json").exists() and (path / "model.safetensors").exists()
