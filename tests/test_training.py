"""``nnzoo.train``: the book's selection rules, the vote, run directories,
resume after an interruption (in-process and a killed ``nnzoo train``), NaN
stops, runs=k, ensembles and the ``nnzoo train`` verb.

Tests that train skip only when NNZOO_DATA_DIR is unset (as ``mnist_split``
in conftest.py); when it is set, missing or corrupt data fails them. They use
tiny nets on ``mnist[:300]`` scored on 200 validation / 200 test images.
"""

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import keras
import numpy as np
import pytest

import nnzoo
from nnzoo import cli, data, registry, runner, training
from nnzoo.layers import PluralityVote
from nnzoo.seeds import member_seed
from nnzoo.training import Protocol, TrainingError, best_validation_test, peak

REPO = Path(__file__).resolve().parent.parent
HISTORY_KEYS = {"epoch", "loss", "accuracy", "validation_accuracy", "test_accuracy", "eta", "seconds",
                "evaluation_seconds"}
TINY = dict(data="mnist[:300]", n_validation=200, n_test=200, verbose=0)
TINY_CONV = dict(conv=((2, 5),), hidden=(8,))  # conv1 with 2 filters and 8 hidden units


@pytest.fixture
def real_data():
    if os.environ.get(data.ENV_VAR) is None:
        pytest.skip(f"{data.ENV_VAR} is not set; real-MNIST training tests skipped")


def _history(run_dir):
    return json.loads((Path(run_dir) / "history.json").read_text())


def _entries(pairs):
    return [{"validation_accuracy": v, "test_accuracy": t} for v, t in pairs]


def _test_subset():
    split = data.load_book_split("mnist[:300]", n_validation=200, n_test=200)
    return split.test


# --------------------------------------------------------------------------
# 1. Pure rules
# --------------------------------------------------------------------------


def test_best_validation_test_tie_goes_to_the_later_epoch():
    history = _entries([(0.90, 0.80), (0.95, 0.81), (0.95, 0.79), (0.93, 0.99)])
    assert best_validation_test(history) == (2, 0.95, 0.79)


def test_best_validation_test_strictly_better_later_epoch_wins():
    history = _entries([(0.97, 0.99), (0.96, 0.50), (0.98, 0.70)])
    assert best_validation_test(history) == (2, 0.98, 0.70)
    # ...and a strictly better earlier epoch beats worse later ones.
    assert best_validation_test(_entries([(0.99, 0.1), (0.98, 0.9), (0.97, 0.95)])) == (0, 0.99, 0.1)


def test_best_validation_test_single_epoch():
    assert best_validation_test(_entries([(0.5, 0.4)])) == (0, 0.5, 0.4)


def test_peak_ties_go_to_the_earlier_epoch():
    history = _entries([(0.5, 0.7), (0.9, 0.8), (0.9, 0.8), (0.6, 0.8)])
    assert peak(history, "validation_accuracy") == (1, 0.9)
    assert peak(history, "test_accuracy") == (1, 0.8)
    assert peak(_entries([(0.3, 0.2)]), "test_accuracy") == (0, 0.2)


@pytest.mark.parametrize("name", ["conv1", "conv2", "conv2_tanh", "shallow_softmax", "conv2_dropout_ensemble"])
def test_protocol_for_network3_cards(name):
    protocol = Protocol.for_card(registry.card(name))
    assert protocol == Protocol(shuffle=False, rule="best_validation_test")
    assert "best validation" in protocol.describe() and "fixed training order" in protocol.describe()


@pytest.mark.parametrize("name", ["shallow_sigmoid", "shallow_sigmoid_100"])
def test_protocol_for_chapter1_cards_is_peak_test(name):
    protocol = Protocol.for_card(registry.card(name))
    assert protocol == Protocol(shuffle=True, rule="peak_test")
    assert "peak test" in protocol.describe() and "reshuffled" in protocol.describe()


@pytest.mark.parametrize("name", ["network2_100", "deep_sigmoid_1"])
def test_protocol_for_validation_cards_is_peak_validation(name):
    assert Protocol.for_card(registry.card(name)) == Protocol(shuffle=True, rule="peak_validation")


def test_protocol_without_book_number_defaults_to_peak_test():
    assert registry.card("no_hidden_sigmoid").book_result is None
    assert Protocol.for_card(registry.card("no_hidden_sigmoid")) == Protocol(shuffle=True, rule="peak_test")


def test_protocol_select():
    history = _entries([(0.90, 0.95), (0.93, 0.91), (0.93, 0.92), (0.92, 0.96)])
    assert Protocol(False, "best_validation_test").select(history) == (2, 0.93, 0.92, 0.92)
    assert Protocol(True, "peak_test").select(history) == (3, 0.92, 0.96, 0.96)
    assert Protocol(True, "peak_validation").select(history) == (1, 0.93, 0.91, 0.93)


def test_protocol_selection_key():
    run = training.RunResult(seed=0, history=[], best_epoch=0, validation_accuracy=0.9,
                             test_accuracy=0.8, reported=0.7, wall_time=0.0, run_dir="")
    assert Protocol(False, "best_validation_test").selection_key(run) == 0.9
    assert Protocol(True, "peak_test").selection_key(run) == 0.7


def _probabilities(*rows):
    """A (1, 10) float32 member output putting the given mass on digits, the rest spread evenly."""
    out = []
    for mass in rows:
        row = np.full(10, (1.0 - sum(mass.values())) / (10 - len(mass)))
        for digit, p in mass.items():
            row[digit] = p
        out.append(row)
    return np.asarray(out, dtype="float32")


def _vote(members):
    return keras.ops.convert_to_numpy(PluralityVote()([np.asarray(m, dtype="float32") for m in members]))


def _vote_by_hand(members):
    """The book's plurality vote in NumPy: most votes, then larger mean probability, then lower digit."""
    stacked = np.stack(members)
    k, batch, classes = stacked.shape
    votes = np.zeros((batch, classes))
    for member in stacked:
        votes[np.arange(batch), member.argmax(axis=1)] += 1
    mean = stacked.mean(axis=0)
    winners = []
    for row in range(batch):
        candidates = [d for d in range(classes) if votes[row, d] == votes[row].max()]
        best_mean = max(mean[row, d] for d in candidates)
        winners.append(min(d for d in candidates if mean[row, d] == best_mean))
    return np.array(winners)


def test_vote_clear_majority_beats_a_confident_minority():
    members = [_probabilities({3: 0.4}), _probabilities({3: 0.4}), _probabilities({7: 0.99})]
    # The lone 7-voter is so sure that 7 has the larger mean probability...
    assert np.mean([m[0, 7] for m in members]) > np.mean([m[0, 3] for m in members])
    votes = _vote(members)
    assert votes.argmax(axis=1).tolist() == [3]  # ...but two votes beat one.
    np.testing.assert_allclose(votes[0, 3], (2 + 0.5 * np.mean([m[0, 3] for m in members])) / 3.5, rtol=1e-6)


def test_vote_2_2_1_tie_goes_to_the_larger_mean_probability():
    two = [_probabilities({2: 0.5}), _probabilities({2: 0.5})]
    five = [_probabilities({5: 0.6}), _probabilities({5: 0.6})]
    assert _vote(two + five + [_probabilities({9: 0.9})]).argmax(axis=1).tolist() == [5]
    # The fifth member's probabilities count in the mean even though its vote went to 9.
    assert _vote(two + five + [_probabilities({9: 0.5, 2: 0.45})]).argmax(axis=1).tolist() == [2]


def test_vote_exact_tie_goes_to_the_lower_digit():
    a, b = _probabilities({4: 0.625, 6: 0.375}), _probabilities({4: 0.375, 6: 0.625})
    for members in ([a, b], [b, a]):
        votes = _vote(members)
        assert votes[0, 4] == votes[0, 6]
        assert votes.argmax(axis=1).tolist() == [4]


@pytest.mark.parametrize("k", [1, 2, 3, 4, 5])
def test_vote_rows_sum_to_one_and_argmax_is_the_plurality_winner(k):
    rng = np.random.default_rng(k)
    # Few confident classes make vote ties common.
    logits = rng.normal(size=(k, 500, 10)) + 4 * rng.integers(0, 2, size=(k, 500, 10))
    members = [(np.exp(m) / np.exp(m).sum(axis=1, keepdims=True)).astype("float32") for m in logits]
    votes = _vote(members)
    assert votes.shape == (500, 10)
    np.testing.assert_allclose(votes.sum(axis=1), 1.0, atol=1e-5)
    assert np.all(votes >= 0)
    np.testing.assert_array_equal(votes.argmax(axis=1), _vote_by_hand(members))


# --------------------------------------------------------------------------
# 2. A run and its directory
# --------------------------------------------------------------------------


def _check_run_dir(run_dir, epochs):
    run_dir = Path(run_dir)
    for name in ("recipe.json", "history.json", "log.txt", "model.keras", "result.json"):
        assert (run_dir / name).is_file(), name
    assert sorted(p.name for p in run_dir.glob("checkpoint-*.keras")) == [f"checkpoint-{epochs}.keras"]
    history = _history(run_dir)
    assert [entry["epoch"] for entry in history] == list(range(epochs))
    for entry in history:
        assert set(entry) - {"lockstep"} == HISTORY_KEYS  # lockstep: runs stepped together
        assert all(isinstance(value, (int, float)) for value in entry.values())
        assert 0 <= entry["validation_accuracy"] <= 1 and 0 <= entry["test_accuracy"] <= 1
        assert entry["seconds"] >= 0
    log = (run_dir / "log.txt").read_text().splitlines()
    assert sum(bool(re.search(r" epoch +\d+: loss ", line)) for line in log) == epochs
    return history


def test_conv_run_writes_its_directory_and_reports_test_at_best_validation(real_data, tmp_path):
    out = tmp_path / "conv1"
    result = training.train("conv1", epochs=3, out=out, **TINY, **TINY_CONV)
    history = _check_run_dir(out, 3)
    assert (out / "summary.json").is_file()

    recipe = json.loads((out / "recipe.json").read_text())
    assert recipe["name"] == "conv1" and recipe["epochs"] == 3 and recipe["seed"] == 0
    assert recipe["data"] == "mnist[:300]" and recipe["n_train"] == 300
    assert recipe["hidden"] == [8] and recipe["conv"] == [[2, 5]]
    assert recipe["cost"] == "log_likelihood" and recipe["eta"] == 0.1
    assert all(entry["eta"] == pytest.approx(0.1) for entry in history)

    epoch, validation, test = best_validation_test(history)
    assert result.name == "conv1" and result.best_run == 0 and len(result.runs) == 1
    assert result.history == history
    assert result.best_epoch == epoch
    assert result.validation_accuracy == validation
    assert result.test_accuracy == result.reported == test == history[epoch]["test_accuracy"]
    assert "best validation" in result.protocol
    assert result.run_dir == str(out) and result.wall_time > 0
    assert result.recipe["epochs"] == 3 and result.recipe["n_train"] == 300

    run = result.runs[0]
    assert json.loads((out / "result.json").read_text()) == json.loads(json.dumps(
        {"seed": 0, "history": history, "best_epoch": epoch, "validation_accuracy": validation,
         "test_accuracy": test, "reported": test, "wall_time": run.wall_time, "run_dir": str(out)}))
    assert run.wall_time == pytest.approx(sum(entry["seconds"] + entry["evaluation_seconds"] for entry in history))
    assert result.wall_time == pytest.approx(run.wall_time)

    summary = json.loads((out / "summary.json").read_text())
    assert summary["name"] == "conv1" and summary["best_run"] == 0
    assert summary["reported"] == result.reported and summary["test_accuracy"] == result.test_accuracy
    assert [r["seed"] for r in summary["runs"]] == [0] and "history" not in summary["runs"][0]

    # model.keras is the last epoch's model.
    model = keras.models.load_model(out / "model.keras")
    test_set = _test_subset()
    accuracy = np.mean(model.predict(test_set.x, verbose=0).argmax(axis=1) == test_set.y)
    assert accuracy == pytest.approx(history[-1]["test_accuracy"])


def test_chapter1_run_reports_peak_test(real_data, tmp_path):
    result = training.train("shallow_sigmoid", epochs=3, out=tmp_path / "run", hidden=(8,), **TINY)
    history = _check_run_dir(tmp_path / "run", 3)
    tests = [entry["test_accuracy"] for entry in history]
    assert result.reported == result.test_accuracy == max(tests)
    assert result.best_epoch == tests.index(max(tests))
    assert result.validation_accuracy == history[result.best_epoch]["validation_accuracy"]
    assert "peak test" in result.protocol


def test_an_experiment_id_trains_that_experiment_recipe(real_data, tmp_path):
    """train("C3-19") is no_hidden_sigmoid with η = 10, λ = 20 on 1,000 images, scored on 100."""
    result = nnzoo.train("C3-19", epochs=1, out=tmp_path / "run", verbose=0, n_test=100)
    assert result.name == "no_hidden_sigmoid"
    assert result.protocol.startswith("validation accuracy after the first epoch")  # the book quotes epoch 0
    recipe = json.loads((tmp_path / "run" / "recipe.json").read_text())
    assert (recipe["eta"], recipe["lmbda"], recipe["data"], recipe["n_train"]) == (10.0, 20.0, "mnist[:1000]", 1000)
    assert recipe["n_validation"] == 100 and recipe["epochs"] == 1  # the argument overrides the book's 30
    default = training.train("no_hidden_sigmoid", epochs=1, out=tmp_path / "card", verbose=0, n_validation=100,
                             n_test=100)
    assert default.recipe["eta"] != 10.0  # the card alone is another recipe


def test_an_experiment_is_selected_and_printed_by_its_own_protocol(real_data, tmp_path, capsys):
    """#14: C3-11 (network2 with 100 hidden, η 0.5) is the book's 97.92% on validation, not the card's test number."""
    result = nnzoo.train("C3-11", epochs=2, data="mnist[:500]", out=tmp_path / "run", n_test=200)
    assert result.protocol.startswith("peak validation accuracy")
    assert result.reported == max(entry["validation_accuracy"] for entry in result.history)
    assert "book 97.92% validation (C3-11; this run differs: epochs 2 vs 30" in capsys.readouterr().out
    quiet = nnzoo.train("C3-15-large", epochs=1, data="mnist[:200]", out=tmp_path / "other", n_test=200)
    assert quiet.protocol.startswith("peak validation accuracy")


# --------------------------------------------------------------------------
# 3. Resume
# --------------------------------------------------------------------------


def test_resume_continues_after_the_last_completed_epoch(real_data, tmp_path):
    out = tmp_path / "run"
    first = training.train("shallow_sigmoid", epochs=2, out=out, hidden=(8,), **TINY)
    assert len(first.history) == 2
    second = training.train("shallow_sigmoid", epochs=4, out=out, hidden=(8,), **TINY)
    history = _check_run_dir(out, 4)
    assert [entry["epoch"] for entry in second.history] == [0, 1, 2, 3]
    assert history[:2] == first.history  # the first two epochs are kept, not re-run
    assert json.loads((out / "recipe.json").read_text())["epochs"] == 4
    log = (out / "log.txt").read_text()
    assert "resuming shallow_sigmoid (seed 0) after epoch 1" in log


def test_resume_refuses_fewer_epochs_than_done(real_data, tmp_path):
    out = tmp_path / "run"
    training.train("shallow_sigmoid", epochs=2, out=out, hidden=(8,), **TINY)
    with pytest.raises(TrainingError, match=r"already holds 2 epochs\. Received: epochs=1"):
        training.train("shallow_sigmoid", epochs=1, out=out, hidden=(8,), **TINY)
    assert json.loads((out / "recipe.json").read_text())["epochs"] == 2


def test_resume_refuses_other_evaluation_sets(real_data, tmp_path):
    out = tmp_path / "run"
    training.train("shallow_sigmoid", epochs=1, out=out, hidden=(8,), **TINY)
    with pytest.raises(TrainingError, match="another recipe"):
        training.train("shallow_sigmoid", epochs=2, out=out, hidden=(8,), **dict(TINY, n_test=100))


def test_resume_without_checkpoint_starts_over(real_data, tmp_path):
    out = tmp_path / "run"
    training.train("shallow_sigmoid", epochs=1, out=out, hidden=(8,), **TINY)
    (out / "checkpoint-1.keras").unlink()
    result = training.train("shallow_sigmoid", epochs=2, out=out, hidden=(8,), **TINY)
    assert [entry["epoch"] for entry in result.history] == [0, 1]
    assert "starting shallow_sigmoid over" in (out / "log.txt").read_text()


@pytest.mark.parametrize("name, overrides", [
    ("shallow_sigmoid", dict(hidden=(8,))),  # chapters 1-5: each epoch reshuffled
    ("conv2_dropout", dict(hidden=(16, 16), conv=((2, 5), (3, 5)))),  # fixed order; fresh dropout masks
])
def test_resumed_run_matches_an_uninterrupted_one(real_data, tmp_path, name, overrides):
    """An epoch's data order and dropout masks depend only on (seed, epoch); the checkpoint holds the optimizer.

    Keras does not save a SeedGenerator's position, so before the masks were restarted each epoch a resumed
    conv2_dropout run drew its first epoch's masks again (and, on the fixed order, saw the same image-mask pairs).
    """
    whole = training.train(name, epochs=3, out=tmp_path / "whole", **overrides, **TINY)
    training.train(name, epochs=2, out=tmp_path / "resumed", **overrides, **TINY)
    resumed = training.train(name, epochs=3, out=tmp_path / "resumed", **overrides, **TINY)
    for key in ("validation_accuracy", "test_accuracy", "loss", "accuracy"):
        np.testing.assert_allclose([e[key] for e in resumed.history], [e[key] for e in whole.history],
                                   atol=1e-6, err_msg=key)
    weights = [keras.models.load_model(tmp_path / d / "model.keras").get_weights() for d in ("whole", "resumed")]
    for a, b in zip(*weights):
        np.testing.assert_allclose(a, b, atol=1e-6)
    # The record's wall time counts the epochs of every session, not only the last process's.
    assert resumed.wall_time == pytest.approx(sum(e["seconds"] + e["evaluation_seconds"] for e in resumed.history))


def test_each_epoch_restarts_the_dropout_streams_from_its_own_seed():
    from nnzoo import seeds

    model = nnzoo.build("conv2_dropout", seed=0, hidden=(16, 16), conv=((2, 5), (3, 5)))
    dropout = model.get_layer("dropout_1")

    def mask(seed):
        assert seeds.start_random_layers(model, seed) == 3  # the three Dropout layers of the head
        return keras.ops.convert_to_numpy(dropout(np.ones((1, 1000), "float32"), training=True)) > 0

    first, again, other = mask(11), mask(11), mask(12)
    np.testing.assert_array_equal(first, again)
    assert 0.4 < first.mean() < 0.6 and (first != other).mean() > 0.3  # p = 0.5: two draws, not one


def test_killed_cli_run_resumes_to_completion(real_data, tmp_path):
    out = tmp_path / "run"
    command = [sys.executable, "-m", "nnzoo.cli", "train", "shallow_sigmoid", "--data", "mnist[:2000]",
               "--epochs", "6", "--out", str(out), "--set", "hidden=[8]"]
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    history_path = out / "history.json"
    process = subprocess.Popen(command, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while True:
            if history_path.exists() and len(json.loads(history_path.read_text())) >= 2:
                break
            if process.poll() is not None:
                pytest.fail(f"nnzoo train ended (rc {process.returncode}) before 2 epochs:\n"
                            f"{process.stderr.read().decode()[-3000:]}")
            if time.monotonic() > deadline:
                pytest.fail("nnzoo train did not complete 2 epochs within 60 s")
            time.sleep(0.01)
        assert process.poll() is None, "the run finished before it could be killed"
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        process.stderr.close()
    assert process.returncode == -signal.SIGKILL
    killed_at = len(json.loads(history_path.read_text()))
    assert 2 <= killed_at < 6
    assert not (out / "result.json").exists()

    rerun = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    history = _history(out)
    assert [entry["epoch"] for entry in history] == [0, 1, 2, 3, 4, 5]
    log = (out / "log.txt").read_text()
    assert f"resuming shallow_sigmoid (seed 0) after epoch {killed_at - 1}" in log
    assert (out / "model.keras").is_file() and (out / "checkpoint-6.keras").is_file()
    assert json.loads((out / "result.json").read_text())["history"] == history
    assert "shallow_sigmoid: measured" in rerun.stdout


def test_sigterm_stops_like_ctrl_c_and_leaves_no_lock(real_data, tmp_path):
    out = tmp_path / "run"
    command = [sys.executable, "-m", "nnzoo.cli", "train", "shallow_sigmoid", "--data", "mnist[:2000]",
               "--epochs", "60", "--out", str(out), "--set", "hidden=[8]"]
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    process = subprocess.Popen(command, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while not (out / "history.json").exists():
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"nnzoo train ended (rc {process.returncode}) or took 60 s before an epoch:\n"
                            f"{process.stderr.read()[-3000:] if process.poll() is not None else ''}")
            time.sleep(0.01)
        process.send_signal(signal.SIGTERM)
        _, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 130, err[-3000:]
    done = len(_history(out))
    assert 1 <= done < 60 and not (out / "result.json").exists()
    assert (f"nnzoo: stopped after epoch {done - 1}; the completed epochs are kept in {out}. Re-run the same "
            f"command to resume.") in err
    assert not (out / ".lock").exists()


def test_a_finished_train_run_again_trains_nothing_and_says_so(real_data, tmp_path, capsys):
    out, logs = tmp_path / "run", tmp_path / "tensorboard"
    command = ["train", "shallow_sigmoid", "--data", "mnist[:300]", "--epochs", "2", "--out", str(out),
               "--set", "hidden=[8]", "--tensorboard", str(logs)]
    assert cli.main(command) == 0
    first = capsys.readouterr().out
    log, events = (out / "log.txt").read_text(), sorted(p.name for p in logs.rglob("*") if p.is_file())
    assert not (out / ".lock").exists()
    assert cli.main(command) == 0
    again = capsys.readouterr().out
    assert again.splitlines()[0] == f"shallow_sigmoid: {out} is complete (2 epochs, 1 run); nothing to train."
    assert again.splitlines()[-1] == first.splitlines()[-1] and "shallow_sigmoid: measured" in again
    assert (out / "log.txt").read_text() == log and sorted(p.name for p in logs.rglob("*") if p.is_file()) == events
    assert not (out / ".lock").exists()
    assert cli.main([*command[:5], "3", *command[6:]]) == 0  # more epochs: trains on
    assert len(_history(out)) == 3 and "is complete" not in capsys.readouterr().out


# --------------------------------------------------------------------------
# 4. Refusals
# --------------------------------------------------------------------------


def test_run_dir_of_another_recipe_is_refused(real_data, tmp_path):
    out = tmp_path / "run"
    training.train("shallow_sigmoid", epochs=1, out=out, hidden=(8,), **TINY)
    before = {name: (out / name).read_bytes() for name in ("recipe.json", "history.json")}
    with pytest.raises(TrainingError, match="another recipe"):
        training.train("shallow_sigmoid", epochs=2, out=out, hidden=(8,), eta=0.5, **TINY)
    with pytest.raises(TrainingError, match="another recipe"):
        training.train("shallow_softmax", epochs=1, out=out, hidden=(8,), **TINY)
    with pytest.raises(TrainingError, match="another recipe"):
        training.train("shallow_sigmoid", epochs=1, out=out, hidden=(8,), seed=1, **TINY)
    assert {name: (out / name).read_bytes() for name in before} == before


@pytest.fixture
def no_data(monkeypatch):
    def fail(*args, **kwargs):
        raise AssertionError("data.load_book_split must not be called for invalid arguments")

    monkeypatch.setattr(data, "load_book_split", fail)


@pytest.mark.parametrize("overrides, match", [
    (dict(eta=-1), "eta"),
    (dict(eta=float("nan")), "eta"),
    (dict(hidden=(0,)), "hidden"),
    (dict(cost="hinge"), "cost"),
    (dict(not_an_option=1), "Unknown override"),
    (dict(epochs_per_run=1), "Unknown override"),
])
def test_bad_overrides_fail_before_any_data_is_read(no_data, tmp_path, overrides, match):
    with pytest.raises(ValueError, match=match):
        training.train("shallow_sigmoid", out=tmp_path / "run", **overrides)
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("arguments, match", [
    (dict(epochs=0), "epochs"), (dict(epochs=-3), "epochs"), (dict(epochs=2.0), "epochs"),
    (dict(epochs=True), "epochs"), (dict(runs=0), "runs"), (dict(runs=1.5), "runs"),
    (dict(runs=False), "runs"), (dict(seed=-1), "seed"), (dict(seed=0.5), "seed"), (dict(seed=True), "seed"),
])
def test_bad_epochs_runs_seed_are_refused(no_data, tmp_path, arguments, match):
    with pytest.raises(ValueError, match=match):
        training.train("shallow_sigmoid", out=tmp_path / "run", **arguments)
    assert not (tmp_path / "run").exists()


def test_unknown_model_is_refused(no_data):
    with pytest.raises(ValueError, match="Did you mean: shallow_sigmoid"):
        training.train("shallow_sigmoi")


# --------------------------------------------------------------------------
# 5. NaN stops the run
# --------------------------------------------------------------------------


@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_non_finite_cost_stops_the_run_and_keeps_the_completed_epochs(real_data, tmp_path, monkeypatch, bad):
    real_fit_epoch = training.fit_epoch
    calls = []

    def fit_epoch(*args, **kwargs):
        logs = real_fit_epoch(*args, **kwargs)
        calls.append(1)
        if len(calls) == 3:  # epoch 2's cost is not finite
            logs["loss"] = bad
        return logs

    monkeypatch.setattr(training, "fit_epoch", fit_epoch)
    out = tmp_path / "run"
    with pytest.raises(TrainingError, match=f"became {bad} in epoch 2") as error:
        training.train("shallow_sigmoid", epochs=4, out=out, hidden=(8,), **TINY)
    assert "Epochs 0-1 are kept" in str(error.value) and "Lower eta" in str(error.value)
    assert [entry["epoch"] for entry in _history(out)] == [0, 1]
    assert (out / "checkpoint-2.keras").is_file()
    assert not (out / "model.keras").exists() and not (out / "result.json").exists()

    monkeypatch.setattr(training, "fit_epoch", real_fit_epoch)
    result = training.train("shallow_sigmoid", epochs=4, out=out, hidden=(8,), **TINY)
    assert [entry["epoch"] for entry in result.history] == [0, 1, 2, 3]


def test_absurd_eta_gives_a_real_nan(real_data, tmp_path):
    out = tmp_path / "run"
    with pytest.raises(TrainingError, match="cost of network2 became nan in epoch 0") as error:
        training.train("network2", epochs=2, out=out, hidden=(8,), eta=1e30, **TINY)
    assert "1e+30" in str(error.value) and str(error.value).endswith("No epoch completed.")
    assert not (out / "history.json").exists() and not (out / "model.keras").exists()


# --------------------------------------------------------------------------
# 6. runs=k and ensembles
# --------------------------------------------------------------------------


@pytest.mark.parametrize("name, overrides", [("shallow_sigmoid", dict(hidden=(8,))), ("conv1", TINY_CONV)])
def test_best_of_two_runs(real_data, tmp_path, name, overrides):
    out = tmp_path / "runs"
    result = training.train(name, epochs=2, runs=2, out=out, **TINY, **overrides)
    protocol = Protocol.for_card(registry.card(name))
    assert [run.seed for run in result.runs] == [0, 1]
    keys = []
    for index, run in enumerate(result.runs):
        run_dir = out / f"run-{index + 1}"
        assert run.run_dir == str(run_dir)
        history = _check_run_dir(run_dir, 2)
        assert json.loads((run_dir / "recipe.json").read_text())["seed"] == index
        assert run.history == history
        epoch, validation, test, reported = protocol.select(history)
        assert (run.best_epoch, run.validation_accuracy, run.test_accuracy, run.reported) == (
            epoch, validation, test, reported)
        keys.append(validation if protocol.rule == "best_validation_test" else reported)
    assert result.runs[0].history != result.runs[1].history  # independent seeds
    assert result.best_run == keys.index(max(keys))
    best = result.runs[result.best_run]
    assert result.reported == best.reported and result.test_accuracy == best.test_accuracy
    assert result.history == best.history and result.best_epoch == best.best_epoch
    summary = json.loads((out / "summary.json").read_text())
    assert summary["best_run"] == result.best_run and [r["seed"] for r in summary["runs"]] == [0, 1]
    assert not (out / "history.json").exists()


def test_ensemble_reports_the_vote_of_its_saved_members(real_data, tmp_path):
    out = tmp_path / "ensemble"
    result = training.train("conv2_dropout_ensemble", epochs=2, out=out, n_members=2, hidden=(8, 8), eta=0.1,
                            **TINY)
    assert [run.seed for run in result.runs] == [member_seed(0, 1), member_seed(0, 2)] == [0, 1]
    test_set = _test_subset()
    probabilities = []
    for index in (1, 2):
        member_dir = out / f"member-{index}"
        _check_run_dir(member_dir, 2)
        recipe = json.loads((member_dir / "recipe.json").read_text())
        assert recipe["name"] == "conv2_dropout" and recipe["hidden"] == [8, 8] and "n_members" not in recipe
        model = keras.models.load_model(member_dir / "model.keras")
        assert [layer.units for layer in model.layers if isinstance(layer, keras.layers.Dense)] == [8, 8, 10]
        probabilities.append(model.predict(test_set.x, verbose=0))
    vote_accuracy = float(np.mean(_vote_by_hand(probabilities) == test_set.y))
    assert result.reported == result.test_accuracy == pytest.approx(vote_accuracy)
    assert "plurality vote" in result.protocol
    summary = json.loads((out / "summary.json").read_text())
    assert summary["reported"] == result.reported and len(summary["runs"]) == 2


# --------------------------------------------------------------------------
# 7. The nnzoo train verb
# --------------------------------------------------------------------------


def test_cli_set_values_are_parsed(monkeypatch, capsys):
    received = {}

    def fake_train(name, **kwargs):
        received.update(kwargs, name=name)
        raise training.TrainingError("stop here")

    monkeypatch.setattr(runner, "train", fake_train)
    code = cli.main(["train", "shallow_sigmoid", "--epochs", "3", "--runs", "2", "--seed", "5",
                     "--data", "mnist[:300]", "--out", "somewhere", "--set", "hidden=[8, 4]",
                     "--set", "eta=0.5", "--set", "cost=cross_entropy", "--set", "lmbda=5", "-q"])
    assert code == 2 and "stop here" in capsys.readouterr().err
    assert received == dict(name="shallow_sigmoid", epochs=3, runs=2, data="mnist[:300]", seed=5,
                            out="somewhere", verbose=0, callbacks=None, processes=1, hidden=(8, 4), eta=0.5,
                            cost="cross_entropy", lmbda=5)
    assert isinstance(received["hidden"], tuple)
    assert cli._parse_value("[8]") == (8,) and cli._parse_value("true") is True
    assert cli._parse_value("relu") == "relu" and cli._parse_value("1e-3") == 0.001


def test_cli_quiet_run_prints_one_line(real_data, tmp_path, capsys):
    out = tmp_path / "run"
    code = cli.main(["train", "shallow_sigmoid", "--data", "mnist[:300]", "--epochs", "2", "--out", str(out),
                     "--set", "hidden=[8]", "-q"])
    assert code == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("shallow_sigmoid: ") and lines[0].endswith(f"run dir {out}")
    assert json.loads((out / "recipe.json").read_text())["hidden"] == [8]
    assert len(_history(out)) == 2


@pytest.mark.parametrize("setting", ["hidden", "=3"])
def test_cli_set_without_key_value_exits_2(no_data, capsys, setting):
    assert cli.main(["train", "shallow_sigmoid", "--set", setting]) == 2
    assert "--set expects key=value" in capsys.readouterr().err


def test_cli_bad_override_exits_2(no_data, capsys):
    assert cli.main(["train", "shallow_sigmoid", "--set", "eta=-1"]) == 2
    assert "eta" in capsys.readouterr().err


def test_cli_unknown_model_exits_2_with_a_suggestion(no_data, capsys):
    assert cli.main(["train", "shallow_sigmoi", "--epochs", "1"]) == 2
    assert "Did you mean: shallow_sigmoid" in capsys.readouterr().err


@pytest.mark.parametrize("name, overrides", [
    ("conv1", TINY_CONV),  # chapter 6: one fixed order for every run
    ("conv2_dropout", dict(conv=((2, 5), (3, 5)), hidden=(8, 8))),  # each run its own dropout masks
    ("network2", dict(hidden=(8,))),  # chapter 3: each run reshuffled with its own seed, L2 as weight decay
])
def test_runs_trained_together_equal_runs_trained_alone(real_data, tmp_path, name, overrides):
    """Runs at the same epoch step in lockstep; run k is exactly the run a separate training with
    seed + k - 1 makes (its own order and dropout masks included)."""
    together = training.train(name, epochs=2, runs=2, seed=4, out=tmp_path / "together", **overrides, **TINY)
    for index, seed in enumerate((4, 5)):
        alone = training.train(name, epochs=2, runs=1, seed=seed, out=tmp_path / f"alone-{seed}", **overrides, **TINY)
        got, want = together.runs[index].history, alone.runs[0].history
        assert [e["epoch"] for e in got] == [0, 1] and together.runs[index].seed == seed
        assert all(e["lockstep"] == 2 for e in got) and all("lockstep" not in e for e in want)
        assert all(a["seconds"] == b["seconds"] for a, b in zip(got, together.runs[1 - index].history))
        for a, b in zip(got, want):
            assert a["loss"] == pytest.approx(b["loss"], rel=1e-4)
            assert a["validation_accuracy"] == pytest.approx(b["validation_accuracy"], abs=0.006)
    # Epochs stepped together count once in the wall time; each run's evaluation counts.
    histories = [run.history for run in together.runs]
    assert together.wall_time == pytest.approx(
        sum(e["seconds"] for e in histories[0]) + sum(e["evaluation_seconds"] for h in histories for e in h))


def test_runs_trained_in_processes_equal_runs_trained_in_lockstep(real_data, tmp_path):
    """processes=k deals the runs out to k processes (run i to process i mod k); every run makes the same updates
    as in one process, its dropout masks included, and the overlapping processes' time counts once."""
    overrides = dict(conv=((2, 5), (3, 5)), hidden=(8, 8), epochs=2, runs=3, seed=4, **TINY)
    apart = training.train("conv2_dropout", out=tmp_path / "apart", processes=2, **overrides)
    together = training.train("conv2_dropout", out=tmp_path / "together", **overrides)
    timing = ("seconds", "evaluation_seconds", "lockstep", "processes")
    for got, want in zip(apart.runs, together.runs, strict=True):
        assert got.seed == want.seed
        assert [{k: v for k, v in e.items() if k not in timing} for e in got.history] == \
               [{k: v for k, v in e.items() if k not in timing} for e in want.history]
    assert [[e.get("lockstep", 1) for e in run.history] for run in apart.runs] == [[2, 2], [1, 1], [2, 2]]
    assert all(e["processes"] == 2 for run in apart.runs for e in run.history)
    assert apart.reported == together.reported and apart.best_run == together.best_run
    histories = [run.history for run in apart.runs]
    assert apart.wall_time == pytest.approx(sum((e["seconds"] / e.get("lockstep", 1) + e["evaluation_seconds"]) / 2
                                                for h in histories for e in h))
    assert "(one of 2 processes)" in (tmp_path / "apart" / "run-2" / "log.txt").read_text()


def test_an_ensemble_whose_members_trained_in_processes_votes_as_in_lockstep(real_data, tmp_path):
    """The members train in the processes; this one, which never holds the training images, reads their models
    back and votes on the test images."""
    overrides = dict(epochs=1, n_members=2, conv=((2, 5),), hidden=(8, 8), **TINY)
    apart = training.train("conv2_dropout_ensemble", out=tmp_path / "apart", processes=2, **overrides)
    together = training.train("conv2_dropout_ensemble", out=tmp_path / "together", **overrides)
    assert apart.reported == together.reported == apart.test_accuracy
    assert [run.test_accuracy for run in apart.runs] == [run.test_accuracy for run in together.runs]
    assert all(entry["processes"] == 2 for run in apart.runs for entry in run.history)


def test_one_run_with_processes_trains_in_a_process_of_its_own(real_data, tmp_path):
    alone = training.train("network2", out=tmp_path / "apart", epochs=1, processes=2, **TINY)
    here = training.train("network2", out=tmp_path / "here", epochs=1, **TINY)
    assert [e["test_accuracy"] for e in alone.history] == [e["test_accuracy"] for e in here.history]
    assert all("processes" not in entry for entry in alone.history)  # one process trained: nothing overlapped


def test_a_run_that_diverges_in_another_process_raises_here(real_data, tmp_path):
    with pytest.raises(training.Diverged, match="No epoch completed") as caught:
        training.train("network2", out=tmp_path / "run", runs=2, processes=2, eta=1e38, **TINY)
    assert any("Raised in the process running _train_group" in note for note in caught.value.__notes__)


@pytest.mark.parametrize("kwargs, message", [
    (dict(processes=0), "processes must be a positive integer. Received: processes=0"),
    (dict(processes=True), "processes must be a positive integer"),
    (dict(processes=2, runs=2, callbacks=lambda k: []), "Pass processes=1 to use callbacks"),
])
def test_processes_are_validated(no_data, kwargs, message):
    with pytest.raises(ValueError, match=message):
        training.train("shallow_sigmoid", **kwargs)


def test_cli_tensorboard_needs_one_process(no_data, capsys, tmp_path):
    assert cli.main(["train", "shallow_sigmoid", "--runs", "2", "--processes", "2", "--tensorboard",
                     str(tmp_path)]) == 2
    assert "Pass --processes 1 with --tensorboard" in capsys.readouterr().err


def test_finished_runs_are_not_dealt_out_to_processes(real_data, tmp_path):
    """A run that holds all its epochs (an ensemble member copied from a finished run) only finishes; the
    processes sharing the wall time are those that train."""
    overrides = dict(conv=((2, 5),), hidden=(8, 8), epochs=1, runs=2, **TINY)
    first = training.train("conv2_dropout", out=tmp_path / "first", **overrides)
    shutil.copytree(tmp_path / "first" / "run-1", tmp_path / "second" / "run-1")
    second = training.train("conv2_dropout", out=tmp_path / "second", processes=2, **overrides)
    assert second.runs[0].history == first.runs[0].history  # finished as it was, not trained again
    assert all("processes" not in entry for entry in second.runs[1].history)  # trained alone
    assert "(one of" not in (tmp_path / "second" / "run-2" / "log.txt").read_text()
