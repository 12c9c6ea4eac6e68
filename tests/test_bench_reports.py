"""The benchmark and its probes render the current results committed under bench/results/ (their --markdown path).

bench/results/ holds the current results only and docs/PERFORMANCE.md quotes them; a change to a script's report
or to bench_env that breaks reading them shows here. No timing runs: the scripts are only asked to render.
"""

import json
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parent.parent / "bench"
RESULTS = BENCH / "results"
# Results files written by other scripts, which their own tests read back.
OTHER_OWNERS = {"serving.json", "demo.json"}


def _labels(script, results):
    """What must appear in the report: one label for each measured row of the file."""
    script = Path(script).name
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
    ("run.py", "run.json"),
    ("probes/lockstep.py", "lockstep.json"),
    ("probes/lockstep.py", "lockstep-cores.json"),
    ("probes/cores.py", "cores.json"),
    ("probes/head.py", "head.json"),
    ("probes/train_runs.py", "train-runs.json"),
    ("probes/profile_step.py", "profile.json"),
    ("probes/profile_step.py", "profile-conv2.json"),
]


def test_every_current_results_file_is_listed_and_none_lies_outside_results():
    listed = {name for _, name in REPORTS}
    committed = {path.name for path in RESULTS.glob("*.json") if not path.name.endswith("-quick.json")}
    assert committed - OTHER_OWNERS == listed, "add the new results file to REPORTS with the script that writes it"
    assert not list(BENCH.glob("*.json")), "results go in bench/results/ (the current ones only)"


@pytest.mark.parametrize("script, name", REPORTS)
def test_script_renders_its_results_file(script, name):
    path = RESULTS / name
    results = json.loads(path.read_text())
    done = subprocess.run([sys.executable, str(BENCH / script), "--markdown", str(path)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    report = done.stdout
    assert "\n|---" in report, report[:500]
    missing = [label for label in _labels(script, results) if label not in report]
    assert not missing, f"{script} --markdown {name} lost rows: {missing}"


def test_the_bench_readme_names_every_file_there():
    readme = (BENCH / "README.md").read_text(encoding="utf-8")
    files = [path.relative_to(BENCH).as_posix() for path in BENCH.rglob("*")
             if path.is_file() and "__pycache__" not in path.parts and not path.name.endswith("-quick.json")]
    unnamed = [name for name in files if name not in ("README.md", ".gitignore") and not name.startswith("probes/gpu/")
               and f"`{name}`" not in readme]
    assert not unnamed, f"bench/README.md does not list {unnamed}: add a line for each"
    assert "`probes/gpu/`" in readme
