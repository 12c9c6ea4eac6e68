"""Run calls in processes of their own, all at once: how ``nnzoo.train(..., processes=k)`` trains its runs.

Each call runs in a fresh (``spawn``) process, so the backend starts there anew with its own thread pools,
and the process ends when the one that started it does. An exception raised in a call is raised again in
the caller, with the process's traceback as a note, once every process has ended.

Example:

>>> from nnzoo import processes
>>> processes.run_all([(print, ("one",)), (print, ("two",))])  # doctest: +SKIP
"""

import multiprocessing
import os
import signal
import threading
import time
import traceback

__all__ = ["run_all"]


def run_all(calls):
    """Run each ``(function, args)`` of ``calls`` in a process of its own, all at once, and wait for them all.

    ``function`` must be importable by name (a module-level function) and ``args`` picklable. Returns nothing:
    a call leaves its results in files. Raises the first failed call's exception (in the order of ``calls``),
    or ``ChildProcessError`` for a process that ended without one (killed, or failed while starting).

    The processes import the caller's main module again (``spawn``), so a script that calls this (or
    ``nnzoo.train(..., processes=k)``) must do so under ``if __name__ == "__main__":``.
    """
    context = multiprocessing.get_context("spawn")
    started = []
    try:
        for function, args in calls:
            receive, send = context.Pipe(duplex=False)
            process = context.Process(target=_child, args=(send, os.getpid(), function, args), daemon=True)
            process.start()
            send.close()
            started.append((process, receive, function))
        for process, _, _ in started:
            process.join()
    finally:
        for process, _, _ in started:
            if process.is_alive():
                process.terminate()
                process.join()
    for process, receive, function in started:
        if process.exitcode:
            try:
                error, where = receive.recv() if receive.poll() else (None, None)
            except EOFError:  # the process closed its end without sending
                error = None
            if error is None:
                raise ChildProcessError(_ended_silently(function, process))
            error.add_note(f"Raised in the process running {function.__qualname__} (pid {process.pid}):\n{where}")
            raise error


def _ended_silently(function, process):
    what = f"The process running {function.__qualname__} (pid {process.pid})"
    if process.exitcode < 0:
        return (f"{what} was killed by signal {-process.exitcode} ({signal.Signals(-process.exitcode).name}) before "
                f"it finished: out of memory (the kernel's OOM killer), or stopped from outside.")
    return (f"{what} ended with exit code {process.exitcode} and no exception: it failed while starting (its error "
            f"is printed above), or exited on its own. Each process imports the main module again, so a script "
            f"that trains in processes (nnzoo.train(..., processes=k)) must start them under "
            f"`if __name__ == \"__main__\":`.")


def _child(send, parent, function, args):
    threading.Thread(target=_end_with_parent, args=(parent,), daemon=True).start()
    try:
        function(*args)
    except BaseException as error:  # noqa: BLE001  (handed to the parent, which raises it)
        where = traceback.format_exc()
        try:
            send.send((error, where))
        except Exception:  # noqa: BLE001  (an exception that does not pickle goes as its text)
            send.send((RuntimeError(f"{type(error).__name__}: {error}"), where))
        raise SystemExit(1) from None


def _end_with_parent(parent, interval=1.0):
    # A process whose parent was killed (SIGKILL, SIGTERM) would otherwise train on, orphaned.
    while os.getppid() == parent:
        time.sleep(interval)
    os._exit(1)
