"""The exceptions of rma_toolkit.

They derive from the built-in exceptions pshmem raises, so that code
written for pshmem catches them unchanged: a bad argument is both a
``ValueError`` and a ``RuntimeError``. Every collective call raises the same
exception on every rank of the communicator.
"""


class RmaError(RuntimeError):
    """A failure of the toolkit (an MPI call, a closed object, ...)."""


class InvalidArgumentError(RmaError, ValueError):
    """Bad input on some rank (named in the message), raised on every rank."""


class ExhaustedError(RmaError, MemoryError):
    """Out of node memory or of an MPI resource, raised on every rank."""


class FreedError(RmaError, KeyError):
    """A variable of the distributed memory that was freed."""

    def __str__(self):
        # KeyError quotes its argument; a message reads better plain.
        return str(self.args[0]) if self.args else ""
