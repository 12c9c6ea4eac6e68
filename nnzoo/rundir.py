"""The run directory of ``nnzoo.train``: its files, and reading them safely.

A run directory holds ``recipe.json`` (the resolved recipe), ``history.json``
(one entry per completed epoch), ``log.txt``, ``checkpoint-EPOCH.keras`` (the
last completed epoch, optimizer included), ``selected.weights.h5`` (the
weights at the epoch the protocol picks so far), and at the end
``model.keras`` and ``result.json``. Several runs live in ``run-1/`` ...
(``member-1/`` ... for an ensemble's members) beside a ``summary.json``.
JSON files are written atomically (a temporary file renamed into place).
"""

import contextlib
import datetime
import fcntl
import json
import os
import platform
from pathlib import Path

__all__ = ["RECIPE", "HISTORY", "SUMMARY", "SELECTED_WEIGHTS", "MODEL_FILES", "write_json", "read_json",
           "run_dir_model", "load_model_file", "is_run_dir", "lock", "InUse", "checkpoint", "run_dirs",
           "member_dirs", "existing", "best_run_dir"]

RECIPE = "recipe.json"
HISTORY = "history.json"
SUMMARY = "summary.json"
#: The weights at the epoch the protocol picks (what a shipped ``weights="mnist"`` file is).
SELECTED_WEIGHTS = "selected.weights.h5"
MODEL_FILES = ("model.keras", "checkpoint-EPOCH.keras")
_MARKERS = (RECIPE, HISTORY, SUMMARY, "run-1", "member-1", ".lock")


def checkpoint(run_dir, epoch):
    """The checkpoint written after ``epoch`` epochs: ``checkpoint-EPOCH.keras``."""
    return Path(run_dir) / f"checkpoint-{epoch}.keras"


def run_dirs(out, runs):
    """Where ``runs`` runs of one recipe train: ``out`` itself for one run, else ``out/run-1`` ... ``out/run-K``."""
    out = Path(out)
    return [out] if runs == 1 else [out / f"run-{index}" for index in range(1, runs + 1)]


def member_dirs(out, indices):
    """An ensemble's members' run directories: ``out/member-1`` ... (1-based ``indices``)."""
    return [Path(out) / f"member-{index}" for index in indices]


def existing(out, kind="run"):
    """The ``run-k`` (``kind="run"``) or ``member-k`` directories under ``out``, in order of k."""
    found = [p for p in Path(out).glob(f"{kind}-*") if p.is_dir() and p.name.split("-")[-1].isdigit()]
    return sorted(found, key=lambda p: int(p.name.split("-")[-1]))


def best_run_dir(out):
    """The run directory ``out/summary.json`` names as the best of several runs, or ``None`` without a summary.

    Raises ``ValueError`` naming the file when the summary is not one nnzoo wrote.
    """
    summary_path = Path(out) / SUMMARY
    if not summary_path.is_file():
        return None
    summary = read_json(summary_path, "a runs summary")
    try:
        best = summary.get("best_run", 0)
        name = Path(summary["runs"][best]["run_dir"]).name if "runs" in summary else f"run-{best + 1}"
    except (AttributeError, KeyError, IndexError, TypeError) as err:
        raise ValueError(f"{summary_path} is not a summary nnzoo wrote ({type(err).__name__}: {err}); delete it "
                         f"and re-run `nnzoo train` with the same --out to rewrite it.") from None
    return Path(out) / name


def write_json(path, value):
    """Write JSON atomically: a kill leaves the old file or the new one, never half of one."""
    tmp = Path(f"{path}.tmp")
    tmp.write_text(json.dumps(value, indent=2, default=list))
    os.replace(tmp, path)


def is_run_dir(directory):
    """Whether ``directory`` is empty or was made by ``nnzoo.train``."""
    directory = Path(directory)
    return directory.is_dir() and (not any(directory.iterdir()) or any((directory / m).exists() for m in _MARKERS))


def run_dir_model(directory):
    """A run directory's final ``model.keras``, else the checkpoint its ``history.json`` points to.

    The history is written after its checkpoint, so ``checkpoint-{len(history)}.keras``
    is complete even when a later checkpoint was cut short; without a history
    the latest checkpoint is taken.
    """
    directory = Path(directory)
    if (directory / "model.keras").is_file():
        return directory / "model.keras"
    history_path = directory / "history.json"
    if history_path.is_file():
        epochs = len(read_json(history_path, "a run's history"))
        pointed = checkpoint(directory, epochs)
        return pointed if pointed.is_file() else None
    checkpoints = [p for p in directory.glob("checkpoint-*.keras") if p.stem.split("-")[-1].isdigit()]
    return max(checkpoints, key=lambda p: int(p.stem.split("-")[-1]), default=None)


def read_json(path, what, fix="Restore it, or delete the run directory and train again."):
    """Parse a JSON file; a broken one is a ValueError naming it, what it is and ``fix``."""
    try:
        return json.loads(Path(path).read_text())
    except json.JSONDecodeError as err:
        raise ValueError(f"{str(path)!r} ({what}) is not valid JSON: {err}. {fix}") from None


def load_model_file(path, compile=True):
    """``keras.models.load_model`` with nnzoo's objects registered, and errors that name the file."""
    import zipfile  # noqa: PLC0415

    import keras  # noqa: PLC0415  (the rest of this module is plain files)

    import nnzoo  # noqa: PLC0415

    nnzoo._import_keras_side()  # its costs, layers and BookModel, for Keras to find by name
    in_run = is_run_dir(Path(path).parent)
    fix = ("Delete it; the run directory then falls back to its last good checkpoint or trains that epoch again."
           if in_run else "Save the model again (model.save) or copy the file again.")
    if Path(path).is_file() and not zipfile.is_zipfile(path):
        raise ValueError(
            f"{str(path)!r} is not a readable .keras model (truncated, corrupt or not a Keras archive). {fix}"
        )
    try:
        return keras.models.load_model(path, compile=compile)
    except (zipfile.BadZipFile, EOFError, KeyError, OSError) as err:  # a zip cut short inside
        if not Path(path).is_file():
            raise
        raise ValueError(
            f"{str(path)!r} is not a readable .keras model (truncated or corrupt: {type(err).__name__}: "
            f"{str(err)[:200]}). {fix}"
        ) from err


class InUse(RuntimeError):
    """Another process is training into the same run directory."""


@contextlib.contextmanager
def lock(directory):
    """Hold ``directory/.lock`` for as long as a process trains into it (released when it exits, even killed)."""
    path = Path(directory) / ".lock"
    handle = open(path, "a+")
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            owner = handle.read().strip() or "unknown"
            raise InUse(f"{directory} is in use by another nnzoo train (pid {owner}). Wait for it to finish, "
                        f"or stop it; then re-run to resume.") from None
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        yield
    finally:
        handle.close()


def hardware():
    """A one-line description of the machine and the Keras backend."""
    import keras  # noqa: PLC0415

    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as handle:
            cpu = next(line.split(":", 1)[1].strip() for line in handle if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return (f"{cpu}, {os.cpu_count()} cores; Keras {keras.__version__} ({keras.backend.backend()} backend), "
            f"Python {platform.python_version()}")


def today():
    """Today's UTC date, as the records write it."""
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d")
