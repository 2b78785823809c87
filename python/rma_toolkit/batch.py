"""MPIBatch: pshmem's batch of tasks run by fixed-size groups of processes.

The task states live in atomic words on rank ``root`` (MPI atomics only).
Without a state directory, a worker claims a task with one compare-and-swap
per candidate, so claims never wait for each other (pshmem takes an
exclusive window lock and reads every state one by one). With a state
directory (``task_fs_root``), the directory is the truth, as in pshmem, and
claims are serialised by the toolkit's FIFO lock.
"""

import os

import numpy as np

from . import _native


class MPIBatch:
    """Tasks ``0..n_task`` handed to workers of ``worker_size`` processes.

    Args:
        comm (mpi4py.MPI.Comm): all processes, or None (one worker of one).
        worker_size (int): processes per worker; must divide ``comm.size``.
        n_task (int): the number of tasks.
        init_state (array): initial states, read on ``root`` only.
        task_fs_root (str): optional directory of per-task state files.
        task_fs_names (list): the task subdirectory names (with fs root).
        root (int): the rank that keeps the states.
        debug (bool): print each state change.
    """

    INVALID = -1
    OPEN = 0
    RUNNING = 1
    DONE = 2
    FAILED = 3
    state_file_name = "state"
    _NAMES = {INVALID: "INVALID", OPEN: "OPEN", RUNNING: "RUNNING", DONE: "DONE", FAILED: "FAILED"}

    def __init__(self, comm, worker_size, n_task, init_state=None, task_fs_root=None,
                 task_fs_names=None, root=0, debug=False):
        if task_fs_root is not None and task_fs_names is None:
            raise RuntimeError("If tracking state with the filesystem, task names are required")
        if task_fs_names is not None and n_task != len(task_fs_names):
            raise RuntimeError("If using filesystem, n_task should match length of task_fs_names")
        self._comm, self._n_task, self._root, self._debug = comm, n_task, root, debug
        self._fs_root, self._fs_names = task_fs_root, task_fs_names
        self._words = self._lock = None
        rank = 0 if comm is None else comm.rank
        if comm is None:
            if worker_size != 1:
                raise RuntimeError("If comm is None, worker_size should be 1")
            self._n_worker, self._worker_size, self._worker, self._worker_rank = 1, 1, 0, 0
            self._worker_comm = None
            self._local = np.zeros(n_task, dtype=np.int64)
        else:
            if worker_size < 1 or comm.size % worker_size != 0:
                raise RuntimeError("Total number of MPI processes must be divisible by worker_size")
            self._n_worker = comm.size // worker_size
            self._worker_size = worker_size
            self._worker, self._worker_rank = divmod(comm.rank, worker_size)
            self._worker_comm = comm.Split(self._worker, self._worker_rank)
            self._words = _native.Words(comm, n_task, root)
            if task_fs_root is not None:
                self._lock = _native.Lock(comm, root)
        initial = self._initial_states(init_state) if rank == root else None
        if initial is not None:
            for task, state in enumerate(initial):
                if state != self.OPEN:
                    self._store(task, int(state))
        if comm is not None:
            comm.Barrier()

    # --- states ----------------------------------------------------------

    @classmethod
    def state_to_string(cls, state):
        """The name of a state."""
        if state not in cls._NAMES:
            raise RuntimeError(f"Unknown state '{state}'")
        return cls._NAMES[state]

    @classmethod
    def string_to_state(cls, state_str):
        """The state of a name."""
        for state, name in cls._NAMES.items():
            if name == state_str:
                return state
        raise RuntimeError(f"Unknown state string '{state_str}'")

    def _initial_states(self, init_state):
        if self._fs_root is None:
            return None if init_state is None else np.asarray(init_state)
        if os.path.exists(self._fs_root) and init_state is not None:
            raise RuntimeError(
                f"Filesystem root {self._fs_root} exists.  Initial state will be "
                "read from that and init_state should be None")
        states = []
        for task in range(self._n_task):
            os.makedirs(os.path.join(self._fs_root, self._fs_names[task]), exist_ok=True)
            state = self.read_task_state(task)
            if state == self.INVALID:
                state = self.OPEN
                self.write_task_state(task, state)
            states.append(state)
        return states

    def write_task_state(self, task, state):
        """Write a task's state file (with a state directory only)."""
        if self._fs_root is None:
            return
        path = os.path.join(self._fs_root, self._fs_names[task], self.state_file_name)
        with open(f"{path}.temp", "w") as f:
            f.write(f"{self.state_to_string(state)}\n")
        os.rename(f"{path}.temp", path)

    def read_task_state(self, task):
        """Read a task's state file; INVALID when there is none."""
        path = os.path.join(self._fs_root, self._fs_names[task], self.state_file_name)
        if not os.path.isfile(path):
            return self.INVALID
        with open(path) as f:
            return self.string_to_state(f.readline().rstrip())

    def _load(self, task):
        return int(self._local[task]) if self._words is None else self._words.load(task)

    def _store(self, task, state):
        if self._words is None:
            self._local[task] = state
        else:
            self._words.store(task, state)

    def _claim(self, task, old):
        """Set ``task`` from ``old`` to RUNNING; False if another worker did
        something to it first."""
        if self._words is None:
            self._local[task] = self.RUNNING
            return True
        return self._words.compare_swap(task, old, self.RUNNING) == old

    def _log(self, msg):
        if self._debug:
            print(f"MPIBatch: worker {self._worker}:{self._worker_rank} {msg}", flush=True)

    # --- the API -----------------------------------------------------------

    def next_task(self, ignore_running=False, ignore_failed=False, ignore_done=False):
        """The next available task for this worker, marked RUNNING, or None
        when there is none (collective over the worker)."""
        available = {self.OPEN}
        if ignore_running:
            available.add(self.RUNNING)
        if ignore_failed:
            available.add(self.FAILED)
        if ignore_done:
            available.add(self.DONE)
        result = None
        if self._worker_rank == 0:
            if self._lock is not None:
                self._lock.lock()
            try:
                for task in range(self._n_task):
                    state = self._load(task)
                    if self._fs_root is not None:
                        on_disk = self.read_task_state(task)
                        if on_disk != state:
                            self._store(task, on_disk)
                            state = on_disk
                    if state in available and self._claim(task, state):
                        self.write_task_state(task, self.RUNNING)
                        result = task
                        break
            finally:
                if self._lock is not None:
                    self._lock.unlock()
            self._log(f"got task {result}")
        if self._worker_comm is not None:
            result = self._worker_comm.bcast(result, root=0)
        return result

    def set_task_state(self, task, state):
        """Set a task's state (any process may call it)."""
        self.state_to_string(state)
        self._log(f"set task {task} to {self.state_to_string(state)}")
        if self._lock is not None:
            self._lock.lock()
        try:
            self.write_task_state(task, state)
            self._store(task, state)
        finally:
            if self._lock is not None:
                self._lock.unlock()

    def get_task_state(self, task):
        """A task's state (the state file's, when there is a directory)."""
        if self._fs_root is None:
            return self._load(task)
        if self._lock is not None:
            self._lock.lock()
        try:
            state = self.read_task_state(task)
            if state != self._load(task):
                self._store(task, state)
            return state
        finally:
            if self._lock is not None:
                self._lock.unlock()

    @property
    def comm(self):
        """The global communicator."""
        return self._comm

    @property
    def n_task(self):
        """The number of tasks."""
        return self._n_task

    @property
    def n_worker(self):
        """The number of workers."""
        return self._n_worker

    @property
    def worker_size(self):
        """Processes per worker."""
        return self._worker_size

    @property
    def worker(self):
        """This process's worker."""
        return self._worker

    @property
    def worker_rank(self):
        """This process's rank in its worker."""
        return self._worker_rank

    @property
    def worker_comm(self):
        """The communicator of this process's worker."""
        return self._worker_comm

    def close(self):
        """Free the states (collective)."""
        if self._comm is not None and self._words is not None:
            self._comm.Barrier()
        for res in (self._words, self._lock):
            if res is not None:
                res.close()
        self._words = self._lock = None
        if self._worker_comm is not None:
            self._worker_comm.Free()
            self._worker_comm = None

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False
