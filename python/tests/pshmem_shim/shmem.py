from rma_toolkit.shared import MPIShared  # noqa: F401
