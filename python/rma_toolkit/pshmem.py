"""pshmem's names, for a one-line swap::

    from rma_toolkit.pshmem import MPIShared, MPILock, MPIBatch
"""

from .batch import MPIBatch
from .locking import MPILock
from .shared import MPIShared
from .utils import exception_guard

__all__ = ["MPIShared", "MPILock", "MPIBatch", "exception_guard"]
