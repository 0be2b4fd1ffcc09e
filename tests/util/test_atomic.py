"""Atomic writes of files and folders: the target is whole after success, untouched after a failure,
and no temporary file or folder is left beside it either way."""

from pathlib import Path

import pytest

from qa.util import atomic
from qa.util.atomic import atomic_write_folder, atomic_write_text, atomic_write_with, publish, swap_folder


def _fail(_tmp: Path) -> None:
    raise RuntimeError("disk full")


def _half_then_fail(folder: Path) -> None:
    (folder / "part").write_text("half")
    raise RuntimeError("disk full")


def test_a_file_is_replaced_whole_and_nothing_is_left_beside_it(tmp_path):
    target = tmp_path / "out.json"
    atomic_write_text(target, "old")
    atomic_write_with(target, lambda tmp: tmp.write_text("new"))
    assert target.read_text() == "new"
    assert [p.name for p in tmp_path.iterdir()] == ["out.json"]


def test_a_failed_file_write_keeps_the_old_file_and_leaves_no_temporary_file(tmp_path):
    target = tmp_path / "out.json"
    target.write_text("old")
    with pytest.raises(RuntimeError):
        atomic_write_with(target, lambda tmp: (tmp.write_text("half"), _fail(tmp)))
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.json"]
    with pytest.raises(RuntimeError):
        atomic_write_with(tmp_path / "new.json", _fail)
    assert [p.name for p in tmp_path.iterdir()] == ["out.json"]


def _fill(tmp: Path) -> None:
    (tmp / "model.bin").write_text("new weights")
    (tmp / "config.json").write_text("{}")


def test_a_folder_is_swapped_in_whole_and_the_old_one_goes(tmp_path):
    target = tmp_path / "models" / "reader"
    atomic_write_folder(target, lambda tmp: (tmp / "stale.bin").write_text("old"))  # makes the parents too
    atomic_write_folder(target, _fill)
    assert sorted(p.name for p in target.iterdir()) == ["config.json", "model.bin"]
    assert [p.name for p in target.parent.iterdir()] == ["reader"]


def test_a_failed_folder_write_keeps_the_old_folder_and_leaves_no_temporary_folder(tmp_path):
    target = tmp_path / "reader"
    atomic_write_folder(target, _fill)
    with pytest.raises(RuntimeError):
        atomic_write_folder(target, _half_then_fail)
    assert (target / "model.bin").read_text() == "new weights" and not (target / "part").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["reader"]
    with pytest.raises(RuntimeError):
        atomic_write_folder(tmp_path / "other", _half_then_fail)
    assert [p.name for p in tmp_path.iterdir()] == ["reader"]


def test_a_crash_between_the_two_renames_of_a_swap_leaves_the_previous_folder_aside(tmp_path, monkeypatch):
    target, built = tmp_path / "reader", tmp_path / "built"
    target.mkdir()
    (target / "model.bin").write_text("old")
    built.mkdir()
    (built / "model.bin").write_text("new")
    renames = []

    def second_rename_fails(src: Path, dst: Path) -> None:
        renames.append(src)
        if len(renames) == 2:
            raise OSError("power cut")
        src.rename(dst)

    monkeypatch.setattr(atomic, "publish", second_rename_fails)
    with pytest.raises(OSError):
        swap_folder(built, target)
    assert (tmp_path / "reader.old" / "model.bin").read_text() == "old" and not target.exists()
    monkeypatch.undo()
    swap_folder(built, target)  # the next swap clears what the crash left
    assert (target / "model.bin").read_text() == "new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["reader"]


def test_publishing_a_folder_onto_a_non_empty_one_keeps_the_one_there(tmp_path):
    first, second, target = tmp_path / "a", tmp_path / "b", tmp_path / "t"
    for folder, text in ((first, "first"), (second, "second")):
        folder.mkdir()
        (folder / "tokenizer.json").write_text(text)
    publish(first, target)
    with pytest.raises(OSError):
        publish(second, target)
    assert (target / "tokenizer.json").read_text() == "first"
