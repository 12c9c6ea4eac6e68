"""``python -m nnzoo``: the ``nnzoo`` command line."""

import sys

from nnzoo.cli import main

sys.exit(main())
