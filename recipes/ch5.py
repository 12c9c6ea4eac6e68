"""Chapter 5: deeper sigmoid nets (C5-01 … C5-04: 1-4 hidden layers) and the speed of learning of each
hidden layer (C5-05 at initialisation; C5-06 over 500 epochs of full-batch gradient descent on 1,000
training images, written to OUT/C5-06/speeds.json for `nnzoo plot` as well).

    python recipes/ch5.py [--only C5-01 ... C5-06] [--runs K] [--epochs N] [--out runs/experiments]
"""

import sys

from nnzoo import runner

if __name__ == "__main__":
    sys.exit(runner.main([5], __doc__))
