"""The metadata a user adds to an exported model's card (``nnzoo export --metadata FILE``, ``nnzoo.export(metadata=)``).

Validated before anything is written, so a bad file or mapping is one
``ValueError`` naming it, never a traceback, and never a silently converted
value (``{"test_accuracy": true}`` is not 100%):

- one JSON object (a mapping with string keys), nested at most
  ``MAX_DEPTH`` levels, with no ``NaN`` / ``Infinity``;
- ``test_accuracy``: ``null`` or a number in [0, 1] (a fraction, not a percentage; never a bool);
- ``recipe``: ``null`` or an object; ``data``: ``null`` or a string.

Everything else is kept as given.

>>> validate({"test_accuracy": 0.99, "note": "retrained"})
{'test_accuracy': 0.99, 'note': 'retrained'}
>>> validate({"test_accuracy": True})
Traceback (most recent call last):
...
ValueError: metadata: 'test_accuracy' is True (bool), not a number in [0, 1]. Expected one JSON object such as {"test_accuracy": 0.99}.
"""

import json
import math
import numbers
from collections.abc import Mapping
from pathlib import Path

__all__ = ["MAX_DEPTH", "json_kind", "read", "validate"]

MAX_DEPTH = 32  # objects and lists inside one another; a model card needs a handful
_EXAMPLE = 'Expected one JSON object such as {"test_accuracy": 0.99}.'


def json_kind(value):
    """What a JSON value is, in words: ``an object``, ``a list``, ``a string``, ``a boolean``, ``null``, ``a number``."""
    kinds = {dict: "an object", list: "a list", str: "a string", bool: "a boolean", type(None): "null"}
    for kind, text in kinds.items():
        if isinstance(value, kind):
            return text
    return "a number" if isinstance(value, numbers.Number) else f"a {type(value).__name__}"


def _check_depth(value, source):
    """Refuse nesting deeper than MAX_DEPTH (iteratively: a deep value cannot exhaust the stack here)."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        children = item.values() if isinstance(item, Mapping) else item if isinstance(item, (list, tuple)) else ()
        if children and depth > MAX_DEPTH:
            raise ValueError(f"{source} is nested more than {MAX_DEPTH} levels deep. {_EXAMPLE}")
        stack.extend((child, depth + 1) for child in children)


def _check_fraction(value, source):
    if value is None:
        return
    if isinstance(value, bool) or type(value).__name__ == "bool_" or not isinstance(value, numbers.Real):
        raise ValueError(f"{source}: 'test_accuracy' is {value!r} ({type(value).__name__}), not a number in [0, 1]. "
                         f"{_EXAMPLE}")
    if not (math.isfinite(value) and 0 <= value <= 1):
        hint = " For a percentage, divide by 100 (e.g. 0.995 for 99.5%)." if 1 < value <= 100 else ""
        raise ValueError(f"{source}: 'test_accuracy' is {value!r}, not a number in [0, 1].{hint} {_EXAMPLE}")


def validate(metadata, source="metadata"):
    """``metadata`` checked as a model card's user metadata (see the module's docstring); returns a dict copy.

    ``source`` names where it came from in the errors (a file's path, or ``"metadata"``).
    """
    if not isinstance(metadata, Mapping):
        raise ValueError(f"{source} holds {json_kind(metadata)}, not an object. {_EXAMPLE}")
    keys = [key for key in metadata if not isinstance(key, str)]
    if keys:
        raise ValueError(f"{source} has a key that is not a string ({keys[0]!r}). {_EXAMPLE}")
    _check_depth(metadata, source)
    _check_fraction(metadata.get("test_accuracy"), source)
    for key, expected, kind in (("recipe", Mapping, "an object"), ("data", str, "a string")):
        value = metadata.get(key)
        if value is not None and not isinstance(value, expected):
            raise ValueError(f"{source}: {key!r} is {json_kind(value)} ({value!r:.60}), not {kind} or null. {_EXAMPLE}")
    return dict(metadata)


def _no_constant(name):
    raise ValueError(f"{name} is not a JSON number")


def read(path):
    """The metadata in the JSON file ``path``, validated; any problem is a ``ValueError`` naming the file."""
    source = f"{str(path)!r} (--metadata)"
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise ValueError(f"{source} cannot be read: {getattr(err, 'strerror', None) or err}. {_EXAMPLE}") from None
    try:
        value = json.loads(text, parse_constant=_no_constant)
    except RecursionError:
        raise ValueError(f"{source} is nested more than {MAX_DEPTH} levels deep. {_EXAMPLE}") from None
    except ValueError as err:  # json.JSONDecodeError, NaN / Infinity
        raise ValueError(f"{source} is not valid JSON: {err}. {_EXAMPLE}") from None
    return validate(value, source)
