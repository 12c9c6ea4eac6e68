"""``nnzoo.rundir.RunDir``: the one owner of a run directory (#31), and what it refuses (#29).

Links planted in a run directory are never written through (#29.1), a record's paths stay inside it (#29.4),
a record of another JSON type is named (#29.12), a failed write leaves nothing half written (#29.11).
"""

import errno
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

import nnzoo
from nnzoo import cli, rundir
from nnzoo.rundir import LinkRefused, RecordError, RunDir

TRAIN = ["train", "network2", "--epochs", "1", "--data", "mnist[:200]", "-q"]


# -- layout and records


def test_the_layout_of_one_run_best_of_k_and_an_ensemble(tmp_path):
    out = RunDir(tmp_path / "out")
    assert out.runs(1) == [out]
    assert [run.path.name for run in out.runs(3)] == ["run-1", "run-2", "run-3"]
    assert [member.path.name for member in out.members([1, 2])] == ["member-1", "member-2"]
    for name in ("run-2", "run-10", "run-x", "member-1"):
        (out.path / name).mkdir(parents=True)
    assert [run.path.name for run in out.runs()] == ["run-2", "run-10"] and out.is_ensemble
    with pytest.raises(RecordError, match=r"'\.\.' is not a run of .*expected run-K or member-K"):
        out.child("..")


@pytest.mark.parametrize("name, text, expected", [
    (rundir.RECIPE, "[]", r"'.*recipe.json' \(a run's recipe\) holds a list; expected an object"),
    (rundir.HISTORY, "5", r"'.*history.json' \(a run's history\) holds a number; expected a list"),
    (rundir.HISTORY, "[5]", r"history.json' \(a run's history\) holds a list of other things than objects"),
    (rundir.SUMMARY, '"abc"', r"summary.json' \(a runs summary\) holds a string; expected an object"),
    (rundir.RESULT, "null", r"result.json' \(a run's result\) holds null; expected an object"),
])
def test_every_record_is_validated_and_named(tmp_path, name, text, expected):
    run = RunDir(tmp_path)
    (tmp_path / name).write_text(text)
    read = {rundir.RECIPE: run.recipe, rundir.HISTORY: run.history, rundir.SUMMARY: run.summary,
            rundir.RESULT: run.result}[name]
    with pytest.raises(RecordError, match=expected):
        read()


def test_a_history_of_five_is_named_by_nnzoo_load(tmp_path):
    (tmp_path / rundir.HISTORY).write_text("5")
    with pytest.raises(ValueError, match=r"history.json' \(a run's history\) holds a number; expected a list"):
        nnzoo.load(tmp_path)


@pytest.mark.parametrize("run_dir", ["..", "/etc", "../other/run-1", "run-1/../..", 5])
def test_a_summary_that_points_outside_the_run_directory_is_refused(tmp_path, run_dir):
    out = tmp_path / "out"
    (out / "run-1").mkdir(parents=True)
    (tmp_path / rundir.SELECTED_WEIGHTS).write_bytes(b"the parent's weights")
    (out / rundir.SUMMARY).write_text(json.dumps({"best_run": 0, "runs": [{"run_dir": run_dir}]}))
    if run_dir == "../other/run-1":  # a run-K name elsewhere: only its name counts, inside out
        assert RunDir(out).best_run().path == out / "run-1"
        return
    with pytest.raises(RecordError, match=r"summary.json' names .* as the best run; expected run-K|"
                                          r"summary.json' is not a summary nnzoo wrote"):
        RunDir(out).trained_weights()
    with pytest.raises(ValueError, match="summary.json"):
        nnzoo.build("network2", weights=str(out))


# -- safe writes


def test_write_bytes_replaces_atomically_and_leaves_no_temporary_file(tmp_path):
    rundir.write_json(tmp_path / "a.json", {"x": 1})
    (tmp_path / "a.json.tmp").write_text("left by a kill")
    rundir.write_json(tmp_path / "a.json", {"x": 2})
    assert json.loads((tmp_path / "a.json").read_text()) == {"x": 2}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.json"]


@pytest.mark.parametrize("planted", ["a.json", "a.json.tmp"])
def test_write_bytes_never_writes_through_a_link(tmp_path, planted):
    victim = tmp_path / "victim"
    victim.write_text("precious")
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / planted).symlink_to(victim)
    with pytest.raises(LinkRefused, match=rf"{planted}' is a symbolic link \(to '{victim}'\)"):
        rundir.write_json(tmp_path / "run" / "a.json", {"x": 1})
    assert victim.read_text() == "precious"
    with pytest.raises(LinkRefused):
        rundir.append_line(tmp_path / "run" / planted, "a log line")
    assert victim.read_text() == "precious"


def test_a_full_disk_leaves_nothing_half_written(tmp_path, monkeypatch):
    target = tmp_path / rundir.SELECTED_WEIGHTS
    target.write_bytes(b"the previous weights")
    written = []

    def full(handle, data):
        if written:
            raise OSError(errno.ENOSPC, "No space left on device")
        written.append(len(data))
        return min(len(data), 5)  # a first short write, then the disk is full

    monkeypatch.setattr(rundir.os, "write", full)
    with pytest.raises(OSError, match=f"No space left on device while writing {target}; nothing was half written"
                                      f".*re-run the same command to resume") as caught:
        rundir.write_bytes(target, b"new weights, longer than five bytes")
    assert caught.value.errno == errno.ENOSPC
    assert target.read_bytes() == b"the previous weights"
    assert sorted(p.name for p in tmp_path.iterdir()) == [rundir.SELECTED_WEIGHTS]


def test_the_lock_is_removed_after_use_and_refused_as_a_link(tmp_path):
    with RunDir(tmp_path).lock():
        assert (tmp_path / rundir.LOCK).read_text() == str(os.getpid())
    assert not (tmp_path / rundir.LOCK).exists()
    (tmp_path / rundir.LOCK).symlink_to(tmp_path / "victim")
    with pytest.raises(LinkRefused, match=r"\.lock' is a symbolic link"):
        with RunDir(tmp_path).lock():
            pass
    assert not (tmp_path / "victim").exists()


@pytest.mark.parametrize("planted", [rundir.LOCK, "recipe.json.tmp"])
def test_train_refuses_a_planted_link_and_leaves_the_victim_untouched(tmp_path, capsys, planted, mnist_split):
    victim = tmp_path / "victim"
    victim.write_text("precious")
    out = tmp_path / "out"
    out.mkdir()
    (out / rundir.RECIPE).write_text("{}")  # a run directory whose first epoch never ended
    (out / planted).symlink_to(victim)
    assert cli.main([*TRAIN, "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and f"{planted}' is a symbolic link (to '{victim}')" in err, err
    assert victim.read_text() == "precious"
    assert not (out / rundir.RECIPE).is_symlink() and (out / planted).is_symlink()


# -- the trained model: every reader means the same weights (#31)


def test_every_reader_of_a_run_directory_yields_the_protocols_pick(tmp_path, capsys, mnist_split):
    from nnzoo import training
    from nnzoo.protocols import Protocol

    out = tmp_path / "runs"
    result = training.train("shallow_sigmoid", epochs=2, runs=2, data="mnist[:300]", n_validation=200, n_test=200,
                            verbose=0, hidden=(8,), protocol=Protocol(shuffle=True, rule="first_test"), out=out)
    best = RunDir(out).best_run()
    assert best.path == out / f"run-{result.best_run + 1}" and result.best_epoch == 0 == RunDir(out).selected_epoch()
    picked = nnzoo.build("shallow_sigmoid", hidden=(8,), compile=False)
    picked.load_weights(best.selected_file)
    final = rundir.load_model_file(best.model_file, compile=False).get_weights()
    expected = picked.get_weights()
    assert any(not (a == b).all() for a, b in zip(expected, final)), "the final and the selected epoch must differ"

    def same(weights):
        return len(weights) == len(expected) and all((a == b).all() for a, b in zip(weights, expected))

    assert same(nnzoo.build("shallow_sigmoid", hidden=(8,), weights=str(out)).get_weights())
    assert same(nnzoo.load(out).get_weights())
    assert same(nnzoo.load_weights(nnzoo.build("shallow_sigmoid", hidden=(8,), compile=False), out).get_weights())
    assert cli.main(["export", "shallow_sigmoid", "--weights", str(out), "--out", str(tmp_path / "sm")]) == 0
    version = Path(capsys.readouterr().out.strip().splitlines()[-1])
    served = nnzoo.load_weights(nnzoo.build("shallow_sigmoid", hidden=(8,), compile=False), version)
    assert same(served.get_weights())


def test_a_full_disk_during_training_is_one_line_and_resumable(tmp_path, capsys, mnist_split):
    disk = tmp_path / "disk"
    disk.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(disk)], capture_output=True)
    if mounted.returncode:
        pytest.skip(f"cannot mount a 1 MB tmpfs here: {mounted.stderr.decode().strip()}")
    try:
        command = ["train", "network2", "--epochs", "2", "--data", "mnist[:300]", "--set", "hidden=[300]", "-q"]
        assert cli.main([*command, "--out", str(disk / "run")]) == 2
        err = capsys.readouterr().err
        assert len(err.strip().splitlines()) == 1 and "No space left on device while writing" in err, err
        left = sorted(p.name for p in (disk / "run").iterdir())
        assert not [name for name in left if name.endswith(".tmp") or name == rundir.LOCK], left
        shutil.copytree(disk / "run", tmp_path / "run")
    finally:
        subprocess.run(["umount", str(disk)], check=True)
    assert cli.main([*command, "--out", str(tmp_path / "run")]) == 0  # with space again, the same command resumes
    assert len(RunDir(tmp_path / "run").history()) == 2


def test_nnzoo_export_names_a_recipe_of_another_type(tmp_path, capsys):
    (tmp_path / rundir.RECIPE).write_text("[]")
    assert cli.main(["export", "network2", "--weights", str(tmp_path), "--out", str(tmp_path / "sm")]) == 2
    err = capsys.readouterr().err
    assert f"'{tmp_path / rundir.RECIPE}' (a run's recipe) holds a list; expected an object" in err
    assert len(err.strip().splitlines()) == 1 and not (tmp_path / "sm").exists()


@pytest.mark.parametrize("text, expected", [
    ("[]", r"experiment.json' \(an experiment's record\) holds a list; expected an object"),
    ("5", r"experiment.json' \(an experiment's record\) holds a number; expected an object"),
    ("{", r"experiment.json' \(an experiment's record\) is not valid JSON"),
])
def test_an_experiment_record_is_validated_and_named_by_every_reader(tmp_path, text, expected):
    from nnzoo import records, reproduce, results

    run = tmp_path / "C1-01"
    run.mkdir()
    (run / records.FILE).write_text(text)
    for read in (lambda: records.read(run), lambda: reproduce.is_complete(run),
                 lambda: results.load_records(tmp_path)):
        with pytest.raises(ValueError, match=expected):
            read()
    assert records.read(tmp_path / "none") is None
