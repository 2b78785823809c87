from rma_toolkit.batch import MPIBatch  # noqa: F401
