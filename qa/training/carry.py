"""What a lent GPU machine needs that its image lacks, in pieces small enough to travel.

The GPU machine is offline and each call to it takes at most 64 MiB of files along, but the
teacher's base alone is 438 MB (219 MB in fp16). ``pack`` puts the base models and the training
data in one tar cut into numbered pieces, one folder each; a call carries one piece folder and
``receive`` adds it to a stash on the machine, which stays between calls while the machine is warm.
When the last piece arrives the tar is checked against its SHA-256 and unpacked there. Results come
back the same way, at most 16 MiB a file (``split_file``; ``join_files`` puts them together).
"""

from __future__ import annotations

import hashlib
import json
import math
import shutil
import tarfile
from pathlib import Path

from qa.training.teacher import join_files

BUNDLE = "bundle.tar"
MANIFEST = "bundle.json"


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def split_file(path: Path, into: Path, piece_bytes: int) -> list[Path]:
    """``path`` cut into ``into/<name>.000``, ``.001``, … of ``piece_bytes`` at most."""
    into.mkdir(parents=True, exist_ok=True)
    size = path.stat().st_size
    out = []
    with open(path, "rb") as f:
        for k in range(max(1, math.ceil(size / piece_bytes))):
            piece = into / f"{path.name}.{k:03d}"
            piece.write_bytes(f.read(piece_bytes))
            out.append(piece)
    return out


def pack(sources: dict[str, Path], into: Path, piece_bytes: int) -> list[Path]:
    """Tar ``sources`` (name in the tar -> file or folder) and cut it into ``into/piece-000``, … folders."""
    into.mkdir(parents=True, exist_ok=True)
    tar_path = into / BUNDLE
    with tarfile.open(tar_path, "w") as tar:
        for name, src in sources.items():
            tar.add(src, arcname=name)
    manifest = {"sha256": sha256(tar_path), "bytes": tar_path.stat().st_size}
    pieces = split_file(tar_path, into / "all", piece_bytes)
    manifest["pieces"] = len(pieces)
    folders = []
    for k, piece in enumerate(pieces):
        folder = into / f"piece-{k:03d}"
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir()
        piece.rename(folder / piece.name)
        (folder / MANIFEST).write_text(json.dumps(manifest) + "\n")
        folders.append(folder)
    tar_path.unlink()
    (into / "all").rmdir()
    return folders


def receive(piece: Path, stash: Path) -> bool:
    """Add one carried piece folder to ``stash``; with the last one, check and unpack the bundle there."""
    incoming = stash / "incoming"
    incoming.mkdir(parents=True, exist_ok=True)
    for f in piece.iterdir():
        shutil.copy2(f, incoming / f.name)
    manifest = json.loads((incoming / MANIFEST).read_text())
    pieces = sorted(incoming.glob(f"{BUNDLE}.*"))
    if len(pieces) < manifest["pieces"]:
        return False
    tar_path = stash / BUNDLE
    join_files(pieces, tar_path)
    if sha256(tar_path) != manifest["sha256"]:
        raise ValueError(f"{tar_path}: the joined pieces do not match the packed bundle")
    with tarfile.open(tar_path) as tar:
        tar.extractall(stash, filter="data")
    tar_path.unlink()
    shutil.rmtree(incoming)
    return True


def half_copy(model_dir: Path, out: Path) -> Path:
    """A copy of a model folder with its float weights in fp16: half the bytes to carry, loaded back in fp32."""
    from safetensors.torch import load_file, save_file

    out.mkdir(parents=True, exist_ok=True)
    for f in model_dir.iterdir():
        if f.is_file() and f.suffix != ".safetensors":
            shutil.copy2(f, out / f.name)
    for f in model_dir.glob("*.safetensors"):
        tensors = {k: (v.half() if v.is_floating_point() else v) for k, v in load_file(f).items()}
        save_file(tensors, out / f.name, metadata={"format": "pt"})
    return out
