"""pshmem, resolved to rma_toolkit: the shim the project's CI puts first on
PYTHONPATH to run pshmem's own test.py against our package."""

from rma_toolkit.pshmem import MPIBatch, MPILock, MPIShared

__version__ = "1.3.5"
__all__ = ["MPIShared", "MPILock", "MPIBatch"]
