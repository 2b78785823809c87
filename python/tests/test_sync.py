"""MPILock's exclusion, Counter, Semaphore, MPIBatch and split_indices."""

import pytest
from conftest import raised_everywhere

from rma_toolkit import Counter, MPIBatch, MPILock, Semaphore, split_indices
from rma_toolkit import InvalidArgumentError, _native


def test_lock_excludes(comm):
    rounds = 20
    words = _native.Words(comm, 1, 0)
    with MPILock(comm, root=comm.size - 1) as lock:
        for _ in range(rounds):
            lock.lock()
            # A read-modify-write that only exclusion keeps exact.
            value = words.load(0)
            words.store(0, value + 1)
            lock.unlock()
        comm.Barrier()
        assert words.load(0) == rounds * comm.size
    words.close()


def test_unlock_without_lock_is_an_error(comm):
    with MPILock(comm) as lock:
        with pytest.raises(InvalidArgumentError):
            lock.unlock()
        lock.lock()
        with pytest.raises(InvalidArgumentError):
            lock.lock()
        lock.unlock()


def test_a_bad_root_fails_everywhere(comm):
    raised_everywhere(comm, InvalidArgumentError, lambda: MPILock(comm, root=comm.size))


def test_counter_values_are_unique(comm):
    with Counter(comm, start=100, step=3) as counter:
        mine = [counter.next() for _ in range(25)]
        every = sorted(v for vs in comm.allgather(mine) for v in vs)
        assert every == [100 + 3 * k for k in range(25 * comm.size)]


def test_semaphore_bounds_the_holders(comm):
    words = _native.Words(comm, 2, 0)
    with_permits = 2
    sem = Semaphore(comm, count=with_permits)
    for _ in range(10):
        with sem:
            inside = words.fetch_add(0, 1) + 1
            # The most holders ever seen at once.
            seen = words.load(1)
            while inside > seen:
                seen_before = words.compare_swap(1, seen, inside)
                if seen_before == seen:
                    break
                seen = seen_before
            words.fetch_add(0, -1)
    comm.Barrier()
    assert 1 <= words.load(1) <= with_permits
    sem.close()
    words.close()


def test_batch_runs_each_task_once(comm):
    n_task = 17
    with MPIBatch(comm, 1, n_task) as batch:
        mine = []
        while (task := batch.next_task()) is not None:
            mine.append(task)
            batch.set_task_state(task, batch.DONE)
        every = sorted(t for ts in comm.allgather(mine) for t in ts)
        assert every == list(range(n_task))
        comm.Barrier()
        assert all(batch.get_task_state(t) == batch.DONE for t in range(n_task))


def test_split_indices_cover_everything(comm):
    parts = [split_indices(10, r, comm.size) for r in range(comm.size)]
    assert sorted(i for p in parts for i in p) == list(range(10))
    with pytest.raises(ValueError):
        split_indices(10, comm.size, comm.size)
    assert sorted(split_indices(5, 0, 1, 7)) == list(range(5))
