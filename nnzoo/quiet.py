"""TensorFlow's C++ start-up lines, hidden where nnzoo starts TensorFlow for a person at a terminal.

TensorFlow 2.21 writes ~13 lines through absl straight to file descriptor 2 when it loads and again
when its runtime starts (oneDNN, CUDA probes, CPU features, ``E0000 ... failed call to cuInit``),
and ``TF_CPP_MIN_LOG_LEVEL`` no longer silences all of them. The ``nnzoo`` commands and the recipes
route descriptor 2 through a filter that drops those lines and forwards every other byte at once
(progress bars included); child processes inherit it. They are shown with ``-v``/``--verbose`` or
with ``TF_CPP_MIN_LOG_LEVEL=0``. Fatal lines (``F...``) always pass. Importing nnzoo as a library
touches nothing: only the command line and the recipe scripts ask for this.

This module uses the standard library only, so it is imported before TensorFlow.
"""

import atexit
import contextlib
import os
import re
import select
import sys
import threading
from pathlib import Path

__all__ = ["wanted", "hide_native_logs", "hide_for_the_process", "is_recipe_script"]

# absl's format: "I0000 00:00:1796... 123 port.cc:153] ..." (info, warning, error; never fatal), its
# notice before logging starts, and cpu_feature_guard's second line.
_NATIVE_LOG_LINE = re.compile(rb"^([IWE]\d{4} \d\d:\d\d:\d+\.\d+ +\d+ [^ ]+:\d+\]|WARNING: All log messages before "
                              rb"absl::InitializeLog\(\)|To enable the following instructions: .* rebuild TensorFlow)")
_PREFIXES = (b"WARNING: All log", b"To enable the following", b"I0", b"W0", b"E0")
_VERBOSE_FLAGS = ("-v", "--verbose")


def wanted(argv=None):
    """Whether to hide the lines: not when ``-v``/``--verbose`` is among ``argv`` or TF_CPP_MIN_LOG_LEVEL is 0."""
    argv = sys.argv[1:] if argv is None else argv
    return not any(flag in argv for flag in _VERBOSE_FLAGS) and os.environ.get("TF_CPP_MIN_LOG_LEVEL") != "0"


def is_recipe_script(path):
    """Whether ``path`` (a script's ``sys.argv[0]``) is one of nnzoo's recipes: a ``.py`` file in a
    ``recipes`` directory beside the main job ``ch1_network.py``."""
    try:
        script = Path(path).resolve()
    except (OSError, RuntimeError, ValueError):
        return False
    return (script.suffix == ".py" and script.parent.name == "recipes"
            and (script.parent / "ch1_network.py").is_file())


def _could_be_native_log(start):
    """Whether an unfinished line may still turn out to be one of TensorFlow's log lines."""
    return bool(re.match(rb"^[IWE]\d{4} ", start)) or any(prefix.startswith(start[:len(prefix)])
                                                          for prefix in _PREFIXES)


class _Filter:
    """Descriptor 2 replaced by a pipe that a thread reads, forwarding what is not a TensorFlow log line."""

    def __init__(self):
        sys.stderr.flush()
        self.real = os.dup(2)
        self.read_end, write_end = os.pipe()
        os.dup2(write_end, 2)
        os.close(write_end)
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._pump, name="nnzoo-stderr-filter", daemon=True)
        self.thread.start()

    def _forward(self, pending, chunk):
        pending += chunk
        *lines, pending = pending.split(b"\n")
        for line in lines:
            if not _NATIVE_LOG_LINE.match(line):
                os.write(self.real, line + b"\n")
        if pending and not _could_be_native_log(pending):
            os.write(self.real, pending)
            pending = b""
        return pending

    def _pump(self):
        pending = b""
        while True:
            # Poll, so that a child process still holding the pipe open never keeps this process from ending.
            readable, _, _ = select.select([self.read_end], [], [], 0.1)
            if not readable:
                if self.stopping.is_set():
                    break
                continue
            chunk = os.read(self.read_end, 65536)
            if not chunk:
                break
            pending = self._forward(pending, chunk)
        if pending and not _NATIVE_LOG_LINE.match(pending):
            os.write(self.real, pending)

    def close(self):
        sys.stderr.flush()
        os.dup2(self.real, 2)  # this process's last write end: the pump drains what is left and stops
        self.stopping.set()
        self.thread.join(timeout=5)
        os.close(self.read_end)
        os.close(self.real)


@contextlib.contextmanager
def hide_native_logs(enabled=True):
    """Drop TensorFlow's C++ log lines from file descriptor 2 inside the block (``enabled=False``: no-op)."""
    if not enabled:
        yield
        return
    hidden = _Filter()
    try:
        yield
    finally:
        hidden.close()


_PROCESS_FILTER = []


def hide_for_the_process():
    """Hide the lines from now until the process ends (a script's start, before TensorFlow loads); once."""
    if _PROCESS_FILTER:
        return
    _PROCESS_FILTER.append(_Filter())
    atexit.register(_PROCESS_FILTER[0].close)
