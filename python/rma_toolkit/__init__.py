"""One-sided MPI (RMA) shared memory for Python, on the Rust RMA toolkit.

* ``MPIShared``, ``MPILock``, ``MPIBatch``: pshmem's classes, same names and
  behaviour (``from rma_toolkit.pshmem import MPIShared, MPILock``).
* ``Counter``, ``Semaphore``, ``split_indices``: the sync toolkit.
* ``rma_toolkit.distributed_memory``: the seed's distributed memory of
  ``int`` and ``list[int]`` (``init_memory``, ``add``, ``read``, ...).

Communicators are ``mpi4py.MPI.Comm`` objects, which this package never
frees; mpi4py must be built against the same MPI library as this package,
which is checked at import.
"""

from ._mpi import check_same_mpi as _check_same_mpi

_check_same_mpi()

from ._native import split_indices  # noqa: E402
from .errors import (  # noqa: E402
    ExhaustedError,
    FreedError,
    InvalidArgumentError,
    RmaError,
)
from .shared import MPIShared  # noqa: E402
from .locking import MPILock  # noqa: E402
from .batch import MPIBatch  # noqa: E402
from .sync import Counter, Semaphore  # noqa: E402

__version__ = "0.1.0"

__all__ = [
    "MPIShared",
    "MPILock",
    "MPIBatch",
    "Counter",
    "Semaphore",
    "split_indices",
    "RmaError",
    "InvalidArgumentError",
    "ExhaustedError",
    "FreedError",
]
