"""Regression tests of the reliability sweep (#13): each reproduces one finding; numbers follow the issue."""

import json
import re
import os
import subprocess
from pathlib import Path
import sys

import numpy as np
import pytest
import tensorflow as tf

import nnzoo
from nnzoo import cli, data, rundir, runner, training

TINY = dict(epochs=1, data="mnist[:100]", n_validation=100, n_test=100, verbose=0)


def _train_tiny(out, **kwargs):
    return training.train("shallow_sigmoid", out=out, **{**TINY, **kwargs})


# -- 2, 14: the export of a run directory describes the run, and builds it as trained


def test_export_of_a_run_directory_uses_the_runs_own_recipe(tmp_path, capsys, mnist_split):
    run = tmp_path / "run"
    result = training.train("network2", out=run, epochs=1, data="mnist[:500]", eta=0.1, lmbda=0.0,
                            hidden=(100,), verbose=0)
    assert cli.main(["export", "network2", "--weights", str(run), "--out", str(tmp_path / "sm")]) == 0
    card = nnzoo.read_card(tmp_path / "sm" / "1")
    assert card["recipe"]["eta"] == 0.1 and card["recipe"]["lmbda"] == 0.0 and card["recipe"]["hidden"] == [100]
    assert card["data"] == "mnist[:500]"
    assert card["test_accuracy"] == pytest.approx(result.test_accuracy)
    served = tf.saved_model.load(str(tmp_path / "sm" / "1")).signatures["serving_default"]
    x = mnist_split.test.x[:50]
    expected = nnzoo.build("network2", hidden=(100,), weights=str(run), compile=False).predict(x, verbose=0)
    np.testing.assert_allclose(served(image=tf.constant(x))["probabilities"].numpy(), expected, atol=1e-6)


def test_export_refuses_a_run_of_another_network(tmp_path, capsys, mnist_split):
    _train_tiny(tmp_path / "run")
    assert cli.main(["export", "network2", "--weights", str(tmp_path / "run"), "--out", str(tmp_path / "sm")]) == 2
    assert "holds a run of 'shallow_sigmoid', not 'network2'" in capsys.readouterr().err


# -- 3, 4, 8, 16: what --out may name


def test_a_directory_that_is_not_a_run_directory_is_refused_untouched(tmp_path):
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "model.keras").write_bytes(b"the user's own model")
    with pytest.raises(training.RunDirectoryError, match=r"is not an nnzoo run directory \(it holds model.keras\)"):
        _train_tiny(mine)
    assert (mine / "model.keras").read_bytes() == b"the user's own model"
    assert sorted(p.name for p in mine.iterdir()) == ["model.keras"]


def test_several_runs_are_not_mixed_with_a_single_run(tmp_path, mnist_split):
    _train_tiny(tmp_path / "run")
    with pytest.raises(training.RunDirectoryError, match=r"holds a single run. Received: runs=2"):
        _train_tiny(tmp_path / "run", runs=2)
    _train_tiny(tmp_path / "runs", runs=2)
    with pytest.raises(training.RunDirectoryError, match=r"holds 2 runs \(run-1, run-2\). Received: runs=1"):
        _train_tiny(tmp_path / "runs")


def test_runs_does_not_apply_to_an_ensemble():
    with pytest.raises(ValueError, match=r"An ensemble trains each of its members once; runs= does not apply"):
        training.train("conv2_dropout_ensemble", runs=3, epochs=1)


@pytest.mark.parametrize("kind", ["a file", "inside a file"])
def test_an_out_that_cannot_be_a_directory_is_one_line(tmp_path, capsys, kind, mnist_split):
    (tmp_path / "file").write_text("x")
    out = tmp_path / "file" if kind == "a file" else tmp_path / "file" / "run"
    code = cli.main(["train", "shallow_sigmoid", "--epochs", "1", "--data", "mnist[:100]", "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert str(tmp_path / "file") in err


def test_two_trainings_into_one_directory_are_refused(tmp_path):
    (tmp_path / "run").mkdir()
    with rundir.lock(tmp_path / "run"):
        with pytest.raises(training.RunDirectoryError, match=rf"in use by another nnzoo train \(pid {os.getpid()}\)"):
            _train_tiny(tmp_path / "run")
    with rundir.lock(tmp_path / "run"):  # released again
        pass


# -- 6: numbers that pass validation must stay what they are


@pytest.mark.parametrize("value", [1e300, -1e39, float("inf")])
def test_eta_beyond_float32_is_refused(value):
    with pytest.raises(ValueError, match="finite in float32"):
        nnzoo.build("network2", eta=value)


def test_a_test_accuracy_in_percent_is_refused(tmp_path):
    with pytest.raises(ValueError, match=r"'test_accuracy' is 99.5, not a number in \[0, 1\]. For a percentage, divide by 100"):
        nnzoo.export(nnzoo.build("shallow_sigmoid", compile=False), tmp_path / "sm",
                      metadata={"test_accuracy": 99.5})
    assert not (tmp_path / "sm").exists()


# -- 7, 16: --set


@pytest.mark.parametrize("key", ["seed", "epochs", "data", "out"])
def test_set_of_an_option_points_to_the_option(key, capsys):
    assert cli.main(["train", "network2", "--set", f"{key}=5"]) == 2
    err = capsys.readouterr().err
    assert f"{key} is an option of its own" in err and f"Use --{key} 5" in err


def test_the_list_of_overrides_train_takes_advertises_none_that_fail(capsys):
    assert cli.main(["train", "network2", "--set", "colour=red"]) == 2
    err = capsys.readouterr().err
    allowed = err[err.index("Expected one of"):]
    assert "'seed'" not in allowed and "'compile'" not in allowed and "'eta'" in allowed
    assert cli.main(["train", "network2", "--set", "compile=True"]) == 2
    assert "compile is not a model override of train" in capsys.readouterr().err


def test_the_hidden_hint_names_the_command_line_spelling():
    with pytest.raises(ValueError, match=re.escape("--set 'hidden=[100]' on the command line")):
        nnzoo.build("network2", hidden="100")


@pytest.mark.parametrize("text", ["[100]", "(100,)", "100"])
def test_the_hidden_hint_works_on_the_command_line(text):
    assert cli._parse_value(text) in ((100,), 100)
    assert nnzoo.build("network2", hidden=cli._parse_value(text), compile=False).count_params() == 79_510


# -- 9: Ctrl-C


def test_ctrl_c_is_one_line_that_says_how_to_resume(tmp_path, capsys, monkeypatch):
    out = tmp_path / "run"

    def interrupted(*args, **kwargs):
        out.mkdir()
        (out / rundir.HISTORY).write_text(json.dumps([{"epoch": 0}, {"epoch": 1}, {"epoch": 2}]))
        raise KeyboardInterrupt

    monkeypatch.setattr(runner, "train", interrupted)
    assert cli.main(["train", "network2", "--out", str(out)]) == 130
    err = capsys.readouterr().err.strip()
    assert err == f"nnzoo: stopped after epoch 2; the completed epochs are kept in {out}. Re-run the same command to resume."


# -- 11, 15: raw errors on bad arguments and files


def test_bad_arguments_are_value_errors(tmp_path, capsys):
    with pytest.raises(ValueError, match=r"include must be a name pattern.*Received: include=5"):
        nnzoo.list_models(5)
    with pytest.raises(ValueError, match=r"nnzoo.load expects a path. Received: None"):
        nnzoo.load(None)
    (tmp_path / "history.json").write_text(json.dumps({"epoch": 0}))
    assert cli.main(["plot", str(tmp_path / "history.json"), "--kind", "accuracy", "--out", str(tmp_path / "p.png")]) == 2
    assert "is not a run history" in capsys.readouterr().err


def test_broken_files_are_named(tmp_path, capsys):
    (tmp_path / "garbage.keras").write_bytes(b"not a zip")
    with pytest.raises(ValueError, match=r"garbage.keras' is not a readable .keras model.*Save the model again"):
        nnzoo.load(tmp_path / "garbage.keras")  # a file of its own: no run-directory advice
    (tmp_path / "bad.weights.h5").write_bytes(b"not hdf5")
    with pytest.raises(ValueError, match=r"bad.weights.h5' is not a readable .weights.h5 file"):
        nnzoo.build("network2", weights=str(tmp_path / "bad.weights.h5"))
    (tmp_path / "meta.json").write_text("{broken")
    nnzoo.build("network2", compile=False).save_weights(tmp_path / "ok.weights.h5")
    assert cli.main(["export", "network2", "--weights", str(tmp_path / "ok.weights.h5"),
                     "--metadata", str(tmp_path / "meta.json"), "--out", str(tmp_path / "sm")]) == 2
    err = capsys.readouterr().err
    assert "meta.json' (--metadata) is not valid JSON" in err and "Expected one JSON object" in err
    assert "run directory" not in err


def test_broken_history_is_named(tmp_path, mnist_split):
    _train_tiny(tmp_path / "run")
    (tmp_path / "run" / rundir.HISTORY).write_text("[{")
    with pytest.raises(ValueError, match=r"history.json' \(a run's history\) is not valid JSON"):
        _train_tiny(tmp_path / "run", epochs=2)


# -- 12: a truncated checkpoint


def test_a_truncated_checkpoint_is_named_and_load_takes_the_one_history_points_to(tmp_path, mnist_split):
    run = tmp_path / "run"
    _train_tiny(run, epochs=2)
    (run / "model.keras").unlink()
    (run / "checkpoint-3.keras").write_bytes((run / "checkpoint-2.keras").read_bytes()[:1000])  # power loss
    assert rundir.run_dir_model(run) == run / "checkpoint-2.keras"
    nnzoo.load(run)
    (run / "checkpoint-2.keras").write_bytes((run / "checkpoint-2.keras").read_bytes()[:1000])
    with pytest.raises(training.RunDirectoryError, match=r"checkpoint of its last completed epoch is unreadable.*"
                                                         r"checkpoint-2.keras"):
        _train_tiny(run, epochs=3)


# -- 13: after a NaN stop, a new eta is taken; every refusal names what differs


def test_after_a_nan_stop_a_new_recipe_is_taken(tmp_path, mnist_split):
    run = tmp_path / "run"
    with pytest.raises(training.Diverged, match="No epoch completed"):
        training.train("network2", out=run, eta=1e38, **TINY)
    _train_tiny_network2 = training.train("network2", out=run, eta=0.5, **TINY)
    assert len(_train_tiny_network2.history) == 1
    with pytest.raises(training.RunDirectoryError, match=r"another recipe \(eta: 0.5 there, 0.1 now\)"):
        training.train("network2", out=run, eta=0.1, **{**TINY, "epochs": 2})


# -- 16: the data directory, python -m nnzoo, --version, abandoned exports


def test_a_data_dir_that_is_a_file_says_so(tmp_path):
    (tmp_path / "mnist").write_text("x")
    with pytest.raises(data.DataError, match="is a file, not a directory"):
        data.load_split(data_dir=tmp_path / "mnist")


def test_python_dash_m_and_version():
    result = subprocess.run([sys.executable, "-m", "nnzoo", "--version"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0 and result.stdout.startswith("nnzoo ")


def test_an_abandoned_export_is_cleaned_up(tmp_path):
    base = tmp_path / "sm"
    dead = base / ".nnzoo-export-999999999-abc"
    dead.mkdir(parents=True)
    (dead / "big").write_bytes(b"x" * 1000)
    alive = base / f".nnzoo-export-{os.getpid()}-def"
    alive.mkdir()
    nnzoo.export(nnzoo.build("shallow_sigmoid", compile=False), base)
    assert not dead.exists() and alive.exists()


def test_a_full_disk_during_export_is_one_line(tmp_path, capsys, monkeypatch):
    """#13.8: TensorFlow reports a full disk as its own ResourceExhaustedError; the CLI says it in one line."""
    import keras

    def full_disk(self, *args, **kwargs):
        raise tf.errors.ResourceExhaustedError(None, None, "tmp; No space left on device [Op:SaveV2]")

    nnzoo.build("network2", compile=False).save_weights(tmp_path / "ok.weights.h5")
    monkeypatch.setattr(type(keras.export.ExportArchive()), "write_out", full_disk)  # the backend's class
    assert cli.main(["export", "network2", "--weights", str(tmp_path / "ok.weights.h5"), "--out",
                     str(tmp_path / "sm")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "No space left to write the SavedModel under" in err
    assert not [p for p in (tmp_path / "sm").iterdir()]  # the temporary version is gone


def test_export_of_a_savedmodel_says_it_is_already_exported(capsys):
    shipped = Path(__file__).resolve().parent.parent / "savedmodels" / "conv2_dropout"
    assert cli.main(["export", "conv2_dropout", "--weights", str(shipped)]) == 2
    err = capsys.readouterr().err
    assert "is an exported SavedModel, not weights to export" in err and "nnzoo train" not in err
