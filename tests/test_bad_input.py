"""Bad data requests and bad inputs are refused with a clear error, never a silently wrong result (issue #29).

Every refusal here happens before anything is created or trained: no run directory, no changed weights.
"""

import numpy as np
import pytest

import nnzoo
from nnzoo import cli, data, options
from nnzoo.recipe import Recipe


# --- #29.7: a data request that selects nothing is not "the whole set" --------------------------------


@pytest.mark.parametrize("spec", ["mnist[:0]", "expanded[:0]", "mnist[:000]"])
def test_first_zero_images_refused(spec):
    with pytest.raises(ValueError, match=r"selects no training images.*n >= 1"):
        data.parse_spec(spec)


@pytest.mark.parametrize("request_, match", [
    (dict(data="mnist[:0]"), r"data='mnist\[:0\]' selects no training images"),
    (dict(data=""), r"Unknown data. Received: data=''"),
    (dict(n_validation=0), r"n_validation must be None \(all 10,000 images\) or a number of images in 1..10000. "
                           r"Received: n_validation=0"),
    (dict(n_test=0), r"n_test must be .* Received: n_test=0"),
    (dict(n_validation=-5), r"Received: n_validation=-5"),
    (dict(n_test=10_001), r"Received: n_test=10001"),
    (dict(n_test=True), r"Received: n_test=True"),
])
def test_train_refuses_empty_requests_before_creating_anything(tmp_path, request_, match):
    out = tmp_path / "run"
    with pytest.raises(ValueError, match=match):
        nnzoo.train("network2", epochs=1, out=out, verbose=0, **request_)
    assert not out.exists()


def test_cli_refuses_first_zero_images_without_making_out(tmp_path, capsys):
    out = tmp_path / "run"
    code = cli.main(["train", "network2", "--epochs", "1", "--data", "mnist[:0]", "--out", str(out)])
    assert code == 2
    assert "selects no training images" in capsys.readouterr().err
    assert not out.exists()


def test_recipe_refuses_empty_data():
    with pytest.raises(ValueError, match="selects no training images"):
        Recipe("network2", data="mnist[:0]")
    with pytest.raises(ValueError, match="Unknown data"):
        Recipe("network2", data="")


# --- #29.9: a bool is not a number ----------------------------------------------------------------------


@pytest.mark.parametrize("value", [True, 0, -0.1, float("nan"), "0.01"])
def test_eta_final_must_be_a_positive_number(tmp_path, value):
    with pytest.raises(ValueError, match=r"eta_final .* must be a number > 0.*Received: eta_final="):
        nnzoo.train("network2", epochs=1, eta_final=value, out=tmp_path / "run", verbose=0)
    assert not (tmp_path / "run").exists()
    assert options.check_eta_final(0.01, "network2") == 0.01
