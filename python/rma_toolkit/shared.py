"""MPIShared: pshmem's node-shared array, on the toolkit's ``MpiShared``.

One copy per node in MPI shared memory, replicated to every node by a
collective ``set``; reads are numpy views of the node copy (no copy).
Unlike pshmem, any number of arrays may live at once (they share a few
large windows), nodes may have different numbers of processes, and bad
input raises the same exception on every rank instead of leaving the
others waiting.
"""

import numbers

import numpy as np

from . import _native
from .errors import InvalidArgumentError

# Element types the Rust side stores.
_DTYPES = {
    "int8", "int16", "int32", "int64",
    "uint8", "uint16", "uint32", "uint64",
    "float32", "float64",
}

# A shape no array can have: what a rank with a bad shape or dtype passes to
# the collective creation, so that every rank fails in it together.
_UNMAKEABLE = [2**64 - 1]


def _normalize_shape(shape):
    """The shape as a list of non-negative ints, or ValueError."""
    if isinstance(shape, numbers.Integral):
        shape = (shape,)
    dims = np.asarray(shape)
    if dims.ndim != 1 or not (
        dims.dtype.kind in "iu" or (dims.dtype == object and all(
            isinstance(d, numbers.Integral) for d in dims))
    ):
        raise ValueError(f"shape {shape!r} must be a sequence of integers")
    out = [int(d) for d in dims]
    if any(d < 0 for d in out):
        raise ValueError(f"shape {shape!r} has a negative dimension")
    return out


def _offset_from_key(key, ndim):
    """The start of each dimension that ``key`` (pshmem's ``shm[key] = ...``)
    addresses."""
    keys = key if isinstance(key, tuple) else (key,)
    offset = []
    for k in keys:
        if isinstance(k, slice):
            if k.step not in (None, 1):
                raise ValueError("[] slices must have step 1")
            offset.append(0 if k.start is None else int(k.start))
        elif isinstance(k, (numbers.Integral, np.integer)):
            offset.append(int(k))
        else:
            raise ValueError("[] key must be scalar or tuple of slices or integers")
    offset += [0] * (ndim - len(offset))
    return offset


class MPIShared:
    """A shared array of ``shape`` and ``dtype`` over ``comm``.

    Args:
        shape (tuple): the dimensions.
        dtype (numpy.dtype): int8-64, uint8-64, float32 or float64.
        comm (mpi4py.MPI.Comm): the communicator, or None for an array in
            this process only.
        comm_node (mpi4py.MPI.Comm): optional; the caller's node
            communicator (processes that share memory, partitioning comm).
        comm_node_rank (mpi4py.MPI.Comm): accepted for pshmem compatibility;
            the toolkit makes its own communicator of node leaders.

    Creation, ``set``, ``[]=`` and ``close`` are collective over ``comm``.
    """

    def __init__(self, shape, dtype, comm, comm_node=None, comm_node_rank=None):
        self._comm = comm
        self._nodecomm = comm_node
        self._dtype = np.dtype(dtype)
        self._data = None
        self._native = None
        problem = None
        try:
            dims = _normalize_shape(shape)
            if self._dtype.name not in _DTYPES:
                raise ValueError(f"dtype {self._dtype} is not supported")
        except ValueError as e:
            if comm is None:
                raise
            problem, dims = e, _UNMAKEABLE
        self._shape = tuple(dims)
        try:
            name = self._dtype.name if problem is None else "float64"
            self._native = _native.SharedArray(dims, name, comm, comm_node)
        except InvalidArgumentError as e:
            if problem is not None:
                raise InvalidArgumentError(str(problem)) from e
            raise
        self._n = int(np.prod(self._shape, dtype=np.int64))
        if self._n > 0:
            self._data = self._native.view()
        self._nodes, self._nodeprocs, self._procs = self._native.layout
        self._rank = 0 if comm is None else comm.rank

    # --- pshmem's attributes -------------------------------------------------

    @property
    def data(self):
        """The node copy as a read-only numpy array (None when empty)."""
        return self._data

    @property
    def _flat(self):
        """The node copy as a flat numpy array (same memory)."""
        return None if self._data is None else self._data.reshape(-1)

    @property
    def shape(self):
        """The tuple of dimensions."""
        return self._shape

    @property
    def dtype(self):
        """The numpy dtype."""
        return self._dtype

    @property
    def comm(self):
        """The full communicator."""
        return self._comm

    @property
    def nodecomm(self):
        """The node communicator passed in (None when the toolkit found it)."""
        return self._nodecomm

    def __len__(self):
        return 0 if self._data is None else len(self._data)

    def __getitem__(self, key):
        return None if self._data is None else self._data[key]

    def __iter__(self):
        return iter(()) if self._data is None else iter(self._data)

    def __array__(self, dtype=None, copy=None):
        data = self._data if self._data is not None else np.zeros(self._shape, self._dtype)
        if copy:
            return np.array(data, dtype=dtype, copy=True)
        return data if dtype is None else data.astype(dtype, copy=False)

    @property
    def __array_interface__(self):
        return self._data.__array_interface__

    # --- writes ----------------------------------------------------------

    def _source_data(self, data):
        """This rank's data as an array of the array's dimension."""
        if not isinstance(data, np.ndarray):
            data = np.asarray(data, dtype=self._dtype)
        if data.ndim < len(self._shape):
            data = data.reshape((1,) * (len(self._shape) - data.ndim) + data.shape)
        return data

    def _write(self, data, offset, fromrank, problem=None):
        if self._data is None:
            raise RuntimeError("Data size is zero- cannot assign elements")
        if self._native.closed:
            raise RuntimeError("the MPIShared array is closed")
        ndim = len(self._shape)
        try:
            if data is not None:
                data = self._source_data(data)
            offset = [0] * ndim if offset is None else [int(o) for o in offset]
            if any(o < 0 for o in offset):
                raise ValueError(f"offset {offset} is negative")
        except (ValueError, TypeError) as e:
            problem, offset = problem or str(e), [0] * ndim
        if problem is not None:
            offset = [0] * ndim
        self._native.set(data, offset, fromrank, problem)

    def set(self, data, offset=None, fromrank=0):
        """Write ``data`` of rank ``fromrank`` at ``offset`` into every node's
        copy (collective; only ``fromrank``'s data and offset matter)."""
        self._write(data, offset, int(fromrank))

    def __setitem__(self, key, value):
        """``shm[slices] = data`` on one rank, ``shm[None] = None`` on the
        others (collective): the source is the rank whose value is not None.
        """
        if value is None:
            self._write(None, None, None)
            return
        try:
            offset, problem = _offset_from_key(key, len(self._shape)), None
        except ValueError as e:
            offset, problem = None, str(e)
        self._write(value, offset, None, problem)

    # --- life ------------------------------------------------------------

    def close(self):
        """Give the memory back (collective in order, no communication).
        Views taken from the array must not be used afterwards."""
        self._data = None
        if self._native is not None:
            self._native.close()

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

    def __repr__(self):
        val = "<MPIShared"
        val += "\n  replicated on {} nodes, each with {} processes ({} total)".format(
            self._nodes, self._nodeprocs, self._procs
        )
        val += "\n  shape = {}, dtype = {}".format(self._shape, self._dtype)
        if self._data is None:
            val += "\n No Data"
        elif self._shape[0] <= 4:
            val += "\n  [ " + "".join("{} ".format(self._data[i]) for i in range(self._shape[0])) + "]"
        else:
            d = self._data
            val += "\n  [ {} {} ... {} {} ]".format(d[0], d[1], d[-2], d[-1])
        return val + "\n>"
