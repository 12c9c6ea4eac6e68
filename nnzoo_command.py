"""The ``nnzoo`` console script: ``nnzoo.cli`` without TensorFlow's start-up for what does not need it.

``nnzoo list``, ``nnzoo info`` and ``nnzoo --help`` read the model cards (data) and never import
TensorFlow. The commands that train, export or plot import it quietly: TensorFlow's C++ start-up
lines (oneDNN, CUDA, CPU features) are not shown unless TF_CPP_MIN_LOG_LEVEL is 0 or
``-v``/``--verbose`` is given (``nnzoo.quiet``).
"""

import os
import sys


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    os.environ["_NNZOO_COMMAND_LINE"] = "1"
    from nnzoo import cli  # noqa: PLC0415

    return cli.main(argv)


if __name__ == "__main__":
    sys.exit(main())
