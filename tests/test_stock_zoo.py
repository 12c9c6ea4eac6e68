"""The campaign script behind ``weights="mnist"``: what publishing a finished experiment ships and records."""

import json
import runpy
from pathlib import Path

import numpy as np
import pytest

import nnzoo
from nnzoo import experiments, files, pretrained

STOCK_ZOO = runpy.run_path(str(Path(__file__).resolve().parent.parent / "recipes" / "stock_zoo.py"))


@pytest.fixture(scope="module")
def finished_c1_01(tmp_path_factory, mnist_split):
    """C1-01 (shallow_sigmoid, best of 2 here) on 500 images for one epoch: a finished experiment, in small."""
    out = tmp_path_factory.mktemp("runs") / "C1-01"
    experiments.run("C1-01", runs=2, epochs=1, subset=500, out=out, verbose=0)
    return out


def _accuracy(model, split):
    return float(np.mean(np.argmax(model.predict(split.test.x, batch_size=1000, verbose=0), axis=1) == split.test.y))


@pytest.mark.parametrize("served", [False, True], ids=["weights.h5", "savedmodel"])
def test_publish_ships_the_protocols_pick_once_and_records_what_it_scores(finished_c1_01, mnist_split, tmp_path,
                                                                          monkeypatch, served):
    monkeypatch.setattr(pretrained, "TABLE", tmp_path / "pretrained.json")
    monkeypatch.setattr(pretrained, "SERVED", ("shallow_sigmoid",) if served else ())
    shelf = tmp_path / "shelf"
    STOCK_ZOO["publish"]("shallow_sigmoid", experiments.get("C1-01"), finished_c1_01, shelf=shelf)

    row, = json.loads((tmp_path / "pretrained.json").read_text())
    record = pretrained.Weights(**row)
    summary = json.loads((finished_c1_01 / "summary.json").read_text())
    assert (record.run, record.runs, record.seed) == (summary["best_run"] + 1, 2, summary["runs"][summary["best_run"]]["seed"])
    assert record.experiment == "C1-01" and record.epochs == 1 and record.recipe["eta"] == 3.0
    shipped = shelf / record.file
    if served:
        assert record.format == "savedmodel" and record.file == "shallow_sigmoid/1"
        assert [p.name for p in shelf.rglob("*.weights.h5")] == []  # stored once
        assert files.tree_sha256(shipped) == record.sha256 and files.tree_size(shipped) == record.size
        assert nnzoo.export.read_card(shipped)["test_accuracy"] == pytest.approx(record.test_accuracy, abs=1e-4)
    else:
        assert record.format == "weights.h5" and record.file == "shallow_sigmoid.weights.h5"
        assert files.sha256(shipped) == record.sha256 and not list(shelf.glob("*/*/saved_model.pb"))
    from_shelf = nnzoo.build("shallow_sigmoid", weights=str(shipped), compile=False)
    from_runs = nnzoo.build("shallow_sigmoid", weights=str(finished_c1_01), compile=False)
    for a, b in zip(from_shelf.get_weights(), from_runs.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert record.test_accuracy == pytest.approx(_accuracy(from_shelf, mnist_split), abs=1e-6)


def test_only_the_experiment_of_a_networks_card_recipe_ships_its_weights():
    """C6-07 trains conv2_relu on the expanded data; conv2_relu's weights come from C6-06 (its card's recipe)."""
    assert not STOCK_ZOO["_is_weights_source"](experiments.get("C6-07"))
    assert STOCK_ZOO["_is_weights_source"](experiments.get("C6-06"))
    assert STOCK_ZOO["_is_weights_source"](experiments.get("C1-01"))


def test_a_release_serves_every_shipped_record_to_a_pip_install(tmp_path, monkeypatch):
    """The files --release writes are what the download path of each record fetches and verifies."""
    written = STOCK_ZOO["release"](tmp_path / "release")
    records = [pretrained.get(name) for name in pretrained.names()]
    assert sorted(path.name for path in written) == sorted(record.archive for record in records)
    monkeypatch.delenv("NNZOO_WEIGHTS_DIR", raising=False)
    monkeypatch.setattr(pretrained, "CHECKOUT_DIR", tmp_path / "no-checkout")
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras-home"))
    monkeypatch.setenv("NNZOO_WEIGHTS_URL", (tmp_path / "release").as_uri())
    for record in records:
        path = pretrained.file_path(record)  # downloaded (file://), extracted where archived, verified
        assert path.parent == tmp_path / "keras-home" / "models"


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
    assert STOCK_ZOO["_complete"](experiments.get("C6-12"), tmp_path)


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
