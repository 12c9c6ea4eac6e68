"""How network names sort: numbers by value, so ``conv2_relu_2fc300`` comes before ``conv2_relu_2fc1000``.

A leaf module, so that the registry and the shipped-weights table order names alike
without importing each other.

Example:

>>> sorted(["conv2_relu_2fc1000", "conv2_relu_2fc300"], key=natural_key)
['conv2_relu_2fc300', 'conv2_relu_2fc1000']
"""

import re


def natural_key(name):
    """Sort key that orders the numbers in ``name`` by value."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name)]
