"""File facts nnzoo checks in several places: the SHA-256 of a file or of a directory's files."""

import hashlib
from pathlib import Path

__all__ = ["sha256", "tree_sha256", "tree_size"]


def sha256(path):
    """The SHA-256 hex digest of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def tree_sha256(directory):
    """One SHA-256 for a directory's files: of each file's relative POSIX path and SHA-256, in sorted order.

    It does not depend on file times or on how the directory was copied or archived.
    """
    directory = Path(directory)
    digest = hashlib.sha256()
    for path in sorted(p for p in directory.rglob("*") if p.is_file()):
        digest.update(f"{path.relative_to(directory).as_posix()}\0{sha256(path)}\n".encode())
    return digest.hexdigest()


def tree_size(directory):
    """The bytes of a directory's files, together."""
    return sum(p.stat().st_size for p in Path(directory).rglob("*") if p.is_file())
