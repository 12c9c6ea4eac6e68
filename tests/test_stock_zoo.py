"""The campaign script behind ``weights="mnist"``: which experiments it trains and how far; the release is
``nnzoo.release`` (tests/test_release.py)."""

import json
import runpy
from pathlib import Path

import pytest

import nnzoo
from nnzoo import experiments, release

STOCK_ZOO = runpy.run_path(str(Path(__file__).resolve().parent.parent / "recipes" / "stock_zoo.py"))


def test_only_the_experiment_of_a_networks_card_recipe_ships_its_weights():
    """C6-07 trains conv2_relu on the expanded data; conv2_relu's weights come from C6-06 (its card's recipe)."""
    assert not STOCK_ZOO["_is_weights_source"](experiments.get("C6-07"))
    assert STOCK_ZOO["_is_weights_source"](experiments.get("C6-06"))
    assert STOCK_ZOO["_is_weights_source"](experiments.get("C1-01"))


@pytest.mark.parametrize("argv, forwarded", [
    (["--publish", "network2", "--out", "OUT"], ["publish", "network2", "--out", "OUT"]),
    (["--release", "DIR"], ["pack", "DIR"]),
])
def test_publish_and_release_forward_to_the_release_tool_with_a_deprecation_note(argv, forwarded, monkeypatch, capsys):
    """The release is ``python -m nnzoo.release``; the campaign's old flags still run it and say so."""
    calls = []
    monkeypatch.setattr(release, "main", lambda verb: calls.append(verb) or 0)
    assert STOCK_ZOO["main"](argv) == 0
    assert calls == [forwarded]
    assert f"is deprecated: the release has its own command, python -m nnzoo.release {' '.join(forwarded)}" in (
        capsys.readouterr().err)


def test_an_ensemble_starts_from_its_member_networks_finished_runs(mnist_split, tmp_path, capsys):
    """C6-12's member k has C6-11's run k's seed and recipe: the campaign trains those runs once."""
    tiny = dict(epochs=1, data="mnist[:200]", n_validation=100, n_test=100, verbose=0, hidden=(8, 8))
    runs = nnzoo.train("conv2_dropout", runs=2, out=tmp_path / "C6-11", **tiny)
    STOCK_ZOO["_members_from_runs"](experiments.get("C6-12"), tmp_path)
    assert "member-2 starts as" in capsys.readouterr().out
    copied = tmp_path / "C6-12" / "member-2" / "log.txt"
    lines_before = copied.read_text().count("\n")
    ensemble = nnzoo.train("conv2_dropout_ensemble", n_members=3, out=tmp_path / "C6-12", **tiny)
    assert [member.history for member in ensemble.runs[:2]] == [run.history for run in runs.runs]
    added = copied.read_text().splitlines()[lines_before:]  # resumed, not trained again (the seconds agree too)
    assert added and added[0].startswith("resuming conv2_dropout (seed 1)") and not any("epoch   0:" in a for a in added)
    assert ensemble.runs[2].seed == 2 and len(ensemble.runs[2].history) == 1
    # Finished, with its record: the campaign counts it done (its members hold the histories) and can ship it.
    (tmp_path / "C6-12" / "experiment.json").write_text(json.dumps({"measured": {"accuracy": 50.0}, "epochs": 1}))
    assert release.finished(experiments.get("C6-12"), tmp_path)


def test_the_plan_shows_how_far_unfinished_runs_are(tmp_path):
    """``stock_zoo.py --list`` says how many epochs each run of an unfinished experiment has, from its history."""
    progress = STOCK_ZOO["_progress"]
    assert progress(experiments.get("C6-07"), tmp_path) == ""  # nothing trained yet
    for run, epochs in (("run-1", 16), ("run-2", 15)):
        (tmp_path / "C6-07" / run).mkdir(parents=True)
        (tmp_path / "C6-07" / run / "history.json").write_text(json.dumps([{"epoch": e} for e in range(epochs)]))
    assert progress(experiments.get("C6-07"), tmp_path) == " (epochs done: 16, 15, 0 of 60)"
    (tmp_path / "C6-12" / "member-4").mkdir(parents=True)
    (tmp_path / "C6-12" / "member-4" / "history.json").write_text(json.dumps([{"epoch": 0}]))
    assert progress(experiments.get("C6-12"), tmp_path) == " (epochs done: 1 of 40)"
