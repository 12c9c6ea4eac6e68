"""Shipped trained weights: what each file scored, where it is found, and checking it.

``nnzoo/pretrained.json`` is the table: one record per network with shipped
weights (``nnzoo.card(name).weights``). Each set of weights is stored once, in
one of two formats: a ``NAME.weights.h5`` file, or, for the networks a server
would host, the TF-Serving SavedModel ``NAME/VERSION`` whose variables
``weights="mnist"`` loads. They are looked for, in order:

1. in the directory named by ``NNZOO_WEIGHTS_DIR``;
2. in the installed package's ``nnzoo/_weights/`` (``PACKAGE_DIR``: a wheel or
   ``pip install .`` carries every shipped file there; setup.py copies them
   from the checkout's ``savedmodels/``, checking each SHA-256);
3. in the source checkout's ``savedmodels/``;
4. in the Keras cache (``~/.keras/models``, or ``$KERAS_HOME/models``), where
   ``nnzoo.downloads`` puts them, downloaded from ``NNZOO_WEIGHTS_URL``
   (default ``BASE_URL``) the first time (a SavedModel as ``Weights.archive``,
   a ``.tar.gz`` that ``pack`` writes, checked against ``archive_sha256``
   before it is extracted).

Every file is checked against the SHA-256 on its record before it is loaded (a
SavedModel against ``nnzoo.files.tree_sha256`` of its directory); a corrupt or
modified file is an error that names it, never loaded. ``available(record)``
says whether a record's weights are on this machine (``nnzoo list
--pretrained`` marks the rows whose weights are not).

Example:

>>> import nnzoo
>>> nnzoo.list_models(pretrained=True)[:2]  # doctest: +SKIP
['conv1', 'conv1_nofc']
>>> nnzoo.card("network2").weights.test_accuracy  # doctest: +SKIP
0.9626
>>> model = nnzoo.build("network2", weights="mnist")  # doctest: +SKIP
"""

import dataclasses
import functools
import gzip
import json
import os
import shutil
import tarfile
import types
import warnings
from pathlib import Path
from typing import Mapping, Optional

from nnzoo import downloads, rundir, weights_io
from nnzoo.files import sha256, tree_sha256
from nnzoo.naming import natural_key
from nnzoo.rundir import RunDir, load_model_file

__all__ = ["Weights", "BASE_URL", "TAG", "FORMATS", "get", "names", "file_path", "local_path", "available", "places",
           "cache_dir", "pack", "packed_sha256", "sha256", "WeightsError"]

#: The one weights tag: trained on MNIST by the book's recipe.
TAG = "mnist"
#: Where a pip-installed nnzoo downloads the files from (``NNZOO_WEIGHTS_URL`` overrides it).
BASE_URL = "https://github.com/nnzoo/nnzoo/releases/download/weights-v1/"
TABLE = Path(__file__).with_name("pretrained.json")
#: Where an installed nnzoo (``pip install .``, a wheel) keeps the shipped weights: setup.py copies them there.
PACKAGE_DIR = Path(__file__).resolve().parent / "_weights"
CHECKOUT_DIR = Path(__file__).resolve().parent.parent / "savedmodels"
#: How a set of weights is stored: a Keras weights file, or a SavedModel version directory.
FORMATS = ("weights.h5", "savedmodel")
#: The networks a server would host: their weights ship as a TF-Serving SavedModel, not as a weights file.
SERVED = ("conv2_dropout", "conv2_dropout_ensemble")


class WeightsError(ValueError):
    """A weights file that is missing, corrupt or does not fit its network."""


@dataclasses.dataclass(frozen=True)
class Weights:
    """The record of one network's shipped weights.

    Attributes:
        name: the registry name.
        file: the file name (``NAME.weights.h5``), or for a SavedModel its
            version directory relative to the shelf (``NAME/VERSION``).
        sha256, size: the file's SHA-256 and size in bytes (a SavedModel's:
            ``nnzoo.files.tree_sha256`` and the bytes of its files).
        test_accuracy: accuracy (a fraction) of exactly these weights on the
            official 10,000 MNIST test images.
        experiment: the book experiment whose recipe trained them.
        protocol: how the run and epoch were picked (the book's protocol).
        selected_by: the number the protocol picked them by:
            ``{"split": ..., "accuracy": ...}`` (a fraction).
        run, runs: which run of how many (best of ``runs``).
        seed: the picked run's seed.
        epoch, epochs: the picked epoch (1-based) of the run's epochs.
        recipe: the training recipe (the card's, with the experiment's changes).
        hardware, wall_time_s, date, command: how they were made.
        format: one of ``FORMATS``.
        archive_sha256: a SavedModel's: the SHA-256 of its ``.tar.gz`` as
            ``pack`` writes it (``archive``), checked before it is extracted.
    """

    name: str
    file: str
    sha256: str
    size: int
    test_accuracy: float
    experiment: str
    protocol: str
    selected_by: Mapping
    run: int
    runs: int
    seed: int
    epoch: int
    epochs: int
    recipe: Mapping
    hardware: str
    wall_time_s: float
    date: str
    command: str
    format: str = "weights.h5"
    archive_sha256: Optional[str] = None

    def __post_init__(self):
        if self.format not in FORMATS:
            raise WeightsError(f"The weights record of {self.name!r} has an unknown format. Received: "
                               f"format={self.format!r}; expected one of {FORMATS}.")
        object.__setattr__(self, "selected_by", types.MappingProxyType(dict(self.selected_by)))
        object.__setattr__(self, "recipe", types.MappingProxyType(dict(self.recipe)))

    @property
    def is_saved_model(self):
        return self.format == "savedmodel"

    @property
    def archive(self):
        """The name of the file published at ``url``: the weights file, or the SavedModel's ``.tar.gz``."""
        return f"{self.file.replace('/', '-')}.savedmodel.tar.gz" if self.is_saved_model else self.file

    @property
    def url(self):
        """Where ``nnzoo.downloads`` downloads the weights from (``NNZOO_WEIGHTS_URL``, else ``BASE_URL``)."""
        base = os.environ.get("NNZOO_WEIGHTS_URL") or BASE_URL
        return base.rstrip("/") + "/" + self.archive

    def to_dict(self):
        out = {field.name: getattr(self, field.name) for field in dataclasses.fields(self)}
        out.update(selected_by=dict(self.selected_by), recipe=dict(self.recipe))
        return out


@functools.lru_cache(maxsize=None)
def _table():
    if not TABLE.exists():
        return {}
    try:
        rows = json.loads(TABLE.read_text())
    except json.JSONDecodeError as err:
        raise WeightsError(f"{TABLE} is not valid JSON ({err}). Restore it: git checkout {TABLE.name}") from err
    return {row["name"]: Weights(**row) for row in rows}


def get(name) -> Optional[Weights]:
    """The shipped weights' record of a network, or ``None`` when it has none."""
    return _table().get(name)


def names():
    """The networks with shipped weights, in ``nnzoo.list_models``'s natural order."""
    return sorted(_table(), key=natural_key)


def _verified(path, record):
    digest = tree_sha256(path) if record.is_saved_model else sha256(path)
    if digest != record.sha256:
        what = "SavedModel" if record.is_saved_model else "weights file"
        raise WeightsError(
            f"The {what} {str(path)!r} for {record.name!r} is corrupt or was modified: its SHA-256 is "
            f"{digest}, the record says {record.sha256}. Delete it (it is fetched again), or restore it "
            f"with git checkout."
        )
    return path


def _present(candidate, record):
    return weights_io.is_saved_model(candidate) if record.is_saved_model else candidate.is_file()


def _shelves():
    """The local directories looked in, in order: ``(what, directory)``."""
    env_dir = os.environ.get("NNZOO_WEIGHTS_DIR")
    return ([("NNZOO_WEIGHTS_DIR", Path(env_dir))] if env_dir else []) + [
        ("the installed package", PACKAGE_DIR), ("the checkout", CHECKOUT_DIR)]


def cache_dir():
    """The Keras cache's ``models/`` directory (``$KERAS_HOME/models``, else ``~/.keras/models``), where
    downloaded weights are kept."""
    return Path(os.environ.get("KERAS_HOME") or Path.home() / ".keras") / "models"


def _cached(record):
    """Where a download of the record is kept in the cache: the weights file, or the extracted SavedModel."""
    return cache_dir() / (record.archive[: -len(".tar.gz")] if record.is_saved_model else record.file)


def local_path(record):
    """The first local copy of a record's weights (unverified), or ``None``: see the module's search order."""
    for _, directory in _shelves():
        if _present(directory / record.file, record):
            return directory / record.file
    return _cached(record) if _present(_cached(record), record) else None


def available(record):
    """Whether a record's weights are on this machine (``local_path``), so ``weights="mnist"`` needs no download."""
    return local_path(record) is not None


def places(record):
    """The places ``file_path`` looks in, in words, for messages."""
    looked = [f"{what} ({directory})" for what, directory in _shelves()]
    if not os.environ.get("NNZOO_WEIGHTS_DIR"):
        looked.insert(0, "NNZOO_WEIGHTS_DIR (unset)")
    return looked + [f"the Keras cache ({cache_dir()})"]


def file_path(record):
    """The verified local path of a record's weights (a file or a SavedModel directory), downloading them if needed.

    Raises:
        WeightsError: the copy found is corrupt, or there is none and the
            download failed (what was downloaded is removed).
    """
    found = local_path(record)
    if found is not None:
        return _verified(found, record)
    try:
        return _verified(downloads.fetch(record, _cached(record)), record)
    except (OSError, ValueError) as err:  # urllib's, a hash or size mismatch, a bad archive
        if record.is_saved_model:  # an archive that matched its hash but not the record's files: removed too
            shutil.rmtree(_cached(record), ignore_errors=True)
        raise WeightsError(
            f"The weights of {record.name!r} ({record.file}) are not on this machine and could not be "
            f"downloaded. Looked in: {'; '.join(places(record))}; downloading {record.url} failed: {err} "
            f"To fix: install nnzoo from a wheel or a checkout (pip install nnzoo, or pip install . in a "
            f"checkout: both carry the shipped weights), put the {'SavedModel' if record.is_saved_model else 'file'} "
            f"under NNZOO_WEIGHTS_DIR, or set NNZOO_WEIGHTS_URL to where it is published."
        ) from None


def pack(record, into, source=None):
    """Write the ``.tar.gz`` of a SavedModel record, to publish at ``BASE_URL``; return its path.

    The archive holds the version directory's files at its top level, in sorted
    order, with zeroed times and owners: packing the same SavedModel twice gives
    the same bytes (``archive_sha256``). ``source``: the version directory
    (default: the record's verified copy, ``file_path``).
    """
    if not record.is_saved_model:
        raise ValueError(f"Only SavedModel records are packed; {record.name!r} ships {record.file} as it is.")
    source = Path(source) if source is not None else file_path(record)
    target = Path(into) / record.archive
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as zipped, \
            tarfile.open(fileobj=zipped, mode="w") as tar:
        for path in sorted(p for p in source.rglob("*") if p.is_file()):
            info = tar.gettarinfo(str(path), arcname=path.relative_to(source).as_posix())
            info.mtime, info.uid, info.gid, info.uname, info.gname, info.mode = 0, 0, 0, "", "", 0o644
            with open(path, "rb") as handle:
                tar.addfile(info, handle)
    return target


def packed_sha256(record, source):
    """The SHA-256 of ``pack``'s archive of the SavedModel version directory ``source`` (a record's
    ``archive_sha256``)."""
    import tempfile  # noqa: PLC0415

    with tempfile.TemporaryDirectory(prefix="nnzoo-pack-") as scratch:
        return sha256(pack(record, scratch, source=source))


def source(model_card, weights, overrides):
    """Check ``build``'s ``weights=`` before anything is built; return what to load (``None``: nothing).

    Returns a path (a file or a run directory) to load into the built model.
    """
    if weights is None:
        return None
    if weights == TAG:
        record = get(model_card.name)
        if record is None:
            raise ValueError(
                f"{model_card.name!r} has no shipped weights yet. Received: weights={weights!r}. Networks with "
                f"shipped weights (nnzoo.list_models(pretrained=True)): {names()}. Train it yourself with "
                f"`nnzoo train {model_card.name} --out runs/{model_card.name}`, then build it with "
                f"weights='runs/{model_card.name}'."
            )
        changed = sorted(k for k, v in overrides.items() if k in model_card.architecture
                         and rundir.as_record(v) != rundir.as_record(model_card.architecture[k]))
        if changed:
            raise ValueError(
                f"weights={TAG!r} are the weights of {model_card.name!r} as its card describes it; these overrides "
                f"change its architecture: {', '.join(f'{k}={overrides[k]!r}' for k in changed)}. Drop them, or "
                f"build without weights and train (nnzoo.train({model_card.name!r}, ...)). Training overrides "
                f"such as eta= or lmbda= are allowed with weights={TAG!r}."
            )
        return file_path(record)
    if isinstance(weights, (str, os.PathLike)):
        path = weights_io.checked_path(weights)
        if not path.exists():
            raise ValueError(
                f"Unknown weights. Received: weights={weights!r}, which is neither {TAG!r} nor an existing path. "
                f"Expected None, {TAG!r} (shipped weights; see nnzoo.list_models(pretrained=True)) or the path of "
                f"a .weights.h5 file, a .keras file, a run directory of `nnzoo train` or a SavedModel version "
                f"directory of `nnzoo export`."
            )
        return path
    raise ValueError(
        f"weights must be None, {TAG!r} or a path. Received: weights={weights!r} "
        f"(of type {type(weights).__name__})."
    )


def load_into(model, path, registered=()):
    """Load the weights at ``path`` (a file or a run directory) into a built model; return it.

    ``registered``: the registry's names (a ``.keras`` model of another of them is refused).
    """
    path = Path(path)
    members = [layer for layer in model.layers if layer.name.startswith("member_")]
    if path.is_dir() and members and rundir.existing(path, "member"):
        with weights_io.restored_on_failure(model):  # a member that does not fit leaves the others as they were
            return _load_members(model, members, path)
    if path.is_dir() and not weights_io.is_saved_model(path):
        path = run_weights(path)
    try:
        with warnings.catch_warnings():  # a shipped file holds no optimizer state; a compiled model starts afresh
            warnings.filterwarnings("ignore", message="Skipping variable loading for optimizer")
            return weights_io.load(model, path, registered=registered)
    except (ValueError, OSError) as err:
        raise WeightsError(
            f"Could not load {str(path)!r} into {model.name!r}: {err}"
            if str(path) not in str(err) else str(err)
        ) from err


def run_weights(run_dir):
    """The weights a run directory stands for (``rundir.RunDir.trained_weights``): its best run's weights at the
    protocol's epoch (``selected.weights.h5``), else its model file.
    """
    try:
        found = RunDir(run_dir).trained_weights()
    except ValueError as err:
        raise WeightsError(str(err)) from None
    if found is None:
        raise WeightsError(f"The run directory {str(run_dir)!r} holds no weights yet (no selected.weights.h5, "
                           f"model.keras or checkpoint). Train it first: nnzoo train NAME --out {run_dir}")
    return found


def _load_members(model, members, run_dir):
    """An ensemble's run directory: each member's final model (what its vote was measured on)."""
    for member, directory in zip(members, RunDir(run_dir).members(range(1, len(members) + 1))):
        member_dir, found = directory.path, directory.latest_model_file()
        if found is None:
            raise WeightsError(f"{member_dir} holds no trained model yet. Finish the ensemble's "
                               f"training first: nnzoo train {model.name} --out {run_dir}")
        trained = load_model_file(found, compile=False).get_weights()
        if [w.shape for w in trained] != [tuple(w.shape) for w in member.weights]:
            raise WeightsError(f"The weights in {str(found)!r} do not fit {model.name!r}'s {member.name}.")
        member.set_weights(trained)
    return model
