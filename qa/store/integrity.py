"""A version's manifest and the checks that it and its files are whole.

The manifest records the size and sha256 of every file of its version, and a checksum of itself.
Every load checks that each file is there with its recorded size (truncation is the usual damage:
a full disk, an interrupted copy) and the sha256 of the smallest files up to ``VERIFY_HASH_BUDGET``
bytes in all, so an index of up to ~100k chunks is fully hashed (sha256 runs at 1-2 GB/s) while a
million-chunk one (1.5 GB of vectors alone) still loads without reading everything twice;
``full=True`` hashes it all. Damage, and any file that fails to parse, raises ``IndexCorrupt`` (a
``ValueError``) saying which file and how to rebuild. Indexes written before checksums are checked
for structure only.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from qa.util.errors import first_line

MANIFEST = "manifest.json"
VERIFY_HASH_BUDGET = 256 << 20  # bytes hashed on every load, smallest files first; the rest: sizes only
_HASH_BLOCK = 1 << 20


class IndexCorrupt(ValueError):
    """An index version that fails its checks: a file missing, cut short, unparsable, or not
    matching the checksum its manifest recorded. A ``ValueError``, so the CLI prints it in one line."""

    def __init__(self, root: Path, detail: str) -> None:
        self.root = Path(root)
        self.detail = detail
        super().__init__(f"index at {root} is damaged ({detail}): delete {root} and run `qa index` "
                         f"to rebuild it")


def damaged(version: Path, detail: str) -> IndexCorrupt:
    """``IndexCorrupt`` for the index a version folder belongs to, naming the version."""
    return IndexCorrupt(version.parent, f"{version.name}: {detail}")


def read_manifest(version: Path) -> dict:
    """The manifest, parsed and matched against its own checksum."""
    try:
        manifest = json.loads((version / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise damaged(version, f"{MANIFEST} cannot be read ({first_line(exc)}): cut short?") from exc
    if not isinstance(manifest, dict):
        raise damaged(version, f"{MANIFEST} is not a JSON object")
    recorded = manifest.get("checksum")
    if recorded != (manifest_checksum(manifest) if recorded is not None or "files" in manifest else None):
        raise damaged(version, f"{MANIFEST} does not match its checksum")  # ``seal_manifest`` records both
    return manifest


def seal_manifest(version: Path, manifest: dict, vectors: dict) -> None:
    """Write the manifest of a finished version: ``manifest`` with the vector store's ``vectors``
    entry, every file's size and sha256, and its own checksum."""
    sealed = {k: v for k, v in manifest.items() if k not in ("files", "checksum", "vectors")}
    sealed["vectors"] = vectors
    sealed["files"] = _file_sums(version)
    sealed["checksum"] = manifest_checksum(sealed)
    (version / MANIFEST).write_text(json.dumps(sealed, indent=2) + "\n", encoding="utf-8")


def check_files(version: Path, manifest: dict, full: bool) -> dict:
    """Every recorded file present with its size; sha256 of all (``full``) or of the smallest
    up to ``VERIFY_HASH_BUDGET`` bytes. Returns what was checked; ``IndexCorrupt`` on damage."""
    files = manifest.get("files")
    if not isinstance(files, dict):  # written before checksums: parsing is the only check
        return {"files": 0, "hashed": 0, "bytes_hashed": 0, "checksums": False}
    sizes = {}
    for name, meta in files.items():
        path = version / name
        try:
            size = path.stat().st_size
        except FileNotFoundError:
            raise damaged(version, f"{name} is missing") from None
        if size != meta.get("bytes"):
            how = "cut short" if size < meta.get("bytes", 0) else "grown"
            raise damaged(version, f"{name} is {size:,} bytes, {meta.get('bytes'):,} expected: {how}")
        sizes[name] = size
    hashed, hashed_bytes, budget = 0, 0, None if full else VERIFY_HASH_BUDGET
    for name in sorted(sizes, key=lambda n: (sizes[n], n)):
        if budget is not None and hashed_bytes + sizes[name] > budget:
            break
        if _sha256(version / name) != files[name].get("sha256"):
            raise damaged(version, f"{name} does not match its sha256: corrupted")
        hashed, hashed_bytes = hashed + 1, hashed_bytes + sizes[name]
    return {"files": len(sizes), "hashed": hashed, "bytes_hashed": hashed_bytes,
            "bytes": sum(sizes.values()), "checksums": True}


def manifest_checksum(manifest: dict) -> str:
    """sha256 of the manifest's canonical JSON, its own checksum left out."""
    body = {k: v for k, v in manifest.items() if k != "checksum"}
    return hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode("ascii")).hexdigest()


def fsync_tree(folder: Path) -> None:
    """Flush every file and folder under ``folder`` to disk."""
    for path in sorted(folder.rglob("*"), key=lambda p: -len(p.parts)) + [folder]:
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(_HASH_BLOCK):
            digest.update(block)
    return digest.hexdigest()


def _file_sums(version: Path) -> dict[str, dict]:
    """Size and sha256 of every file of a version (paths relative to it), for the manifest."""
    sums = {}
    for path in sorted(p for p in version.rglob("*") if p.is_file() and p.name != MANIFEST):
        sums[path.relative_to(version).as_posix()] = {"bytes": path.stat().st_size, "sha256": _sha256(path)}
    return sums
