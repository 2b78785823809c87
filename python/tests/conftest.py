"""Our Python tests run under mpirun: every rank runs the same tests in the
same order (collective calls must match), e.g.

    mpirun -np 4 python -m pytest -q python/tests

(`scripts/python.sh MPI test` does it at 1, 2 and 4 ranks)."""

import pytest
from mpi4py import MPI


@pytest.fixture
def comm():
    """The world communicator, checked in step at the start and the end of
    each test, so that a test that leaves ranks behind fails there."""
    world = MPI.COMM_WORLD
    world.Barrier()
    yield world
    world.Barrier()


def raised_everywhere(comm, exc_type, fn):
    """Runs ``fn`` (collective) and checks that it raised ``exc_type`` on
    every rank; returns this rank's exception."""
    try:
        fn()
    except exc_type as e:
        caught = e
    else:
        caught = None
    counts = comm.allgather(caught is not None)
    assert all(counts), f"raised on ranks {[r for r, c in enumerate(counts) if c]} only"
    return caught
