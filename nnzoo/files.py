"""File facts nnzoo checks in several places: the SHA-256 of a file."""

import hashlib

__all__ = ["sha256"]


def sha256(path):
    """The SHA-256 hex digest of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
