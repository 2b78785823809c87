"""MPILock: pshmem's communicator-wide mutex, on the toolkit's FIFO lock."""

from . import _native


class MPILock:
    """A mutex over the processes of ``comm``, granted in request order.

    Args:
        comm (mpi4py.MPI.Comm): the communicator, or None for a process-local
            lock (pshmem's serial mode).
        root (int): the rank that keeps the lock's state.
        debug (bool): accepted for pshmem compatibility; unused.

    Creating and closing are collective; ``lock`` and ``unlock`` are not.
    As a context manager it closes the lock on exit (as pshmem's does); it
    does not take it.
    """

    def __init__(self, comm, root=0, debug=False):
        self._comm = comm
        self._root = root
        self._debug = debug
        self._native = _native.Lock(comm, root)

    def lock(self):
        """Wait for the lock."""
        self._native.lock()

    def unlock(self):
        """Release the lock to the next process waiting."""
        self._native.unlock()

    @property
    def comm(self):
        """The communicator."""
        return self._comm

    @property
    def held(self):
        """True while this process holds the lock."""
        return self._native.held

    def close(self):
        """Free the lock (collective); a hold still taken is released."""
        if self._native is not None:
            self._native.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False
