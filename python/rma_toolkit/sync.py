"""The sync toolkit's counter and semaphore (mpi4py.util.sync's names)."""

from . import _native


class Counter:
    """An atomic counter over ``comm``: each ``next()``, on any rank, returns
    the next of ``start, start + step, ...`` (one MPI fetch-and-add).

    Collective to create and close; ``comm=None`` makes a local counter.
    """

    def __init__(self, comm=None, start=0, step=1, root=0):
        self._native = _native.Counter(comm, start, step, root)

    def next(self):
        """The next value."""
        return self._native.next()

    def fetch_add(self, n):
        """Take ``n`` values at once; returns the first."""
        return self._native.fetch_add(n)

    def value(self):
        """The value the next call would return (a snapshot)."""
        return self._native.value()

    def close(self):
        """Free the counter (collective)."""
        self._native.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False


class Semaphore:
    """A counting semaphore of ``count`` permits over ``comm``.

    ``with sem:`` holds a permit for the block. Collective to create and
    close; ``comm=None`` makes a local one.
    """

    def __init__(self, comm=None, count=1, root=0):
        self._native = _native.Semaphore(comm, count, root)

    def acquire(self, blocking=True):
        """Take a permit, waiting for one unless ``blocking`` is False."""
        if blocking:
            self._native.acquire()
            return True
        return self._native.try_acquire()

    def release(self):
        """Give a permit back."""
        self._native.release()

    def available(self):
        """Permits free now (a snapshot)."""
        return self._native.available()

    def close(self):
        """Free the semaphore (collective)."""
        self._native.close()

    def __enter__(self):
        self.acquire()
        return self

    def __exit__(self, *exc):
        self.release()
        return False
