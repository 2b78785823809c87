from rma_toolkit.locking import MPILock  # noqa: F401
