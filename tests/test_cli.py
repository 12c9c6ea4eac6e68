"""The ``nnzoo`` console script."""

import json

import nnzoo
from nnzoo import cli, experiments


def test_list_prints_every_model(capsys):
    assert cli.main(["list"]) == 0
    header, *lines = capsys.readouterr().out.splitlines()
    assert header.split()[:5] == ["name", "ch", "params", "book", "weights=mnist"]
    assert [line.split()[0] for line in lines] == nnzoo.list_models()
    assert "1,672,570" in next(line for line in lines if line.startswith("conv2_dropout "))


def test_list_filters(capsys):
    cli.main(["list", "deep_sigmoid_*"])
    assert len(capsys.readouterr().out.splitlines()) == 1 + 4


def test_list_shows_the_shipped_weights_accuracy(capsys):
    assert cli.main(["list", "--pretrained"]) == 0
    _, *lines = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in lines] == nnzoo.list_models(pretrained=True)
    for line in lines:
        record = nnzoo.card(line.split()[0]).weights
        assert f"{100 * record.test_accuracy:.2f}% test" in line


def test_info_prints_the_card_as_json(capsys):
    assert cli.main(["info", "conv2_dropout"]) == 0
    card = json.loads(capsys.readouterr().out)
    assert card["params"] == 1_672_570 and card["book_result"]["accuracy"] == 99.60


def test_info_unknown_name_suggests(capsys):
    assert cli.main(["info", "conv2_dropot"]) == 2
    assert "Did you mean: conv2_dropout" in capsys.readouterr().err


def test_info_takes_an_experiment_id(capsys):
    assert cli.main(["info", "C3-12"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["experiment"]["model"] == "network2_100" and info["experiment"]["recipe"]["epochs"] == 60
    assert info["experiment"]["book"]["accuracy"] == 98.04 and info["card"]["name"] == "network2_100"


def test_an_unknown_experiment_id_suggests_ids(capsys):
    assert cli.main(["info", "C9-99"]) == 2
    error = capsys.readouterr().err
    assert "unknown network or experiment 'C9-99'" in error and "book experiment id such as C1-01" in error
    suggested = error.split("Did you mean: ")[1].rstrip("?\n").split(", ")
    assert suggested and all(name in experiments.ids() for name in suggested)


def test_train_refuses_an_unknown_name_with_the_command_line_words(capsys):
    assert cli.main(["train", "conv2_dropot"]) == 2
    error = capsys.readouterr().err
    assert "(`nnzoo list` shows them)" in error and "Did you mean: conv2_dropout" in error
    assert "nnzoo.list_models()" not in error
