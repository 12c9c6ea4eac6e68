"""nnzoo.processes: calls in processes of their own, and what reaches the caller when one fails."""

import os
import signal
import subprocess
import sys

import pytest

from nnzoo import processes


@pytest.fixture(autouse=True)
def _processes_without_keras(monkeypatch):
    """These calls need no Keras: the spawned processes import nnzoo without its Keras side (no TensorFlow start-up)."""
    monkeypatch.setenv("_NNZOO_COMMAND_LINE", "1")


def test_every_call_runs_and_a_failure_is_raised_here_with_the_process_traceback():
    with pytest.raises(ValueError, match="invalid literal for int") as caught:
        processes.run_all([(int, ("7",)), (int, ("seven",))])
    assert any("Raised in the process running int" in note and "Traceback" in note for note in caught.value.__notes__)


def test_a_process_that_ends_without_an_exception_is_a_clear_error():
    with pytest.raises(ChildProcessError, match="exit code 3 and no exception"):
        processes.run_all([(os._exit, (3,))])


def test_a_killed_process_is_named_with_its_signal():
    with pytest.raises(ChildProcessError, match=r"killed by signal 9 \(SIGKILL\)"):
        processes.run_all([(signal.raise_signal, (signal.SIGKILL,))])


def test_a_script_without_a_main_guard_is_told_to_add_one(tmp_path):
    """Each spawned process imports the main module again; unguarded, it fails while starting."""
    script = tmp_path / "unguarded.py"
    script.write_text("import os\nfrom nnzoo import processes\n"
                      "os.environ['_NNZOO_COMMAND_LINE'] = '1'  # (import nnzoo took it) the processes skip Keras too\n"
                      "processes.run_all([(print, ('hello',))])\n")
    result = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120)
    assert result.returncode != 0 and "bootstrapping phase" in result.stderr  # multiprocessing's own error, above
    last_line = result.stderr.strip().splitlines()[-1]
    assert last_line.startswith("ChildProcessError") and 'if __name__ == "__main__":' in last_line, result.stderr
