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

__all__ = ["FILE", "SUPERSEDED", "number_text", "read", "record", "write"]

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


def read(out):
    """``out/experiment.json``, checked to be a record (a JSON object); ``None`` without one.

    A broken file, one of another JSON type or a link is a ``ValueError`` naming it.
    """
    return rundir.read_record(Path(out) / FILE, "an experiment's record", dict,
                              "Restore it, or delete it and run the experiment again.")


def number_text(number, *, split=False, several=None):
    """A record's ``book`` or ``measured`` number as text, the one way every report writes it.

    An accuracy reads ``97.92%`` (``split=True``: ``97.92% (test)``); a study's
    values ``key: value; key: v1, v2`` (or ``several``, when given, for more
    than one value); no number ``""``.

    >>> number_text({"accuracy": 97.921, "split": "test"}, split=True)
    '97.92% (test)'
    >>> number_text({"values": {"speed ratio": 101.3}})
    'speed ratio: 101.3'
    """
    if not number:
        return ""
    if number.get("accuracy") is not None:
        return f"{number['accuracy']:.2f}%" + (f" ({number['split']})" if split else "")
    values = number.get("values") or {}
    if several is not None and len(values) > 1:
        return several
    return "; ".join(f"{key}: {', '.join(f'{v:g}' for v in value) if isinstance(value, list) else f'{value:g}'}"
                     for key, value in values.items())
