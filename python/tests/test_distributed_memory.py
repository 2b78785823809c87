"""The seed's distributed memory from Python."""

import pytest

from rma_toolkit import FreedError
from rma_toolkit.distributed_memory import init_memory


@pytest.fixture
def mem(comm):
    if comm.size < 2:
        pytest.skip("the memory needs a master and at least one host")
    m = init_memory(max_per_slave=64, comm=comm, serve=False)
    yield m
    m.quit()


def test_the_seed_readme_example(mem, comm):
    if mem.is_master:
        var = mem.add([1, 2, 3])
        assert mem.read(var) == [1, 2, 3]
        mem.map(var, lambda x: x + 1)
        assert mem.read(var) == [2, 3, 4]
        assert mem.reduce(var, lambda x, y: x + y, 0) == 9
        mem.filter(var, lambda x: x % 2 == 0)
        assert mem.read(var) == [2, 4]
        n = mem.add(42)
        assert mem.modify(n, 1337) and mem.read(n) == 1337
        assert mem.modify(var, 42, index=0) and mem.read(var) == [42, 4]
        mem.free(n)
        mem.free(var)
        assert mem.modify(n, 1) is False
        with pytest.raises(FreedError):
            mem.read(var)


def test_read_range_reads_a_slice(mem, comm):
    if mem.is_master:
        var = mem.add(list(range(50)))
        assert mem.read_range(var, 10, 15) == [10, 11, 12, 13, 14]
        assert mem.read_range(var, 50, 50) == []
        with pytest.raises(Exception, match="out of bounds"):
            mem.read_range(var, 40, 51)
        n = mem.add(7)
        assert mem.read_range(n, 0, 1) == [7]
        mem.free(var)
        with pytest.raises(FreedError):
            mem.read_range(var, 0, 1)
        mem.free(n)


def test_every_rank_operates(mem, comm):
    var = mem.add(list(range(comm.rank, comm.rank + 10)))
    mem.map(var, lambda x: 2 * x)
    assert mem.reduce(var, lambda a, x: a + x, 0) == 2 * sum(range(comm.rank, comm.rank + 10))
    # Variables are handles any rank may use.
    words = comm.allgather(var.to_words())
    other = type(var).from_words(*words[(comm.rank + 1) % comm.size])
    assert len(mem.read(other)) == 10
    comm.Barrier()
    mem.free(var)


def test_an_exception_in_a_callable_reaches_the_caller(mem, comm):
    if mem.is_master:
        var = mem.add([1, 2, 3])

        def boom(x):
            if x == 2:
                raise ZeroDivisionError("boom")
            return x * 10

        with pytest.raises(ZeroDivisionError):
            mem.map(var, boom)
        assert mem.read(var) == [10, 2, 3]
        with pytest.raises(ZeroDivisionError):
            mem.reduce(var, lambda a, x: a / 0, 0)
        mem.free(var)


def test_bad_values_are_rejected(mem, comm):
    if mem.is_master:
        with pytest.raises(ValueError):
            mem.add("not a number")
        with pytest.raises(ValueError):
            mem.add([1, 2.5])
