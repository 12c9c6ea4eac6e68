"""Downloading shipped weights safely: bounded, checked against the record's SHA-256 before use, nothing left on failure.

``fetch(record, target)`` downloads ``record.url``:

- a ``.weights.h5`` file: at most the record's ``size`` bytes are read, the
  SHA-256 is checked, and only then is the file renamed to ``target``;
- a SavedModel's ``.tar.gz`` (``nnzoo.pretrained.pack``): the archive is read
  up to a bound set by the record's size, its SHA-256 is checked against the
  record's ``archive_sha256`` *before* it is opened, and it is extracted
  (plain files only, inside the target, at most the record's ``size`` bytes in
  all) into a scratch directory that is renamed to ``target`` at the end.

Whatever fails (an unreachable URL, a truncated or oversized download, a hash
that does not match, an archive that would expand past the record) leaves
nothing behind: the next call downloads again. Standard library only.
"""

import hashlib
import os
import shutil
import tarfile
import tempfile
import urllib.request
import zlib
from pathlib import Path, PurePosixPath

__all__ = ["fetch", "download", "extract", "archive_limit"]

_BLOCK = 1 << 20
#: Seconds a download may wait for the server to answer or send.
TIMEOUT = 60


def archive_limit(extracted_size):
    """The most bytes a ``.tar.gz`` of ``extracted_size`` bytes of files may take (tar headers and gzip's
    overhead on data that does not compress)."""
    return int(extracted_size) + int(extracted_size) // 100 + (1 << 20)


def fetch(record, target):
    """Download a weights record's file to ``target`` (a SavedModel: extracted into the directory ``target``).

    Returns:
        ``target``, whose bytes (a SavedModel: whose archive's bytes) match the
        record's SHA-256.

    Raises:
        OSError: the URL could not be read.
        ValueError: what was downloaded is not the published file (its size,
            its SHA-256, a broken archive); it was removed.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".nnzoo-download-", dir=target.parent) as scratch:
        scratch = Path(scratch)
        if not record.is_saved_model:
            download(record.url, scratch / record.file, limit=record.size, sha256=record.sha256)
            os.replace(scratch / record.file, target)
            return target
        if not getattr(record, "archive_sha256", None):
            raise ValueError(f"The weights record of {record.name!r} carries no archive_sha256, so its archive "
                             f"cannot be checked before it is opened; nothing was downloaded.")
        archive = scratch / record.archive
        download(record.url, archive, limit=archive_limit(record.size), sha256=record.archive_sha256)
        extract(archive, scratch / "extracted", limit=record.size, name=record.url)
        shutil.rmtree(target, ignore_errors=True)
        os.replace(scratch / "extracted", target)
        return target


def download(url, path, *, limit, sha256):
    """Write what ``url`` serves to ``path``, at most ``limit`` bytes, and check its SHA-256.

    Raises:
        OSError: the URL could not be read.
        ValueError: more than ``limit`` bytes, or another SHA-256; ``path`` is removed.
    """
    digest, received = hashlib.sha256(), 0
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT) as response, open(path, "wb") as out:
            for block in iter(lambda: response.read(_BLOCK), b""):
                received += len(block)
                if received > limit:
                    raise ValueError(f"{url} sent more than the {limit:,} bytes the record allows: it is not the "
                                     f"published file (the download was removed).")
                digest.update(block)
                out.write(block)
        if digest.hexdigest() != sha256:
            raise ValueError(f"{url} is not the published file: its SHA-256 is {digest.hexdigest()} ({received:,} "
                             f"bytes), the record says {sha256} (the download was removed).")
    except BaseException:
        Path(path).unlink(missing_ok=True)
        raise
    return path


def extract(archive, into, *, limit, name=None):
    """Extract the plain files of a ``.tar.gz`` into the new directory ``into``, at most ``limit`` bytes in all.

    ``name``: what messages call the archive (e.g. its URL; default its path).

    Raises:
        ValueError: a member that is not a plain file inside ``into`` (a link,
            a device, ``../``, an absolute path), more than ``limit`` bytes, or
            a truncated or corrupt archive; ``into`` is removed.
    """
    into = Path(into)
    name = name or str(archive)
    into.mkdir()
    total = 0
    try:
        with tarfile.open(archive, "r:gz") as tar:
            for member in tar:
                parts = PurePosixPath(member.name).parts
                if member.isdir():
                    continue
                if not member.isfile() or not parts or parts[0] == "/" or ".." in parts:
                    raise ValueError(f"{name} holds {member.name!r}, which is not a plain file inside "
                                     f"the archive (the download was removed).")
                total += member.size
                if total > limit:
                    raise ValueError(f"{name} expands to more than the record's {limit:,} bytes (the "
                                     f"download was removed).")
                destination = into.joinpath(*parts)
                destination.parent.mkdir(parents=True, exist_ok=True)
                with tar.extractfile(member) as source, open(destination, "xb") as out:
                    shutil.copyfileobj(source, out, _BLOCK)
    except (tarfile.TarError, EOFError, zlib.error, OSError) as err:
        shutil.rmtree(into, ignore_errors=True)
        raise ValueError(f"{name} is not a readable .tar.gz ({type(err).__name__}: {err}; the download "
                         f"was removed).") from None
    except BaseException:
        shutil.rmtree(into, ignore_errors=True)
        raise
    return into
