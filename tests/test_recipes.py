"""Every recipe runs end to end on a small real subset with a one-epoch budget."""

import json
import runpy
import sys
from pathlib import Path

import pytest

from nnzoo import experiments, results

RECIPES = Path(__file__).resolve().parent.parent / "recipes"
CHAPTER_RECIPES = {"ch1.py": 1, "ch3.py": 3, "ch5.py": 5, "ch6.py": 6}


def run_script(name, argv, monkeypatch):
    monkeypatch.setattr(sys, "argv", [name, *argv])
    with pytest.raises(SystemExit) as stopped:
        runpy.run_path(str(RECIPES / name), run_name="__main__")
    assert stopped.value.code in (0, None)


@pytest.mark.parametrize("script", sorted(CHAPTER_RECIPES))
def test_chapter_recipe_runs_every_experiment(script, tmp_path, monkeypatch, mnist_split):
    argv = ["--subset", "60", "--epochs", "1", "--runs", "1", "--out", str(tmp_path), "-q"]
    run_script(script, argv, monkeypatch)
    for experiment in experiments.chapter(CHAPTER_RECIPES[script]):
        record = json.loads((tmp_path / f"{experiment.id}-subset60-epochs1" / "experiment.json").read_text())
        assert record["id"] == experiment.id
        assert record.get("measured") is not None or record.get("diverged")
        if record.get("measured") is not None:
            assert "subset of 60 images" in record["reduced_budget"]
            assert "values" in record["measured"] or 0 <= record["measured"]["accuracy"] <= 100


def test_a_smoke_test_never_blocks_the_full_run(tmp_path, monkeypatch, mnist_split):
    """#13.1: the README's smoke-test-then-full flow: a reduced run lives in a directory of its own."""
    run_script("ch1.py", ["--only", "C1-01", "--subset", "60", "--epochs", "1", "--runs", "1",
                          "--out", str(tmp_path), "-q"], monkeypatch)
    assert (tmp_path / "C1-01-subset60-epochs1" / "experiment.json").exists()
    assert not (tmp_path / "C1-01").exists()


def test_a_refused_run_directory_is_an_error_not_a_divergence(tmp_path, monkeypatch, capsys, mnist_split):
    """#13.1: a run directory of another recipe stops the recipe with exit 2; nothing is recorded as diverged."""
    target = tmp_path / "C1-03"
    run_script("ch1.py", ["--only", "C1-03", "--subset", "60", "--epochs", "1", "--runs", "1",
                          "--out", str(tmp_path), "-q"], monkeypatch)
    (tmp_path / "C1-03-subset60-epochs1").rename(target)  # now the full run's directory holds the smoke test
    monkeypatch.setattr(sys, "argv", ["ch1.py", "--only", "C1-03", "--runs", "1", "--out", str(tmp_path), "-q"])
    with pytest.raises(SystemExit) as stopped:
        runpy.run_path(str(RECIPES / "ch1.py"), run_name="__main__")
    assert stopped.value.code == 2
    error = capsys.readouterr().err
    assert "holds a run of another recipe (data: 'mnist[:60]' there, 'mnist' now" in error
    assert "diverged" not in json.loads((target / "experiment.json").read_text())


def test_ch1_network_main_job_runs(monkeypatch, capsys, mnist_split):
    monkeypatch.setattr(sys, "argv", ["ch1_network.py", "--epochs", "1"])
    runpy.run_path(str(RECIPES / "ch1_network.py"), run_name="__main__")
    out = capsys.readouterr().out
    assert "Epoch 0:" in out and "book:     95.42%" in out
    assert "differs:  epochs 1 vs 30, runs 1 vs 3 (this run vs the book's)" in out  # #30: an honest comparison


def test_baselines_recipe(tmp_path, monkeypatch, capsys, mnist_split):
    run_script("ch1_baselines.py", ["--out", str(tmp_path)], monkeypatch)
    out = capsys.readouterr().out
    assert "C1-06 average darkness: measured 22.25% (test), book 22.25% (test)" in out
    record = json.loads((tmp_path / "C1-06" / "experiment.json").read_text())
    assert record["kind"] == "baseline" and record["measured"]["accuracy"] == 22.25 and not record["reduced_budget"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["C1-05", "C1-06"]  # the SVM only with --svm


def test_ensemble_vote_recipe(tmp_path, monkeypatch, capsys, mnist_split):
    import nnzoo

    for k in (1, 2):
        member = tmp_path / f"member-{k}"
        member.mkdir()
        nnzoo.build("conv2_dropout", seed=k, hidden=(8, 8)).save(member / "checkpoint-1.keras")
    monkeypatch.setattr(sys, "argv", ["ensemble_vote.py", str(tmp_path)])
    runpy.run_path(str(RECIPES / "ensemble_vote.py"), run_name="__main__")
    assert "plurality vote of 2" in capsys.readouterr().out


def test_results_table_renders_the_records(tmp_path, monkeypatch, mnist_split):
    run_script("ch1.py", ["--only", "C1-01", "C1-03", "--subset", "60", "--epochs", "1", "--runs", "1",
                          "--out", str(tmp_path), "-q"], monkeypatch)
    records = results.load_records(tmp_path)
    assert sorted(records) == ["C1-01", "C1-03"]
    table = results.render(records)
    row = next(line for line in table.splitlines() if line.startswith("| C1-01 |"))
    assert "95.42 (test)" in row and "⚠" in row
    assert "reduced budget: 1 of 30 epochs; 1 of 3 runs; subset of 60 images" in table
    assert "⚠ = reduced budget" in table
    full = {k: {**r, "reduced_budget": None} for k, r in records.items()}
    assert "⚠" not in results.render(full)  # no legend for a mark no row carries
    target = tmp_path / "RESULTS.md"
    target.write_text(f"intro\n{results.BEGIN}\nold\n{results.END}\noutro\n")
    results.write_into(target, table)
    text = target.read_text()
    assert "old" not in text and text.startswith("intro") and text.endswith("outro\n") and "| C1-03 |" in text


def test_more_data_recipe_writes_curves_and_figures(tmp_path, monkeypatch, capsys, mnist_split):
    run_script("ch3_more_data.py", ["--subset", "500", "--epochs", "1", "--out", str(tmp_path), "--plot",
                                    str(tmp_path)], monkeypatch)
    record = json.loads((tmp_path / "C3-14-subset500-epochs1" / "experiment.json").read_text())
    curves = record["curves"]
    assert set(curves["network"]) == set(curves["SVM"]) == {"100", "200", "500"}
    assert all(10.0 < value <= 100.0 for curve in curves.values() for value in curve.values())
    assert record["measured"] == {"accuracy": curves["SVM"]["500"], "split": "validation", "report": "peak"}
    assert record["reduced_budget"] == "1 of 30 epochs; subset of 500 images"
    assert "C3-14 500 images: network" in capsys.readouterr().out
    table = results.render({"C3-14": record})
    assert "| SVM % | " + " | ".join(f"{curves['SVM'][n]:.2f}" for n in ("100", "200", "500")) + " |" in table
    assert (tmp_path / "p18_accuracy_vs_size.png").stat().st_size > 10_000
    assert (tmp_path / "p19_accuracy_vs_size_log.png").stat().st_size > 10_000
