"""Chapter 6: softmax baseline, conv nets, ReLU, expanded data, dropout and the 5-net ensemble.

On a CPU the expanded-data runs take hours each; on a GPU minutes. Results in docs/RESULTS.md.

    python recipes/ch6.py [--only C6-01 C6-04 ...] [--runs K] [--epochs N] [--out runs/experiments]
"""

import sys

from nnzoo import runner

if __name__ == "__main__":
    sys.exit(runner.main([6], __doc__))
