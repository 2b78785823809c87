"""MPIShared as pshmem users use it, at real counts and with bad input."""

import numpy as np
import pytest
from conftest import raised_everywhere
from mpi4py import MPI

from rma_toolkit import InvalidArgumentError, MPIShared


def test_every_rank_as_the_source(comm):
    with MPIShared((6, 7), np.float64, comm) as shm:
        for src in range(comm.size):
            data = np.full((2, 3), src + 0.5) if comm.rank == src else None
            shm.set(data, offset=(src % 5, 1), fromrank=src)
            assert np.all(shm[src % 5 : src % 5 + 2, 1:4] == src + 0.5)


def test_setitem_from_one_rank(comm):
    with MPIShared((4, 5), np.int32, comm) as shm:
        src = comm.size - 1
        if comm.rank == src:
            shm[1:3, 2:4] = np.arange(4, dtype=np.int32).reshape(2, 2)
        else:
            shm[None] = None
        assert shm[2, 3] == 3 and shm.data.sum() == 6


def test_views_are_zero_copy_and_read_only(comm):
    with MPIShared((3, 4), np.float32, comm) as shm:
        view = np.array(shm, copy=False)
        assert view.__array_interface__["data"][0] == shm._flat.__array_interface__["data"][0]
        assert not view.flags.writeable
        with pytest.raises(ValueError):
            view[0, 0] = 1.0
        del view


def test_thousands_of_live_arrays(comm):
    n = 2000
    arrays = [MPIShared((5, 5), np.float64, comm) for _ in range(n)]
    for i in range(0, n, 97):
        arrays[i].set(np.full((5, 5), float(i)) if comm.rank == 0 else None, fromrank=0)
    for i in range(0, n, 97):
        assert arrays[i][4, 4] == float(i)
    for a in arrays:
        a.close()


def test_a_big_array(comm):
    n = 4_000_000  # 32 MB of float64, a chunk of its own
    with MPIShared((n,), np.float64, comm) as shm:
        shm.set(np.arange(n, dtype=np.float64) if comm.rank == 0 else None, fromrank=0)
        assert shm[n - 1] == n - 1 and shm[12345] == 12345


def test_a_shape_that_differs_on_one_rank_fails_everywhere(comm):
    shape = (3, 4) if comm.rank != comm.size - 1 else (4, 3)
    if comm.size == 1:
        pytest.skip("needs two ranks")
    raised_everywhere(comm, InvalidArgumentError, lambda: MPIShared(shape, np.float64, comm))


def test_a_bad_shape_on_one_rank_fails_everywhere(comm):
    shape = (3, 4) if comm.rank != comm.size - 1 else (3, 4.5)
    e = raised_everywhere(comm, ValueError, lambda: MPIShared(shape, np.float64, comm))
    assert isinstance(e, RuntimeError)  # pshmem code that catches RuntimeError still does


def test_data_of_another_dtype_fails_everywhere(comm):
    with MPIShared((4,), np.int64, comm) as shm:
        data = np.ones(4, dtype=np.float32) if comm.rank == 0 else None
        e = raised_everywhere(comm, InvalidArgumentError, lambda: shm.set(data, fromrank=0))
        assert "float32" in str(e) or "<f4" in str(e)
        shm.set(np.ones(4, dtype=np.int64) if comm.rank == 0 else None, fromrank=0)
        assert shm.data.sum() == 4


def test_out_of_bounds_and_negative_offsets_fail_everywhere(comm):
    with MPIShared((4, 4), np.float64, comm) as shm:
        data = np.ones((2, 2)) if comm.rank == 0 else None
        raised_everywhere(comm, InvalidArgumentError, lambda: shm.set(data, (3, 3), fromrank=0))
        raised_everywhere(comm, InvalidArgumentError, lambda: shm.set(data, (-1, 0), fromrank=0))
        raised_everywhere(
            comm, InvalidArgumentError, lambda: shm.set(data, (0, 0), fromrank=comm.size)
        )


def test_two_sources_for_setitem_fail_everywhere(comm):
    if comm.size == 1:
        pytest.skip("needs two ranks")
    with MPIShared((4,), np.float64, comm) as shm:
        value = np.ones(2) if comm.rank < 2 else None

        def assign():
            if value is None:
                shm[None] = None
            else:
                shm[0:2] = value

        raised_everywhere(comm, InvalidArgumentError, assign)


def test_uneven_nodes_given_by_the_caller(comm):
    # Nodes of 3 and 1 processes at 4 ranks (all on this machine, which
    # MPI_Comm_split_type would call one node).
    if comm.size < 2:
        pytest.skip("needs two ranks")
    color = 0 if comm.rank < max(1, comm.size - 1) else 1
    node = comm.Split(color, comm.rank)
    try:
        with MPIShared((5, 2), np.int64, comm, comm_node=node) as shm:
            for src in range(comm.size):
                shm.set(np.full((1, 2), src) if comm.rank == src else None, (src, 0), fromrank=src)
            assert [shm[r, 1] for r in range(comm.size)] == list(range(comm.size))
    finally:
        node.Free()


def test_local_mode_without_a_communicator():
    shm = MPIShared((2, 3), np.uint8, None)
    shm.set(np.full((1, 3), 7, dtype=np.uint8), (1, 0))
    assert shm[1].tolist() == [7, 7, 7] and len(shm) == 2
    shm.close()


def test_comm_self(comm):
    with MPIShared((3,), np.int16, MPI.COMM_SELF) as shm:
        shm[0:3] = np.array([1, 2, 3], dtype=np.int16)
        assert shm.data.tolist() == [1, 2, 3]
