"""The benchmark scripts render the results files committed under bench/ (their --markdown path).

docs/PERFORMANCE.md quotes these reports; a change to a script's report or to bench_env that breaks
reading an earlier results file shows here. No timing runs: the scripts are only asked to render.
"""

import json
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parent.parent / "bench"


def _labels(script, results):
    """What must appear in the report: one label for each measured row of the file."""
    if script == "run.py":
        return {f"`{row['net']}`" for row in results["training"]}
    if script == "lockstep.py":
        return {f"`{row['net']}`" for row in results["rows"]}
    if script in ("cores.py", "head.py"):
        return {row["case"] for row in results["rows"]}
    if script == "train_runs.py":
        return {row["way"] for row in results["rows"]}
    if script == "profile_step.py":
        return {f"{results['rows'][1]['models']} models in lockstep", "matrix products", "SGD updates"}
    raise AssertionError(f"no labels known for {script}")


REPORTS = [
    ("run.py", "results.json"),
    ("run.py", "results-1thread.json"),
    ("lockstep.py", "results-lockstep.json"),
    ("lockstep.py", "results-processes.json"),
    ("lockstep.py", "results-lockstep-cores.json"),
    ("cores.py", "results-cores.json"),
    ("head.py", "results-head.json"),
    ("train_runs.py", "results-train-runs.json"),
    ("profile_step.py", "results-profile.json"),
    ("profile_step.py", "results-profile-conv2.json"),
]


def test_every_committed_results_file_is_listed():
    listed = {name for _, name in REPORTS}
    committed = {path.name for path in BENCH.glob("results*.json") if "quick" not in path.name}
    assert committed == listed, "add the new results file to REPORTS with the script that writes it"


@pytest.mark.parametrize("script, name", REPORTS)
def test_script_renders_its_results_file(script, name):
    path = BENCH / name
    results = json.loads(path.read_text())
    done = subprocess.run([sys.executable, str(BENCH / script), "--markdown", str(path)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    report = done.stdout
    assert "\n|---" in report, report[:500]
    missing = [label for label in _labels(script, results) if label not in report]
    assert not missing, f"{script} --markdown {name} lost rows: {missing}"
