"""Honest comparisons (#30): a run is set beside the book's number only for its own architecture, and the keys
in which its recipe differs from the book's are named, the same in Python and on the command line."""

import nnzoo
from nnzoo import cli
from nnzoo.experiments import book_for
from nnzoo.recipe import Recipe


def test_a_reduced_run_names_what_differs_from_the_book():
    compared = book_for(Recipe("conv2", epochs=1, data="mnist[:2000]"))
    assert (compared.accuracy, compared.split, compared.experiment) == (99.06, "test", "C6-04")
    assert [key for key, _, _ in compared.differences] == ["epochs", "data", "runs"]
    assert compared.text() == ("99.06% test (C6-04; this run differs: epochs 1 vs 60, data mnist[:2000] vs mnist, "
                               "runs 1 vs 3)")
    assert not compared.matches and book_for(Recipe("network2")).matches  # the card's recipe is C3-10's


def test_another_architecture_is_never_set_beside_the_cards_number():
    compared = book_for(Recipe("network2", {"hidden": [100]}, epochs=5))
    assert compared.experiment == "C3-11"  # the same training but for the epochs; the book reports validation
    assert compared.differences == (("epochs", 5, 30), ("protocol", "peak_test", "peak_validation"))
    nothing = book_for(Recipe("network2", {"hidden": (50,)}))
    assert not nothing and nothing.text() == "no number in the book"
    forced = book_for(Recipe("network2", {"hidden": (100,)}), "C3-10")  # asked for: says the layers differ
    assert ("hidden", (100,), (30,)) in forced.differences


def test_python_and_the_command_line_say_the_same(tmp_path, capsys, mnist_split):
    run = dict(epochs=1, data="mnist[:200]")
    result = nnzoo.train("network2", hidden=(100,), out=tmp_path / "py", verbose=0, **run)
    expected = book_for(Recipe("network2", {"hidden": (100,)}, **run))
    assert result.book == expected and "data mnist[:200] vs mnist" in expected.text()
    assert cli.main(["train", "network2", "--set", "hidden=[100]", "--epochs", "1", "--data", "mnist[:200]",
                     "--out", str(tmp_path / "cli"), "-q"]) == 0
    line = capsys.readouterr().out.strip()
    assert f"; book {expected.text()}; run dir" in line and "C3-10" not in line
    experiment = nnzoo.train("C3-21", out=tmp_path / "id", verbose=0, **run)
    assert experiment.book.experiment == "C3-21" and experiment.book.differences[0] == ("epochs", 1, 30)
