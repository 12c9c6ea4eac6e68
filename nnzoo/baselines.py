"""Chapter 1's non-neural baselines: random guessing, average darkness, an SVM.

Example:

>>> split = nnzoo.data.load_split()  # doctest: +SKIP
>>> average_darkness(split.train, split.test)  # doctest: +SKIP
0.2225
"""

import numpy as np

__all__ = ["random_guess", "average_darkness", "svm"]


def random_guess(test, seed=0):
    """Accuracy of guessing a digit uniformly at random."""
    guesses = np.random.default_rng(seed).integers(0, 10, size=len(test.y))
    return float(np.mean(guesses == test.y))


def average_darkness(train, test):
    """The book's darkness classifier.

    Darkness is the sum of an image's pixel values. For each digit, average
    the darkness of its training images; classify a test image as the digit
    whose average darkness is closest to its own.
    """
    darkness = train.x.reshape(len(train.x), -1).astype("float64").sum(axis=1)
    means = np.array([darkness[train.y == digit].mean() for digit in range(10)])
    test_darkness = test.x.reshape(len(test.x), -1).astype("float64").sum(axis=1)
    predictions = np.argmin(np.abs(test_darkness[:, None] - means[None, :]), axis=1)
    return float(np.mean(predictions == test.y))


def svm(train, test, **svc_options):
    """scikit-learn's ``SVC(**svc_options)``, default settings unless given (needs scikit-learn).

    The book used the defaults of its day: scikit-learn before 0.22 defaulted to
    ``gamma="auto"`` (1/784); today's default is ``gamma="scale"``, which scores
    higher. Pass ``gamma="auto"`` to reproduce the book's setting. Minutes on
    50,000 images.
    """
    try:
        from sklearn import svm as sk_svm
    except ImportError as err:
        raise ImportError("The SVM baseline needs scikit-learn: pip install scikit-learn") from err
    classifier = sk_svm.SVC(**svc_options)
    classifier.fit(train.x.reshape(len(train.x), -1), train.y)
    predictions = classifier.predict(test.x.reshape(len(test.x), -1))
    return float(np.mean(predictions == test.y))
