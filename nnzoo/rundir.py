"""The run directory of ``nnzoo.train``: ``RunDir``, the one owner of its layout, files, lock and records.

A run directory holds ``recipe.json`` (the resolved recipe), ``history.json``
(one entry per completed epoch), ``log.txt``, ``checkpoint-EPOCH.keras`` (the
last completed epoch, optimizer included), ``selected.weights.h5`` (the
weights at the epoch the protocol picks so far), and at the end
``model.keras`` and ``result.json``. Several runs live in ``run-1/`` ...
(``member-1/`` ... for an ensemble's members) beside a ``summary.json``.

Every file nnzoo writes there goes through ``write_bytes``: a temporary file
opened with ``O_CREAT | O_EXCL | O_NOFOLLOW``, renamed into place, so a kill
leaves the old file or the new one and a symbolic link planted in the
directory is refused (``LinkRefused``), never written through. Every record
read back is checked to be what nnzoo wrote (``RecordError`` names the file).
"""

import contextlib
import datetime
import errno
import fcntl
import io
import json
import os
import platform
import re
from pathlib import Path

from nnzoo.metadata import json_kind

__all__ = ["RunDir", "RECIPE", "HISTORY", "SUMMARY", "RESULT", "LOG", "MODEL", "SELECTED_WEIGHTS", "LOCK",
           "MODEL_FILES", "LinkRefused", "RecordError", "InUse", "write_bytes", "write_json", "as_record", "read_json",
           "read_record", "append_line", "model_bytes", "weights_bytes", "run_dir_model", "load_model_file",
           "is_run_dir", "lock", "checkpoint", "run_dirs", "member_dirs", "existing", "best_run_dir"]

RECIPE = "recipe.json"
HISTORY = "history.json"
SUMMARY = "summary.json"
RESULT = "result.json"
LOG = "log.txt"
MODEL = "model.keras"
LOCK = ".lock"
#: The weights at the epoch the protocol picks (what a shipped ``weights="mnist"`` file is).
SELECTED_WEIGHTS = "selected.weights.h5"
MODEL_FILES = (MODEL, "checkpoint-EPOCH.keras")
_MARKERS = (RECIPE, HISTORY, SUMMARY, "run-1", "member-1", LOCK)
_CHILD = re.compile(r"(run|member)-([1-9][0-9]*)")
_CHECKPOINT = re.compile(r"checkpoint-([0-9]+)\.keras")


class LinkRefused(ValueError):
    """A file nnzoo would write (or read as a record) in a run directory is a symbolic link."""


class RecordError(ValueError):
    """A record of a run directory is not what nnzoo wrote: another JSON type, or a path leading outside it."""


class InUse(RuntimeError):
    """Another process is training into the same run directory."""


# ----------------------------------------------------------------------------- safe files


def _refuse_link(path, doing="write"):
    if os.path.islink(path):
        raise LinkRefused(
            f"{str(path)!r} is a symbolic link (to {os.readlink(path)!r}); nnzoo does not {doing} through a link in "
            f"a run directory, so what it points to stays untouched. Remove the link (rm {path}) and re-run, or "
            f"choose another --out (out=)."
        )


def _open_nofollow(path, flags, mode=0o644):
    try:
        return os.open(path, flags | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0), mode)
    except OSError as err:
        if err.errno == errno.ELOOP or os.path.islink(path):
            _refuse_link(path)
        raise


def write_bytes(path, data):
    """Write ``data`` to ``path`` safely: into ``PATH.tmp`` (created anew, never through a link), then renamed.

    A kill leaves the old file or the new one; a failed write (a full disk)
    removes the temporary file and leaves the old file as it was.
    Raises ``LinkRefused`` when ``path`` or ``PATH.tmp`` is a symbolic link.
    """
    path = Path(path)
    _refuse_link(path)
    tmp = path.with_name(f"{path.name}.tmp")
    _refuse_link(tmp)
    with contextlib.suppress(FileNotFoundError):
        tmp.unlink()  # a temporary file left by a kill (not a link: checked above)
    try:
        handle = _open_nofollow(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL)
    except FileExistsError:  # planted between the check and the open
        _refuse_link(tmp)
        raise
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(handle, view):]
    except OSError as err:
        os.close(handle)
        tmp.unlink(missing_ok=True)
        raise OSError(err.errno, f"{err.strerror} while writing {path}; nothing was half written (the previous "
                                 f"file, if any, is as it was). Free some space, then re-run the same command to "
                                 f"resume") from None
    os.close(handle)
    os.replace(tmp, path)


def write_json(path, value):
    """Write JSON safely (``write_bytes``): a kill leaves the old file or the new one, never half of one."""
    write_bytes(path, json.dumps(value, indent=2, default=list).encode())


def as_record(value):
    """``value`` as ``write_json`` then ``read_json`` give it back (tuples as lists), to compare with a record."""
    return json.loads(json.dumps(value, default=list))


def append_line(path, line):
    """Append a line to a log file, never through a symbolic link."""
    handle = _open_nofollow(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
    with os.fdopen(handle, "a") as stream:
        stream.write(line + "\n")


def model_bytes(model):
    """A model's ``.keras`` archive, in memory (so that a failed write leaves no file open)."""
    from keras.src.saving import saving_lib  # noqa: PLC0415  (the writer model.save calls)

    buffer = io.BytesIO()
    saving_lib.save_model(model, buffer)
    return buffer.getvalue()


def weights_bytes(model):
    """A model's ``.weights.h5`` file, in memory: the bytes ``model.save_weights`` would write."""
    from keras.src.saving import saving_lib  # noqa: PLC0415  (the writer model.save_weights calls)

    buffer = io.BytesIO()
    store = saving_lib.H5IOStore(buffer, mode="w")
    try:
        saving_lib._save_state(model, weights_store=store, assets_store=None, inner_path="", visited_saveables=set())
    finally:
        store.close()
    return buffer.getvalue()


def read_json(path, what, fix="Restore it, or delete the run directory and train again.", expected=None):
    """Parse a JSON file; a broken one is a ValueError naming it, what it is and ``fix``.

    ``expected``: ``dict`` or ``list``, the JSON type the file must hold (``RecordError`` otherwise).
    """
    try:
        value = json.loads(Path(path).read_text())
    except json.JSONDecodeError as err:
        raise ValueError(f"{str(path)!r} ({what}) is not valid JSON: {err}. {fix}") from None
    except RecursionError:
        raise ValueError(f"{str(path)!r} ({what}) is nested too deeply to be a record nnzoo wrote. {fix}") from None
    if expected is not None and not isinstance(value, expected):
        raise RecordError(f"{str(path)!r} ({what}) holds {json_kind(value)}; expected "
                          f"{'an object' if expected is dict else 'a list'}. {fix}")
    return value


def read_record(path, what, expected, fix="Restore it, or delete the run directory and train again."):
    """A run directory's record: refused when a link, parsed, of the ``expected`` type; ``None`` when absent."""
    _refuse_link(path, "read a record")
    if not Path(path).is_file():
        return None
    return read_json(path, what, fix, expected=expected)


# ----------------------------------------------------------------------------- the run directory


def _file(name, doc=None):
    """A ``RunDir`` property: the path of its file ``name``."""
    return property(lambda self: self.path / name, doc=doc or f"``{name}`` in this directory.")


class RunDir:
    """A run directory of ``nnzoo.train``: its layout, files, lock and records, and the trained model it stands for.

    Layout: one run lives in the directory itself; the best of k runs in
    ``run-1/`` ... ``run-K/`` beside a ``summary.json`` naming the best; an
    ensemble's members in ``member-1/`` ... beside a ``summary.json``.

    Which epoch: a run directory stands for **the protocol's pick**, the best
    run's weights at the epoch its protocol selects (``selected.weights.h5``:
    network3's best validation epoch, network.py's and network2.py's peak
    epoch), which is what the zoo ships as ``weights="mnist"``. That epoch is
    often not the last one: ``model.keras`` (the final epoch, optimizer
    included) is kept to resume and extend the training, and gives the
    architecture. ``build(NAME, weights=DIR)``, ``nnzoo.load(DIR)``,
    ``nnzoo.load_weights(model, DIR)``, ``nnzoo export --weights DIR``,
    the plots and the release tool all read it through this class, so they
    mean the same weights. An ensemble stands for its members' final models
    (what its vote was measured on). A run without ``selected.weights.h5`` (one
    trained before 2026-11) stands for its model file.

    >>> RunDir("runs/conv2-seed0").runs(3)[0].path.name  # doctest: +SKIP
    'run-1'
    """

    def __init__(self, path):
        self.path = Path(path)

    def __repr__(self):
        return f"RunDir({str(self.path)!r})"

    def __fspath__(self):
        return str(self.path)

    def __eq__(self, other):
        return isinstance(other, RunDir) and other.path == self.path

    def __hash__(self):
        return hash(self.path)

    # -- files

    recipe_file = _file(RECIPE)
    history_file = _file(HISTORY)
    summary_file = _file(SUMMARY)
    result_file = _file(RESULT)
    log_file = _file(LOG)
    model_file = _file(MODEL, "The final model, ``model.keras`` (written when the run finishes).")
    selected_file = _file(SELECTED_WEIGHTS, "The weights at the epoch the protocol picks (what the zoo ships).")

    def checkpoint(self, epoch):
        """The checkpoint written after ``epoch`` epochs: ``checkpoint-EPOCH.keras``."""
        return self.path / f"checkpoint-{epoch}.keras"

    # -- layout

    def runs(self, count=None):
        """Where ``count`` runs of one recipe train (the directory itself for one); without ``count``, those present."""
        if count is None:
            return self._children("run")
        return [self] if count == 1 else [self.child(f"run-{index}") for index in range(1, count + 1)]

    def members(self, indices=None):
        """An ensemble's members (1-based ``indices``); without ``indices``, those present."""
        if indices is None:
            return self._children("member")
        return [self.child(f"member-{index}") for index in indices]

    def child(self, name):
        """The run or member directory ``name`` (``run-K`` or ``member-K`` only), never a symbolic link."""
        if not isinstance(name, str) or not _CHILD.fullmatch(name):
            raise RecordError(f"{name!r} is not a run of {str(self.path)!r}: expected run-K or member-K, a directory "
                              f"inside it.")
        child = self.path / name
        _refuse_link(child, "follow")
        return RunDir(child)

    def _children(self, kind):
        found = [p for p in self.path.glob(f"{kind}-*") if _CHILD.fullmatch(p.name) and p.is_dir()]
        return [self.child(p.name) for p in sorted(found, key=lambda p: int(p.name.split("-")[-1]))]

    @property
    def is_ensemble(self):
        """Whether this directory holds an ensemble's members."""
        return bool(self.members())

    def is_run_dir(self):
        """Whether the directory is empty or was made by ``nnzoo.train``."""
        return self.path.is_dir() and (not any(self.path.iterdir())
                                       or any(os.path.lexists(self.path / m) for m in _MARKERS))

    def make(self):
        """Create the directory (and its parents); a run or member directory that is a link is refused."""
        if _CHILD.fullmatch(self.path.name):
            _refuse_link(self.path, "follow")
        self.path.mkdir(parents=True, exist_ok=True)
        return self

    # -- records

    def recipe(self):
        """``recipe.json`` (an object), or ``None`` before the run began."""
        return read_record(self.recipe_file, "a run's recipe", dict)

    def history(self):
        """``history.json``: one object per completed epoch (``[]`` before the first)."""
        history = read_record(self.history_file, "a run's history", list)
        if history is None:
            return []
        if not all(isinstance(entry, dict) for entry in history):
            raise RecordError(f"{str(self.history_file)!r} (a run's history) holds a list of other things than "
                              f"objects; expected one object per epoch. Restore it, or delete the run directory and "
                              f"train again.")
        return history

    def epochs_done(self):
        """The completed epochs (0 for a missing or broken history: the run itself reports a broken one)."""
        try:
            return len(self.history())
        except ValueError:
            return 0

    def summary(self):
        """``summary.json`` of several runs or an ensemble (an object), or ``None``."""
        return read_record(self.summary_file, "a runs summary", dict,
                           "Delete it and re-run `nnzoo train` with the same --out to rewrite it.")

    def result(self):
        """``result.json`` of a finished run (an object), or ``None``."""
        return read_record(self.result_file, "a run's result", dict)

    def write_json(self, name, value):
        """Write the record ``name`` (e.g. ``RECIPE``) of this directory safely."""
        write_json(self.path / name, value)

    def log(self, line):
        """Append ``line`` to ``log.txt``."""
        append_line(self.log_file, line)

    # -- weights and models

    def save_model(self, model, path):
        """Save ``model`` as a ``.keras`` archive at ``path`` in this directory, safely."""
        write_bytes(path, model_bytes(model))

    def save_checkpoint(self, model, epoch):
        self.save_model(model, self.checkpoint(epoch))

    def save_selected(self, model):
        """Write the model's weights as ``selected.weights.h5`` (built in memory, then written safely)."""
        write_bytes(self.selected_file, weights_bytes(model))

    def latest_model_file(self):
        """``model.keras``, else the checkpoint ``history.json`` points to, else the latest checkpoint; or ``None``.

        The history is written after its checkpoint, so ``checkpoint-{len(history)}.keras``
        is complete even when a later checkpoint was cut short.
        """
        if self.model_file.is_file():
            return self.model_file
        if self.history_file.is_file():
            pointed = self.checkpoint(len(self.history()))
            return pointed if pointed.is_file() else None
        checkpoints = [p for p in self.path.glob("checkpoint-*.keras") if _CHECKPOINT.fullmatch(p.name)]
        return max(checkpoints, key=lambda p: int(_CHECKPOINT.fullmatch(p.name)[1]), default=None)

    def best_run(self):
        """The run this directory stands for: itself for one run, else the best run ``summary.json`` names.

        Raises ``RecordError`` naming the summary when it names no run of this directory.
        """
        if self.history_file.is_file() or not self.runs():
            return self
        summary = self.summary()
        if summary is None:
            return self
        try:
            best = summary.get("best_run", 0)
            name = Path(summary["runs"][best]["run_dir"]).name if "runs" in summary else f"run-{best + 1}"
        except (AttributeError, KeyError, IndexError, TypeError) as err:
            raise RecordError(f"{str(self.summary_file)!r} is not a summary nnzoo wrote ({type(err).__name__}: {err}); "
                              f"delete it and re-run `nnzoo train` with the same --out to rewrite it.") from None
        if not isinstance(name, str) or not re.fullmatch(r"run-[1-9][0-9]*", name):
            raise RecordError(f"{str(self.summary_file)!r} names {name!r} as the best run; expected run-K, a run "
                              f"inside {str(self.path)!r}. Delete it and re-run `nnzoo train` with the same --out to "
                              f"rewrite it.")
        return self.child(name)

    def selected_epoch(self):
        """The epoch (0-based) the protocol picked in the best run (its ``result.json``), or ``None`` before it ended."""
        result = self.best_run().result()
        return None if result is None else result.get("best_epoch")

    def trained_weights(self):
        """The file of the trained model's weights (see the class docstring): the best run's
        ``selected.weights.h5``, else its model file; ``None`` when it has none yet."""
        run = self.best_run()
        _refuse_link(run.selected_file, "read weights")
        return run.selected_file if run.selected_file.is_file() else run.latest_model_file()

    def load_model(self, compile=True, read=None):
        """The trained model as a ``keras.Model``: the best run's model file with its selected weights.

        ``read``: the function that loads a ``.keras`` file (default ``load_model_file``).
        Raises ``ValueError`` when the directory holds no model yet.
        """
        import warnings  # noqa: PLC0415

        run = self.best_run()
        found = run.latest_model_file()
        if found is None:
            raise ValueError(f"The directory {str(self.path)!r} holds neither {' nor '.join(MODEL_FILES)}. Expected "
                             f"a .keras file or a run directory.")
        model = (read or load_model_file)(found, compile=compile)
        weights = self.trained_weights()
        if weights is not None and weights != found:
            with warnings.catch_warnings():  # a compile=False model has no optimizer to restore
                warnings.filterwarnings("ignore", message="Skipping variable loading for optimizer")
                model.load_weights(weights)
        return model

    def member_model_files(self):
        """An ensemble's members' final models (what its vote was measured on); ``None`` for one not trained yet."""
        return [member.latest_model_file() for member in self.members()]

    # -- lock

    @contextlib.contextmanager
    def lock(self):
        """Hold ``.lock`` while a process trains here (released when it exits, even killed; removed after)."""
        path = self.path / LOCK
        while True:
            handle = _open_nofollow(path, os.O_RDWR | os.O_CREAT)
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                owner = os.read(handle, 64).decode(errors="replace").strip() or "unknown"
                os.close(handle)
                raise InUse(f"{self.path} is in use by another nnzoo train (pid {owner}). Wait for it to finish, "
                            f"or stop it; then re-run to resume.") from None
            try:
                same = os.path.samestat(os.fstat(handle), os.lstat(path))
            except FileNotFoundError:  # removed by the holder that just finished
                same = False
            if same:
                break
            os.close(handle)
        try:
            os.ftruncate(handle, 0)
            os.write(handle, str(os.getpid()).encode())
            yield
        finally:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
            os.close(handle)


# ----------------------------------------------------------------------------- functions of one path


def checkpoint(run_dir, epoch):
    """The checkpoint written after ``epoch`` epochs: ``checkpoint-EPOCH.keras``."""
    return RunDir(run_dir).checkpoint(epoch)


def run_dirs(out, runs):
    """Where ``runs`` runs of one recipe train: ``out`` itself for one run, else ``out/run-1`` ... ``out/run-K``."""
    return [run.path for run in RunDir(out).runs(runs)]


def member_dirs(out, indices):
    """An ensemble's members' run directories: ``out/member-1`` ... (1-based ``indices``)."""
    return [member.path for member in RunDir(out).members(indices)]


def existing(out, kind="run"):
    """The ``run-k`` (``kind="run"``) or ``member-k`` directories under ``out``, in order of k."""
    return [run.path for run in RunDir(out)._children(kind)]


def best_run_dir(out):
    """The run directory ``out/summary.json`` names as the best of several runs, or ``None`` without a summary.

    Raises ``ValueError`` naming the file when the summary is not one nnzoo wrote.
    """
    if not (Path(out) / SUMMARY).is_file():
        return None
    return RunDir(out).best_run().path


def is_run_dir(directory):
    """Whether ``directory`` is empty or was made by ``nnzoo.train``."""
    return RunDir(directory).is_run_dir()


def run_dir_model(directory):
    """A run directory's final ``model.keras``, else the checkpoint its ``history.json`` points to (``RunDir``)."""
    return RunDir(directory).latest_model_file()


def lock(directory):
    """Hold ``directory/.lock`` for as long as a process trains into it (``RunDir.lock``)."""
    return RunDir(directory).lock()


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
