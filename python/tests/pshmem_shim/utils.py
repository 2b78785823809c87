from rma_toolkit.utils import exception_guard  # noqa: F401
