"""The seed's distributed memory of ``int`` and ``list[int]``, on dsm-kv.

The seed's README, with one import changed::

    import rma_toolkit.distributed_memory as dm

    mem = dm.init_memory(max_per_slave=10)
    var = mem.add([1, 2, 3])
    print(mem.read(var))                      # [1, 2, 3]
    mem.map(var, lambda x: x + 1)
    print(mem.read(var))                      # [2, 3, 4]
    print(mem.reduce(var, lambda x, y: x + y, 0))   # 9
    mem.filter(var, lambda x: x % 2 == 0)
    print(mem.read(var))                      # [2, 4]
    mem.quit()

Rank 0 is the master and runs the script; every other rank lends
``max_per_slave`` slots. As in the seed, the other ranks never return from
``init_memory``: they wait until the master calls ``quit()`` and then end
the process. ``init_memory(serve=False)`` returns on every rank instead, for
SPMD programs where any rank operates on the memory (every operation is
one-sided; there is no server loop).
"""

import sys

from . import _native

Var = _native.Var


class DistributedMemory:
    """A distributed memory over ``comm`` (use :func:`init_memory`)."""

    def __init__(self, comm, max_per_slave=10):
        self._native = _native.Memory(comm, max_per_slave)

    @property
    def rank(self):
        """This process's rank."""
        return self._native.rank

    @property
    def is_master(self):
        """True on rank 0."""
        return self._native.is_master

    @property
    def max_per_slave(self):
        """Slots lent by each host."""
        return self._native.max_per_slave

    def add(self, value):
        """Store an int or a list of ints; returns its variable."""
        return self._native.add(value)

    def read(self, var):
        """The value of a variable: an int or a list."""
        return self._native.read(var)

    def read_range(self, var, start, stop):
        """Elements ``start:stop`` of a list, without reading the rest (a
        snapshot, as ``read``). ``0 <= start <= stop <= len`` or the error
        names the bounds; an int reads as a list of one."""
        return self._native.read_range(var, start, stop)

    def modify(self, var, value, index=0):
        """Write ``value`` at ``index``; False if the variable was freed."""
        return self._native.modify(var, value, index)

    def map(self, var, f):
        """Replace each element ``x`` by ``f(x)`` (computed on this rank).

        The seed allows ``map`` to return before it is done; this one returns
        when the new values are visible to every rank. If ``f`` raises, the
        elements already mapped keep their new values, the others their old
        ones, and the exception is raised here.
        """
        self._native.map(var, f)

    def filter(self, var, f):
        """Keep the elements for which ``f(x)`` is true; returns the new
        length."""
        return self._native.filter(var, f)

    def reduce(self, var, f, init):
        """Fold the elements: ``f(...f(f(init, x0), x1)..., xn)``."""
        return self._native.reduce(var, f, init)

    def free(self, var):
        """Free a variable; later operations on it raise FreedError
        (``modify`` returns False)."""
        self._native.free(var)

    def free_slots(self):
        """Free slots over all hosts (a snapshot)."""
        return self._native.free_slots()

    def quit(self):
        """End the memory (collective; the seed requires it at the end)."""
        self._native.quit()


def init_memory(max_per_slave=10, comm=None, serve=True):
    """Create the memory over ``comm`` (default ``MPI.COMM_WORLD``).

    With ``serve`` (the seed's model), ranks other than 0 lend their memory
    until the master quits, then exit; only rank 0 returns.
    """
    if comm is None:
        from mpi4py import MPI

        comm = MPI.COMM_WORLD
    mem = DistributedMemory(comm, max_per_slave)
    if serve and not mem.is_master:
        mem.quit()
        sys.exit(0)
    return mem
