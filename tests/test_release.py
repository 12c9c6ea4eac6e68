"""The release tool (``python -m nnzoo.release``): what publishing a finished experiment ships and records, the dry run
that rebuilds the records without writing the shelf, and the files a release uploads."""

import json

import numpy as np
import pytest

import nnzoo
from nnzoo import experiments, files, pretrained, release, runner


@pytest.fixture(scope="module")
def finished_c1_01(tmp_path_factory, mnist_split):
    """C1-01 (shallow_sigmoid, best of 2 here) on 500 images for one epoch: a finished experiment, in small."""
    out = tmp_path_factory.mktemp("runs") / "C1-01"
    runner.run("C1-01", runs=2, epochs=1, subset=500, out=out, verbose=0)
    return out


def _accuracy(model, split):
    return float(np.mean(np.argmax(model.predict(split.test.x, batch_size=1000, verbose=0), axis=1) == split.test.y))


@pytest.mark.parametrize("served", [False, True], ids=["weights.h5", "savedmodel"])
def test_publish_ships_the_protocols_pick_once_and_records_what_it_scores(finished_c1_01, mnist_split, tmp_path,
                                                                          monkeypatch, served):
    monkeypatch.setattr(pretrained, "SERVED", ("shallow_sigmoid",) if served else ())
    shelf, table = tmp_path / "shelf", tmp_path / "pretrained.json"
    release.publish("shallow_sigmoid", experiments.get("C1-01"), finished_c1_01, shelf=shelf, table=table)

    row, = json.loads(table.read_text())
    record = pretrained.Weights(**row)
    summary = json.loads((finished_c1_01 / "summary.json").read_text())
    assert (record.run, record.runs, record.seed) == (summary["best_run"] + 1, 2, summary["runs"][summary["best_run"]]["seed"])
    assert record.experiment == "C1-01" and record.epochs == 1 and record.recipe["eta"] == 3.0
    shipped = shelf / record.file
    assert release.shipped_file("shallow_sigmoid", shelf) == shipped
    if served:
        assert record.format == "savedmodel" and record.file == "shallow_sigmoid/1"
        assert [p.name for p in shelf.rglob("*.weights.h5")] == []  # stored once
        assert files.tree_sha256(shipped) == record.sha256 and files.tree_size(shipped) == record.size
        assert nnzoo.read_card(shipped)["test_accuracy"] == pytest.approx(record.test_accuracy, abs=1e-4)
    else:
        assert record.format == "weights.h5" and record.file == "shallow_sigmoid.weights.h5"
        assert files.sha256(shipped) == record.sha256 and not list(shelf.glob("*/*/saved_model.pb"))
    from_shelf = nnzoo.build("shallow_sigmoid", weights=str(shipped), compile=False)
    from_runs = nnzoo.build("shallow_sigmoid", weights=str(finished_c1_01), compile=False)
    for a, b in zip(from_shelf.get_weights(), from_runs.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert record.test_accuracy == pytest.approx(_accuracy(from_shelf, mnist_split), abs=1e-6)


def test_a_dry_run_rebuilds_the_published_records_and_writes_nothing_under_the_shelf(finished_c1_01, tmp_path):
    shelf, table = tmp_path / "shelf", tmp_path / "pretrained.json"
    release.publish("shallow_sigmoid", experiments.get("C1-01"), finished_c1_01, shelf=shelf, table=table)
    before = {path: files.sha256(path) for path in shelf.rglob("*") if path.is_file()}
    out = finished_c1_01.parent

    rebuilt, differences = release.dry_run(["shallow_sigmoid"], out, shelf=shelf, table=table, into=tmp_path / "dry")
    assert differences == {} and json.loads(rebuilt.read_text()) == json.loads(table.read_text())
    row, = json.loads(table.read_text())
    table.write_text(json.dumps([dict(row, test_accuracy=0.5)]))  # a record that no longer says what ships
    _, differences = release.dry_run(["shallow_sigmoid"], out, shelf=shelf, table=table, into=tmp_path / "dry2")
    assert list(differences) == ["shallow_sigmoid"] and differences["shallow_sigmoid"].startswith(
        "differs in test_accuracy (0.5 in pretrained.json, rebuilt ")
    assert {path: files.sha256(path) for path in shelf.rglob("*") if path.is_file()} == before


def test_a_single_run_experiment_ships_the_pick_of_its_own_directory(mnist_split, tmp_path):
    """C3-10 trains network2 once: the run directory is the run itself (no run-K inside it)."""
    run_dir = tmp_path / "runs" / "C3-10"
    runner.run("C3-10", epochs=2, subset=500, out=run_dir, verbose=0)
    row = release.publish("network2", experiments.get("C3-10"), run_dir, shelf=tmp_path / "shelf",
                          table=tmp_path / "pretrained.json")
    history = json.loads((run_dir / "history.json").read_text())
    assert (row.file, row.run, row.runs, row.epochs) == ("network2.weights.h5", 1, 1, 2)
    assert row.selected_by["accuracy"] == history[row.epoch - 1]["test_accuracy"] == max(
        epoch["test_accuracy"] for epoch in history)  # C3-10's protocol: the peak test accuracy


def test_the_command_refuses_a_network_the_zoo_ships_no_weights_of(capsys):
    assert release.main(["publish", "C6-07", "--dry-run"]) == 2  # an experiment id, not a network
    assert "no book experiment trains C6-07 by a card's recipe" in capsys.readouterr().err


def test_a_release_serves_every_shipped_record_to_a_pip_install(tmp_path, monkeypatch):
    """The files ``python -m nnzoo.release pack DIR`` writes are what the download path of each record fetches and
    verifies."""
    assert release.main(["pack", str(tmp_path / "release")]) == 0
    records = [pretrained.get(name) for name in pretrained.names()]
    assert sorted(path.name for path in (tmp_path / "release").iterdir()) == sorted(r.archive for r in records)
    monkeypatch.delenv("NNZOO_WEIGHTS_DIR", raising=False)
    monkeypatch.setattr(pretrained, "CHECKOUT_DIR", tmp_path / "no-checkout")
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras-home"))
    monkeypatch.setenv("NNZOO_WEIGHTS_URL", (tmp_path / "release").as_uri())
    for record in records:
        path = pretrained.file_path(record)  # downloaded (file://), extracted where archived, verified
        assert path.parent == tmp_path / "keras-home" / "models"
