"""Render ``experiment.json`` records as the measured-vs-book table of docs/RESULTS.md.

    python -m nnzoo.results DIR [DIR ...]      # prints Markdown

Every row comes from a record written by a run (``nnzoo.experiments.run``),
found recursively under the given directories; rows follow the book's order.
"""

import json
import sys
from pathlib import Path

from nnzoo import experiments

__all__ = ["load_records", "render"]


def load_records(*directories):
    """Every ``experiment.json`` under the directories, keyed by experiment id (later wins)."""
    records = {}
    for directory in directories:
        for path in sorted(Path(directory).rglob("experiment.json")):
            record = json.loads(path.read_text())
            records[record["id"]] = record
    return records


def _book(record):
    book = record["book"]
    if not book:
        return "–"
    epoch = "" if book["report"] == "peak" else f", {book['report']} epoch"
    return f"{book['accuracy']:.2f} ({book['split']}{epoch})"


def _measured(record):
    if record.get("measured") is None:
        return "diverged (NaN)"
    text = f"**{record['measured']['accuracy']:.2f}**"
    return text + (" ⚠" if record.get("reduced_budget") else "")


def _gap(record):
    if record.get("measured") is None or not record["book"]:
        return "–"
    return f"{record['measured']['accuracy'] - record['book']['accuracy']:+.2f}"


def render(records):
    """A Markdown table (book order) and the notes beneath it."""
    order = [e.id for e in experiments.EXPERIMENTS]
    rows = sorted(records.values(), key=lambda r: order.index(r["id"]) if r["id"] in order else len(order))
    machines = list(dict.fromkeys(r["hardware"] for r in rows))
    label = {hardware: f"H{index}" for index, hardware in enumerate(machines, start=1)}
    lines = [
        "| id | experiment | model | book % | measured % | Δ pp | epochs | runs | seeds | wall time | hw |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        seeds = ", ".join(str(s) for s in r.get("seeds", []))
        wall = f"{r['wall_time_s'] / 60:.1f} min" if r.get("wall_time_s") is not None else "–"
        lines.append(
            f"| {r['id']} | {r['title']} | `{r['model']}` | {_book(r)} | {_measured(r)} | {_gap(r)} | "
            f"{r.get('epochs', '–')} | {r.get('runs', '–')} | {seeds} | {wall} | {label[r['hardware']]} |"
        )
    lines += ["", "⚠ = reduced budget (fewer epochs or runs than the book); see the notes.", ""]
    lines += [f"- **{label[hardware]}**: {hardware}" for hardware in machines]
    lines += ["", "Protocols, commands and notes:", ""]
    for r in rows:
        details = [r.get("protocol") or "", f"`{r['command']}`"]
        if r.get("reduced_budget"):
            details.append(f"**reduced budget: {r['reduced_budget']}**")
        if r.get("diverged"):
            details.append(r["diverged"])
        if r.get("note"):
            details.append(r["note"])
        if r.get("first_epoch"):
            details.append("first epoch: validation {validation:.2f}, test {test:.2f}".format(**r["first_epoch"]))
        lines.append(f"- **{r['id']}**: " + "; ".join(d for d in details if d))
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    print(render(load_records(*sys.argv[1:])), end="")
