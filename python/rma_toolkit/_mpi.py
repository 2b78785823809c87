"""The one MPI check: this extension and mpi4py must use the same library."""

import os

from . import _native


def _first_line(text):
    # Open MPI counts the terminating NUL in the length; mpi4py keeps it.
    text = text.replace("\x00", "").strip()
    return text.splitlines()[0].strip() if text else ""


def check_same_mpi():
    """Raise ImportError when mpi4py and this extension load different MPIs.

    Both print ``MPI_Get_library_version``; a package built against one MPI
    and run with an mpi4py built against another would pass handles of one
    library to the other. Without mpi4py (or with ``MPI_DISABLE`` set, as
    pshmem honours it) only the local mode (``comm=None``) is usable and
    nothing is checked.
    """
    if "MPI_DISABLE" in os.environ:
        return
    try:
        from mpi4py import MPI
    except ImportError:
        return
    ours = _first_line(_native.library_version())
    theirs = _first_line(MPI.Get_library_version())
    if ours != theirs:
        raise ImportError(
            "rma_toolkit and mpi4py use different MPI libraries:\n"
            f"  rma_toolkit: {ours}\n  mpi4py:      {theirs}\n"
            "build mpi4py from source against the MPI rma_toolkit was built "
            "with (MPICC=... pip install --no-binary mpi4py mpi4py), or "
            "rebuild rma_toolkit with that MPI's mpicc (docs/python.md)"
        )
