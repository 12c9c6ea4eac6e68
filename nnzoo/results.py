"""Render ``experiment.json`` records as the measured-vs-book table of docs/RESULTS.md.

    python -m nnzoo.results DIR [DIR ...]                     # prints Markdown
    python -m nnzoo.results --into docs/RESULTS.md DIR ...    # replaces the table in that file

Every row comes from a record written by a run (``nnzoo.runner.run``),
found recursively under the given directories; rows follow the book's order.
"""

import sys
from pathlib import Path

from nnzoo import experiments, records

__all__ = ["load_records", "render"]

_SEVERAL = "see the table below"  # a study's several values have a table of their own under the results table


def load_records(*directories):
    """Every ``experiment.json`` under the directories, keyed by experiment id.

    Raises:
        ValueError: two records of one experiment (a re-run keeps the record it replaces as
            ``experiment-superseded.json``, which is not read).
    """
    by_id, found_at = {}, {}
    for directory in directories:
        for path in sorted(Path(directory).rglob(records.FILE)):
            record = records.read(path.parent)
            if record["id"] in found_at:
                raise ValueError(
                    f"Two records of {record['id']}: {found_at[record['id']]} and {path}. Rename the one the other "
                    f"replaces to {records.SUPERSEDED} (kept, not rendered)."
                )
            by_id[record["id"]], found_at[record["id"]] = record, path
    return by_id


def _book(record):
    book = record["book"]
    if not book:
        return "–"
    if book.get("values"):
        return records.number_text(book, several=_SEVERAL)
    epoch = "" if book["report"] == "peak" else f", {book['report']} epoch"
    return f"{book['accuracy']:.2f} ({book['split']}{epoch})"


def _measured(record):
    if record.get("measured") is None:
        return "diverged (NaN)"
    if "values" in record["measured"]:
        text = f"**{records.number_text(record['measured'], several=_SEVERAL)}**"
        return text + (" ⚠" if record.get("reduced_budget") else "")
    text = f"**{record['measured']['accuracy']:.2f}**"
    return text + (" ⚠" if record.get("reduced_budget") else "")


def _gap(record):
    if record.get("measured") is None or not record["book"] or record["book"].get("accuracy") is None:
        return "–"
    return f"{record['measured']['accuracy'] - record['book']['accuracy']:+.2f}"


def _model(record):
    return f"`{record['model']}`" if record.get("model") else "–"


def _init(record):
    """The initialisation the run used: its record's, else its experiment's recipe (records before it was kept)."""
    if record.get("init"):
        return record["init"]
    try:
        return experiments.get(record["id"]).settings()["init"]
    except ValueError:  # an unknown id, or a study (no one recipe)
        return "–"


def render(records):
    """A Markdown table (book order) and the notes beneath it."""
    order = [e.id for e in experiments.EXPERIMENTS]
    rows = sorted(records.values(), key=lambda r: order.index(r["id"]) if r["id"] in order else len(order))
    machines = list(dict.fromkeys(r["hardware"] for r in rows))
    label = {hardware: f"H{index}" for index, hardware in enumerate(machines, start=1)}
    lines = [
        "| id | experiment | model | init | book % | measured % | Δ pp | epochs | runs | seeds | wall time | hw |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        seeds = ", ".join(str(s) for s in r.get("seeds", []))
        wall = f"{r['wall_time_s'] / 60:.1f} min" if r.get("wall_time_s") is not None else "–"
        lines.append(
            f"| {r['id']} | {r['title']} | {_model(r)} | {_init(r)} | {_book(r)} | {_measured(r)} | {_gap(r)} | "
            f"{r.get('epochs', '–')} | {r.get('runs', '–')} | {seeds} | {wall} | {label[r['hardware']]} |"
        )
    lines.append("")
    if any(r.get("reduced_budget") for r in rows):
        lines += ["⚠ = reduced budget (fewer epochs or runs than the book); see the notes.", ""]
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
        if r.get("also"):
            details.append("also measured: " + "; ".join(f"{k} {v:.2f}%" for k, v in r["also"].items()))
        if r.get("first_epoch"):
            details.append("first epoch: validation {validation:.2f}, test {test:.2f}".format(**r["first_epoch"]))
        lines.append(f"- **{r['id']}**: " + "; ".join(d for d in details if d))
    by_id = {r["id"]: r for r in rows}
    if "C3-14" in by_id:
        lines += ["", *_size_curves(by_id["C3-14"])]
    if "C5-05" in by_id:
        lines += ["", *_speeds_at_init(by_id["C5-05"])]
    return "\n".join(lines) + "\n"


def _size_curves(record):
    """C3-14's two curves as a table: accuracy (on the split they were scored on) against training-set size."""
    sizes = list(record["curves"]["network"])
    lines = [f"**C3-13 / C3-14: accuracy against training-set size** ({record['scored_on']} accuracy of each "
             f"model trained on the first n images, scored once at the end; {record['note_on_recipe']}; "
             f"`{record['command']}`):", "",
             "| training images | " + " | ".join(f"{int(size):,}" for size in sizes) + " |",
             "|---|" + "---|" * len(sizes)]
    for label, curve in record["curves"].items():
        lines.append(f"| {label} % | " + " | ".join(f"{curve[size]:.2f}" for size in sizes) + " |")
    return lines


def _speeds_at_init(record):
    """C5-05: each hidden layer's ‖∂C/∂bˡ‖ at initialisation, measured beside the book's."""
    lines = ["**C5-05: speed of learning ‖∂C/∂bˡ‖ at initialisation**, first hidden layer first "
             f"(`{record['command']}`):", "", "| network | book | measured |", "|---|---|---|"]
    book = record["book"]["values"]
    for name, measured in record["measured"]["values"].items():
        lines.append(f"| `{name}` | {', '.join(f'{v:g}' for v in book.get(name, []))} | "
                     f"{', '.join(f'{v:.3f}' for v in measured)} |")
    return lines


BEGIN, END = "<!-- results table: generated by python -m nnzoo.results -->", "<!-- end of results table -->"


def write_into(path, table):
    """Replace the text between the BEGIN and END markers of ``path`` with ``table``."""
    text = Path(path).read_text()
    if BEGIN not in text or END not in text:
        raise ValueError(f"{path} has no {BEGIN!r} ... {END!r} markers to replace.")
    head, rest = text.split(BEGIN, 1)
    tail = rest.split(END, 1)[1]
    Path(path).write_text(f"{head}{BEGIN}\n{table}{END}{tail}")


if __name__ == "__main__":
    arguments = sys.argv[1:]
    if not arguments or arguments[0] == "--into" and len(arguments) < 3:
        sys.exit(__doc__)
    if arguments[0] == "--into":
        write_into(arguments[1], render(load_records(*arguments[2:])))
    else:
        print(render(load_records(*arguments)), end="")
