"""Model families. Importing this package registers every book network."""

from nnzoo.models import conv, dense, ensemble  # noqa: F401  (registration side effects)
