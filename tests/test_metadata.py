"""nnzoo.metadata: an export's user metadata is one validated JSON object; anything else is one ValueError naming it."""

import numpy as np
import pytest

from nnzoo import metadata


@pytest.mark.parametrize("text, message", [
    ("[1, 2]", "holds a list, not an object"),
    ("null", "holds null, not an object"),
    ('"abc"', "holds a string, not an object"),
    ("5", "holds a number, not an object"),
    ('{"recipe": 5}', "'recipe' is a number (5), not an object or null"),
    ('{"data": ["mnist"]}', "'data' is a list (['mnist']), not a string or null"),
    ('{"test_accuracy": true}', "'test_accuracy' is True (bool), not a number in [0, 1]"),
    ('{"test_accuracy": "0.99"}', "'test_accuracy' is '0.99' (str), not a number in [0, 1]"),
    ('{"test_accuracy": 99.5}', "'test_accuracy' is 99.5, not a number in [0, 1]. For a percentage, divide by 100"),
    ('{"test_accuracy": NaN}', "is not valid JSON: NaN is not a JSON number"),
    ('{"test_accuracy": 0.9', "is not valid JSON: Expecting ',' delimiter"),
    ("[" * 100_000 + "]" * 100_000, "is nested more than 32 levels deep"),
    ('{"a": ' * 40 + "1" + "}" * 40, "is nested more than 32 levels deep"),
])
def test_bad_metadata_files_are_one_error_naming_the_file(tmp_path, text, message):
    path = tmp_path / "card.json"
    path.write_text(text)
    with pytest.raises(ValueError) as info:
        metadata.read(path)
    assert str(info.value).startswith(f"{str(path)!r} (--metadata)")
    assert message in str(info.value)
    assert str(info.value).endswith('Expected one JSON object such as {"test_accuracy": 0.99}.')


def test_missing_metadata_file(tmp_path):
    with pytest.raises(ValueError, match=r"missing.json' \(--metadata\) cannot be read: No such file"):
        metadata.read(tmp_path / "missing.json")


def test_good_metadata_is_kept_as_given(tmp_path):
    path = tmp_path / "card.json"
    path.write_text('{"test_accuracy": 0.9921, "recipe": {"eta": 0.03}, "data": "expanded", "note": [1, {"a": 2}]}')
    assert metadata.read(path) == {"test_accuracy": 0.9921, "recipe": {"eta": 0.03}, "data": "expanded",
                                   "note": [1, {"a": 2}]}
    assert metadata.validate({"test_accuracy": np.float32(0.5), "recipe": None}) == {
        "test_accuracy": np.float32(0.5), "recipe": None}
    assert metadata.validate({"test_accuracy": 1}) == {"test_accuracy": 1}


@pytest.mark.parametrize("value", [True, np.bool_(True), float("inf"), -0.01])
def test_python_metadata_test_accuracy(value):
    with pytest.raises(ValueError, match=r"^metadata: 'test_accuracy' is .*not a number in \[0, 1\]"):
        metadata.validate({"test_accuracy": value})


def test_python_metadata_keys_are_strings():
    with pytest.raises(ValueError, match=r"^metadata has a key that is not a string \(1\)"):
        metadata.validate({1: "a"})


@pytest.mark.parametrize("bad", [{"test_accuracy": True}, [1, 2], {"recipe": 5}])
def test_export_refuses_bad_metadata_before_writing(tmp_path, bad):
    import nnzoo

    model = nnzoo.build("shallow_softmax")
    with pytest.raises(ValueError, match="not a number in|not an object"):
        nnzoo.export(model, tmp_path / "out", metadata=bad)
    assert not (tmp_path / "out").exists()


def test_cli_export_reads_metadata_through_the_validator(tmp_path, capsys):
    from nnzoo import cli

    bad = tmp_path / "m.json"
    bad.write_text('{"test_accuracy": true}')
    code = cli.main(["export", "shallow_softmax", "--weights", "mnist", "--out", str(tmp_path / "out"), "--metadata", str(bad)])
    assert code == 2
    assert "'test_accuracy' is True (bool)" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
