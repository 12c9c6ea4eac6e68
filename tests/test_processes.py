"""nnzoo.processes: calls in processes of their own, and what reaches the caller when one fails."""

import os

import pytest

from nnzoo import processes


def test_every_call_runs_and_a_failure_is_raised_here_with_the_process_traceback():
    with pytest.raises(ValueError, match="invalid literal for int") as caught:
        processes.run_all([(int, ("7",)), (int, ("seven",))])
    assert any("Raised in the process running int" in note and "Traceback" in note for note in caught.value.__notes__)


def test_a_process_that_ends_without_an_exception_is_a_clear_error():
    with pytest.raises(ChildProcessError, match="exit code 3 and no exception"):
        processes.run_all([(os._exit, (3,))])
