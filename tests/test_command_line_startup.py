"""The ``nnzoo`` console script starts like a tool (#15): list, info and --help without TensorFlow,
and no TensorFlow start-up lines from the commands that need it."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import nnzoo


def _command(*argv, env_extra=None):
    script = (
        "import sys, nnzoo_command\n"
        "code = nnzoo_command.main(sys.argv[1:])\n"
        "print('HEAVY:' + ','.join(m for m in ('tensorflow', 'keras', 'jax') if m in sys.modules))\n"
        "sys.exit(code)\n"
    )
    import os

    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    env.update(env_extra or {})
    return subprocess.run([sys.executable, "-c", script, *argv], capture_output=True, text=True, timeout=600, env=env)


@pytest.mark.parametrize("argv", [["list"], ["list", "--pretrained"], ["info", "conv2_dropout"], ["info", "C3-12"]])
def test_list_and_info_answer_without_tensorflow(argv):
    result = _command(*argv)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "HEAVY:"
    assert result.stderr == ""


def test_list_and_info_say_what_the_library_says():
    listed = _command("list").stdout.splitlines()[1:-1]
    assert [line.split()[0] for line in listed] == nnzoo.list_models()
    info = json.loads("\n".join(_command("info", "network2").stdout.splitlines()[:-1]))
    assert info == json.loads(json.dumps(nnzoo.card("network2").to_dict(), default=list))


def test_help_answers_without_tensorflow():
    result = subprocess.run([sys.executable, "-c", "import sys, nnzoo_command\ntry:\n    nnzoo_command.main(['--help'])\n"
                             "except SystemExit:\n    pass\nprint('HEAVY:' + str('tensorflow' in sys.modules))"],
                            capture_output=True, text=True, timeout=120)
    assert "usage: nnzoo" in result.stdout and result.stdout.strip().endswith("HEAVY:False")


_NOISE = ("oneDNN", "cuda", "cpu_feature_guard", "absl", "I0000", "E0000")
_RECIPES = Path(__file__).resolve().parent.parent / "recipes"


def _script(*argv, env_extra=None, drop=("TF_CPP_MIN_LOG_LEVEL",)):
    env = {k: v for k, v in os.environ.items() if k not in drop}
    env.update(env_extra or {})
    return subprocess.run([sys.executable, *map(str, argv)], capture_output=True, text=True, timeout=600, env=env)


def test_train_prints_no_tensorflow_start_up_lines(tmp_path, mnist_split):
    result = _command("train", "shallow_sigmoid", "--epochs", "1", "--data", "mnist[:100]", "--out",
                      str(tmp_path / "run"), "-q", env_extra={"TF_CPP_MIN_LOG_LEVEL": "1"})  # TF 2.21 prints anyway
    assert result.returncode == 0, result.stderr
    for noise in _NOISE:
        assert noise not in result.stderr, result.stderr
    assert "shallow_sigmoid:" in result.stdout
    loud = _command("train", "shallow_sigmoid", "--epochs", "1", "--data", "mnist[:100]", "--out",
                    str(tmp_path / "run2"), "-q", env_extra={"TF_CPP_MIN_LOG_LEVEL": "0"})
    assert loud.returncode == 0 and "oneDNN" in loud.stderr  # asked for: shown


def test_importing_the_library_leaves_logging_alone():
    script = ("import logging, os, keras\n"
              "state = lambda: (os.environ.get('TF_CPP_MIN_LOG_LEVEL'), logging.getLogger().level,\n"
              "                 len(logging.getLogger().handlers), logging.getLogger('tensorflow').level)\n"
              "before = state()\n"
              "import nnzoo\n"
              "print(before == state())\n")
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert result.stdout.strip().splitlines()[-1] == "True"


def test_python_dash_m_nnzoo_is_the_same_command():
    """`python -m nnzoo list` answers without TensorFlow too (the package import sees argv[0] == "-m")."""
    import os

    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    result = subprocess.run([sys.executable, "-X", "importtime", "-m", "nnzoo", "list"], capture_output=True,
                            text=True, timeout=600, env=env)
    assert result.returncode == 0 and "conv2_dropout" in result.stdout
    imported = {line.rsplit("|", 1)[-1].strip().split(".")[0] for line in result.stderr.splitlines()
                if line.startswith("import time:")}
    assert "nnzoo" in imported and not imported & {"tensorflow", "keras", "jax"}
    assert not [line for line in result.stderr.splitlines() if not line.startswith("import time:")]


def test_the_main_job_prints_no_tensorflow_start_up_lines(mnist_split):
    """#30: `python recipes/ch1_network.py` (one epoch): its stderr holds none of TensorFlow's C++ lines, also
    with TF_CPP_MIN_LOG_LEVEL=1 (TensorFlow 2.21 prints them anyway)."""
    result = _script(_RECIPES / "ch1_network.py", "--epochs", "1", env_extra={"TF_CPP_MIN_LOG_LEVEL": "1"})
    assert result.returncode == 0, result.stderr
    assert "Epoch 0:" in result.stdout
    assert not [line for line in result.stderr.splitlines() if any(noise in line for noise in _NOISE)], result.stderr


@pytest.mark.parametrize("verbose", [False, True])
def test_the_main_job_offline_prints_the_data_error_alone(tmp_path, verbose):
    """#30: no NNZOO_DATA_DIR, an empty KERAS_HOME and no network: one message, exit 1; -v adds TensorFlow's lines."""
    offline = {"KERAS_HOME": str(tmp_path), "https_proxy": "http://127.0.0.1:9", "HTTPS_PROXY": "http://127.0.0.1:9"}
    result = _script(_RECIPES / "ch1_network.py", "--epochs", "1", *(["-v"] if verbose else []), env_extra=offline,
                     drop=("TF_CPP_MIN_LOG_LEVEL", "NNZOO_DATA_DIR", "no_proxy", "NO_PROXY"))
    assert result.returncode == 1, result.stderr
    lines = result.stderr.strip().splitlines()
    assert lines[-1].startswith("ch1_network.py: ") and "NNZOO_DATA_DIR" in lines[-1], result.stderr
    assert "Traceback" not in result.stderr
    if verbose:
        assert any(noise in result.stderr for noise in _NOISE), result.stderr
    else:
        assert len(lines) == 1, result.stderr


def test_an_unknown_name_is_answered_before_tensorflow_loads():
    """#30: `nnzoo train nosuchnet` says what is expected, in well under a second (no TensorFlow)."""
    result = _command("train", "nosuchnet")
    assert result.returncode == 2 and result.stdout.strip() == "HEAVY:"
    assert result.stderr.startswith("nnzoo: unknown network or experiment 'nosuchnet'. Expected a network name "
                                    "(`nnzoo list` shows them) or a book experiment id such as C1-01"), result.stderr


@pytest.mark.parametrize("argv", [["info", "C3-12"], ["list"]])
def test_list_and_info_write_utf8_under_any_locale(argv):
    """#30: η as UTF-8, not \\u03b7, also where the locale's encoding cannot hold it."""
    script = "import sys, nnzoo_command\nsys.exit(nnzoo_command.main(sys.argv[1:]))\n"
    env = {**os.environ, "PYTHONIOENCODING": "ascii", "LC_ALL": "C"}
    result = subprocess.run([sys.executable, "-c", script, *argv], capture_output=True, timeout=600, env=env)
    assert result.returncode == 0, result.stderr
    text = result.stdout.decode("utf-8")
    assert "η" in text and "\\u03b7" not in text
