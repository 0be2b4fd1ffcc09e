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
    assert (s.reader_runtime, s.embed_runtime) == ("auto", "auto")


def test_embedder_defaults_to_the_packaged_model():
    path = Path(Settings.from_env({}).embedder_path())
    assert (path / "config.json").exists() and (path / "model.safetensors").exists()


def test_uploads_live_in_the_user_data_folder_not_the_checkout(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    s = Settings.from_env({})
    assert s.uploads == tmp_path / "xdg" / "qa-news" / "uploads" and ROOT not in s.uploads.parents
    monkeypatch.delenv("XDG_DATA_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert Settings.from_env({}).uploads == tmp_path / "home" / ".local" / "share" / "qa-news" / "uploads"
    assert Settings.from_env({"QA_UPLOADS": str(tmp_path / "up")}).uploads == tmp_path / "up"


def test_the_articles_are_the_corpus_plus_the_uploads_once_there_are_any(tmp_path):
    s = Settings.from_env({}).with_overrides(corpus=(tmp_path / "corpus",), uploads=tmp_path / "uploads")
    assert s.article_paths() == [tmp_path / "corpus"]
    (tmp_path / "uploads").mkdir()
    assert s.article_paths() == [tmp_path / "corpus", tmp_path / "uploads"]


def test_reader_runtime_auto_is_int8_only_with_int8_dot_products(monkeypatch):
    from qa.answer.reader.read import Reader
    from qa.util import onnx

    monkeypatch.setattr(onnx, "fast_int8", lambda: True)
    assert Reader("models/reader").runtime == "onnx-int8"
    monkeypatch.setattr(onnx, "fast_int8", lambda: False)
    assert Reader("models/reader").runtime == "onnx"
    assert Reader("models/reader", runtime="torch").runtime == "torch"


def test_vector_settings_come_from_their_variables_and_keep_the_token_private():
    from qa.config import VectorConfig

    assert Settings.from_env({}).vectors == VectorConfig()
    env = {"QA_VECTOR_STORE": " Milvus", "QA_FAISS_EXACT_MAX": "0", "QA_FAISS_INDEX": "hnsw", "QA_FAISS_NPROBE": "4",
           "QA_FAISS_EF_SEARCH": "64", "QA_FAISS_HNSW_M": "16", "QA_MILVUS_URI": "http://db:19530",
           "QA_MILVUS_COLLECTION": "news", "QA_MILVUS_TOKEN": "user:secret"}
    s = Settings.from_env(env)
    assert s.vectors == VectorConfig(store="milvus", faiss_exact_max=0, faiss_index="hnsw", faiss_nprobe=4,
                                     faiss_ef_search=64, faiss_hnsw_m=16, milvus_uri="http://db:19530",
                                     milvus_collection="news", milvus_token="user:secret")
    assert "secret" not in repr(s) and "secret" not in repr(s.vectors)
    with pytest.raises(ValueError, match="QA_FAISS_NPROBE='0': must be a positive number"):
        Settings.from_env({"QA_FAISS_NPROBE": "0"})
