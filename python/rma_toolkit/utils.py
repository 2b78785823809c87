"""Helpers pshmem's users and tests import from ``pshmem.utils``."""

import sys
import time
import traceback
from contextlib import contextmanager


@contextmanager
def exception_guard(comm=None, timeout=5):
    """If this process raises, print the traceback and end the whole job.

    Without it, one rank's exception leaves the others waiting in their
    next collective. On a communicator of more than one process, the job is
    aborted ``timeout`` seconds after the traceback is printed (time for the
    other ranks' output to reach the terminal).
    """
    try:
        yield
    except Exception:
        rank = 0 if comm is None else comm.rank
        lines = traceback.format_exception(*sys.exc_info())
        print("".join(f"Proc {rank}: {x}" for x in lines), flush=True)
        if comm is None or comm.size == 1:
            raise
        time.sleep(timeout)
        comm.Abort(1)
