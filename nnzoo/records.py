"""An experiment's record, ``experiment.json``: the fields every record carries, and writing one.

A trained experiment (``nnzoo.experiments``), a diverged one and a study
(``nnzoo.studies``) each add fields of their own to these; ``nnzoo.results``
reads them all back (``load_records``) and renders the results table.

Example:

>>> from nnzoo import experiments, records
>>> row = experiments.get("C1-05")
>>> sorted(records.record(row, book=None, measured=None, seeds=[0], runs=1, command="-"))[:4]
['book', 'command', 'date', 'hardware']
"""

from pathlib import Path

from nnzoo import rundir

__all__ = ["FILE", "SUPERSEDED", "record", "write"]

FILE = "experiment.json"
#: What a record is renamed to when a later run of its experiment replaces it: kept beside its runs, not rendered.
SUPERSEDED = "experiment-superseded.json"


def record(experiment, *, book, measured, seeds, runs, command, reduced_budget=None, note=None, wall_time_s=None,
           hardware_text=None, **fields):
    """The fields every record of ``experiment`` (an ``nnzoo.experiments.Experiment``) carries, then ``fields``.

    ``note`` defaults to the experiment's; ``hardware_text`` to this machine's
    (``rundir.hardware``); the date is today's.
    """
    common = {"id": experiment.id, "title": experiment.title, "model": experiment.model, **fields,
              "seeds": list(seeds), "runs": runs, "book": book, "measured": measured,
              "reduced_budget": reduced_budget or None,
              "note": experiment.note if note is None else note,
              "hardware": hardware_text or rundir.hardware(), "date": rundir.today(), "command": command}
    if wall_time_s is not None:
        common["wall_time_s"] = round(wall_time_s, 1)
    return common


def write(out, value):
    """Write ``out/experiment.json`` atomically (a kill leaves the old record or the new one); return ``value``."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    rundir.write_json(out / FILE, value)
    return value
