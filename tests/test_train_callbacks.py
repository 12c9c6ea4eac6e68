"""Keras callbacks on nnzoo.train's compiled epoch (#12): the usual hooks, with the epoch's numbers."""

import csv

import keras
import pytest

from nnzoo import cli, training

TINY = dict(epochs=2, data="mnist[:200]", n_validation=200, n_test=200, verbose=0)


class Recorder(keras.callbacks.Callback):
    def __init__(self, stop_after=None):
        super().__init__()
        self.calls, self.stop_after = [], stop_after

    def on_train_begin(self, logs=None):
        self.calls.append(("train_begin", None))

    def on_epoch_begin(self, epoch, logs=None):
        self.calls.append(("epoch_begin", epoch))

    def on_epoch_end(self, epoch, logs=None):
        self.calls.append(("epoch_end", epoch, dict(logs)))
        if self.stop_after is not None and epoch >= self.stop_after:
            self.model.stop_training = True

    def on_train_end(self, logs=None):
        self.calls.append(("train_end", dict(logs or {})))


def test_callbacks_fire_with_the_epochs_numbers(tmp_path, mnist_split):
    recorder = Recorder()
    result = training.train("shallow_sigmoid", out=tmp_path / "run", callbacks=[recorder], **TINY)
    assert [call[:2] for call in recorder.calls] == [
        ("train_begin", None), ("epoch_begin", 0), ("epoch_end", 0), ("epoch_begin", 1), ("epoch_end", 1),
        ("train_end", recorder.calls[-1][1])]
    for call, entry in zip([c for c in recorder.calls if c[0] == "epoch_end"], result.history):
        logs = call[2]
        assert logs["loss"] == entry["loss"] and logs["accuracy"] == entry["accuracy"]
        assert logs["validation_accuracy"] == logs["val_accuracy"] == entry["validation_accuracy"]
        assert logs["test_accuracy"] == entry["test_accuracy"] and logs["eta"] == entry["eta"] == 3.0
    assert recorder.model is not None


def test_a_callback_can_stop_a_run(tmp_path, mnist_split):
    result = training.train("shallow_sigmoid", out=tmp_path / "run", callbacks=[Recorder(stop_after=0)],
                            **{**TINY, "epochs": 5})
    assert len(result.history) == 1
    assert "a callback stopped the run after epoch 0" in (tmp_path / "run" / "log.txt").read_text()


def test_keras_callbacks_work_on_several_runs(tmp_path, mnist_split):
    with pytest.raises(ValueError, match="Pass a function of the run's index"):
        training.train("shallow_sigmoid", runs=2, out=tmp_path / "a", callbacks=[Recorder()], **TINY)
    seen = {}

    def callbacks_for(index):
        seen[index] = Recorder()
        return [seen[index], keras.callbacks.CSVLogger(str(tmp_path / f"run-{index}.csv"))]

    training.train("shallow_sigmoid", runs=2, out=tmp_path / "b", callbacks=callbacks_for, **TINY)
    assert sorted(seen) == [1, 2] and seen[1].model is not seen[2].model
    for index in (1, 2):
        with open(tmp_path / f"run-{index}.csv") as handle:
            rows = list(csv.DictReader(handle))
        assert [row["epoch"] for row in rows] == ["0", "1"] and "test_accuracy" in rows[0]


def test_bad_callbacks_are_refused():
    with pytest.raises(ValueError, match=r"callbacks must be a list of keras.callbacks.Callback. Received: \['x'\]"):
        training.train("shallow_sigmoid", callbacks=["x"], **TINY)


def test_cli_tensorboard_writes_event_files(tmp_path, mnist_split):
    code = cli.main(["train", "shallow_sigmoid", "--epochs", "1", "--data", "mnist[:200]", "--out",
                     str(tmp_path / "run"), "--tensorboard", str(tmp_path / "tb"), "-q"])
    assert code == 0
    assert list((tmp_path / "tb" / "run-1").rglob("events.out.tfevents.*"))
