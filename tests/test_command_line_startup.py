"""The ``nnzoo`` console script starts like a tool (#15): list, info and --help without TensorFlow,
and no TensorFlow start-up lines from the commands that need it."""

import json
import subprocess
import sys

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


def test_train_prints_no_tensorflow_start_up_lines(tmp_path, mnist_split):
    result = _command("train", "shallow_sigmoid", "--epochs", "1", "--data", "mnist[:100]", "--out",
                      str(tmp_path / "run"), "-q")
    assert result.returncode == 0, result.stderr
    for noise in ("oneDNN", "cuda", "cpu_feature_guard", "absl", "I0000", "E0000"):
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
