"""Uploads from the chat: safe names, no overwriting, limits, clear reasons (no models needed)."""

import gzip
from pathlib import Path

import pytest

from qa.app.uploads import MAX_UPLOAD_BYTES, safe_name, save_uploads, suffix_of

ARTICLE = "Harbour reopens\n\n2024-03-05\nThe harbour in Gwadar reopened on Monday.\n"


@pytest.mark.parametrize(
    "given, expected",
    [
        ("story.txt", "story.txt"),
        ("../../etc/passwd.txt", "passwd.txt"),
        ("/etc/cron.d/evil.md", "evil.md"),
        ("..\\..\\windows\\win.ini.txt", "win.ini.txt"),
        ("C:\\Users\\me\\news.html", "news.html"),
        ("a\x00b.txt", "ab.txt"),
        ("line\nbreak\r\x1b[31m.txt", "linebreak_31m.txt"),
        ("..hidden.json", "hidden.json"),
        (".bashrc.txt", "bashrc.txt"),
        ("dump.JSONL.GZ", "dump.jsonl.gz"),
        ("x.json.gz", "x.json.gz"),
        ("résumé du jour.md", "résumé du jour.md"),
        ("a  <b>|*?.txt", "a _b.txt"),
        ("a..b....txt", "a.b.txt"),
        ("$(rm -rf ~).txt", "rm -rf.txt"),
    ],
)
def test_safe_name_strips_folders_traversal_and_control_characters(given, expected):
    assert safe_name(given) == expected


@pytest.mark.parametrize("given", ["", "..", "../", "/", "***.txt", "<>|.md"])
def test_safe_name_is_empty_when_nothing_usable_is_left(given):
    assert safe_name(given) == ""


@pytest.mark.parametrize("given", ["***.txt", ".txt", "...txt", "\x00\x01.txt", "../"])
def test_names_without_a_usable_stem_are_rejected(tmp_path, given):
    report = save_uploads([upload(tmp_path, given, ARTICLE)], tmp_path / "corpus")
    assert not report.stored and len(report.rejected) == 1


def test_safe_name_is_short_and_keeps_the_extension():
    name = safe_name("x" * 500 + ".jsonl.gz")
    assert name.endswith(".jsonl.gz") and len(name) <= 120


def test_suffix_treats_compressed_json_as_one_suffix():
    assert suffix_of("a.jsonl.gz") == ".jsonl.gz" and suffix_of("a.tar.gz") == ".gz"
    assert suffix_of("README") == "" and suffix_of(".txt") == ""


def upload(tmp_path, name: str, data: bytes | str, folder: str = "upload") -> tuple[str, Path]:
    """A file as the upload box hands it over: (name the user gave, temporary path)."""
    d = tmp_path / folder
    d.mkdir(exist_ok=True)
    path = d / f"tmp{len(list(d.iterdir()))}"
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    return name, path


def test_saves_into_the_corpus_folder_under_the_safe_name(tmp_path):
    corpus = tmp_path / "corpus"
    report = save_uploads([upload(tmp_path, "../../outside.txt", ARTICLE)], corpus)
    assert report.saved == [corpus / "outside.txt"] and not report.rejected
    assert (corpus / "outside.txt").read_text() == ARTICLE
    assert not (tmp_path / "outside.txt").exists()
    assert "outside.txt" in report.summary()


def test_plain_paths_use_their_base_name(tmp_path):
    src = tmp_path / "drop" / "Gwadar harbour.md"
    src.parent.mkdir()
    src.write_text(ARTICLE)
    report = save_uploads([str(src)], tmp_path / "corpus")
    assert [p.name for p in report.saved] == ["Gwadar harbour.md"]


def test_never_overwrites_a_different_file(tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "story.txt").write_text("the original")
    (corpus / "story-1.txt").write_text("another original")
    report = save_uploads([upload(tmp_path, "story.txt", ARTICLE), upload(tmp_path, "story.txt", ARTICLE + "more")],
                          corpus)
    assert [p.name for p in report.saved] == ["story-2.txt", "story-3.txt"]
    assert (corpus / "story.txt").read_text() == "the original"
    assert (corpus / "story-1.txt").read_text() == "another original"
    assert (corpus / "story-2.txt").read_text() == ARTICLE


def test_the_same_file_twice_is_not_duplicated(tmp_path):
    corpus = tmp_path / "corpus"
    first = save_uploads([upload(tmp_path, "story.txt", ARTICLE)], corpus)
    again = save_uploads([upload(tmp_path, "story.txt", ARTICLE)], corpus)
    assert first.saved == [corpus / "story.txt"]
    assert again.saved == [] and again.unchanged == [corpus / "story.txt"]
    assert sorted(p.name for p in corpus.iterdir()) == ["story.txt"]
    assert "Already uploaded" in again.summary()


@pytest.mark.parametrize("name", ["run.exe", "notes", "photo.PNG", "archive.tar.gz", "page.php", "x.txt.sh"])
def test_rejects_unsupported_types_saying_which_are_supported(tmp_path, name):
    corpus = tmp_path / "corpus"
    report = save_uploads([upload(tmp_path, name, "data")], corpus)
    assert not report.saved and len(report.rejected) == 1
    shown, reason = report.rejected[0]
    assert shown == name and "unsupported file type" in reason and ".jsonl.gz" in reason
    assert not corpus.exists() or not any(corpus.iterdir())


def test_rejects_files_over_the_size_limit(tmp_path):
    corpus = tmp_path / "corpus"
    report = save_uploads([upload(tmp_path, "big.txt", "x" * 2001), upload(tmp_path, "ok.txt", ARTICLE)],
                          corpus, max_bytes=2000)
    assert [p.name for p in report.saved] == ["ok.txt"]
    assert report.rejected[0][0] == "big.txt" and "too large" in report.rejected[0][1]
    assert "limit" in report.rejected[0][1]
    assert not (corpus / "big.txt").exists()


def test_default_size_limit_is_20_mb():
    assert MAX_UPLOAD_BYTES == 20 * 1024 * 1024


def test_rejects_too_many_files_at_once(tmp_path):
    files = [upload(tmp_path, f"a{i}.txt", ARTICLE + str(i)) for i in range(4)]
    report = save_uploads(files, tmp_path / "corpus", max_files=3)
    assert len(report.saved) == 3
    assert report.rejected == [("a3.txt", "too many files at once: at most 3 per upload")]


def test_rejects_empty_files_and_broken_or_huge_gzip(tmp_path):
    bomb = gzip.compress(b"\0" * 5000)
    files = [
        upload(tmp_path, "empty.txt", b""),
        upload(tmp_path, "broken.jsonl.gz", b"this is not gzip"),
        upload(tmp_path, "bomb.jsonl.gz", bomb),
        upload(tmp_path, "good.jsonl.gz", gzip.compress(b'{"title": "t", "text": "body"}\n')),
    ]
    report = save_uploads(files, tmp_path / "corpus", max_uncompressed=4000)
    assert [p.name for p in report.saved] == ["good.jsonl.gz"]
    reasons = dict(report.rejected)
    assert reasons["empty.txt"] == "empty file"
    assert reasons["broken.jsonl.gz"] == "not a valid gzip file"
    assert "decompressed" in reasons["bomb.jsonl.gz"]


def test_rejected_names_are_printable(tmp_path):
    report = save_uploads([upload(tmp_path, "../x\x1b[2J\x00.exe", "data")], tmp_path / "corpus")
    shown = report.rejected[0][0]
    assert shown.isprintable() and "/" not in shown and "\x00" not in shown


def test_nothing_given(tmp_path):
    report = save_uploads(None, tmp_path / "corpus")
    assert report.summary() == "No files received." and not report.stored
