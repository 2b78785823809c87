//! mpi4py communicators as rsmpi ones, borrowed for a call.

use mpi::ffi::MPI_Comm;
use mpi::raw::FromRaw;
use mpi::topology::SimpleCommunicator;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use std::mem::ManuallyDrop;

/// A communicator that Python owns, seen as an rsmpi communicator: dropping
/// it does not free the handle.
pub(crate) struct Borrowed(ManuallyDrop<SimpleCommunicator>);

impl std::ops::Deref for Borrowed {
    type Target = SimpleCommunicator;
    fn deref(&self) -> &SimpleCommunicator {
        &self.0
    }
}

/// The C handle of an `mpi4py.MPI.Comm`, through its Fortran handle
/// (`py2f()` and `MPI_Comm_f2c`), which is an integer on every MPI while the
/// C handle is a pointer on Open MPI and an integer on MPICH.
pub(crate) fn borrow(comm: &Bound<'_, PyAny>) -> PyResult<Borrowed> {
    let fortran: i32 = comm
        .call_method0("py2f")
        .and_then(|f| f.extract())
        .map_err(|_| PyValueError::new_err("expected an mpi4py.MPI.Comm (or None)"))?;
    // SAFETY: MPI_Comm_f2c only converts a handle; mpi4py initialised MPI
    // when it made the communicator.
    let raw: MPI_Comm = unsafe { mpi::ffi::RSMPI_Comm_f2c(fortran) };
    // SAFETY: comparing handles has no precondition.
    if unsafe { raw == mpi::ffi::RSMPI_COMM_NULL } {
        return Err(PyValueError::new_err("the communicator is MPI.COMM_NULL"));
    }
    // SAFETY: the predefined handles are constants of the library.
    let (world, this) = unsafe { (mpi::ffi::RSMPI_COMM_WORLD, mpi::ffi::RSMPI_COMM_SELF) };
    let comm = if raw == world {
        SimpleCommunicator::world()
    } else if raw == this {
        SimpleCommunicator::self_comm()
    } else {
        let mut inter = 0;
        // SAFETY: `raw` is a live communicator (mpi4py's, not null).
        unsafe { mpi::ffi::MPI_Comm_test_inter(raw, &mut inter) };
        if inter != 0 {
            return Err(PyValueError::new_err(
                "an inter-communicator was passed; the toolkit works on intra-communicators",
            ));
        }
        // SAFETY: `raw` is a live intra-communicator other than the
        // predefined ones, which Python keeps alive for the call;
        // ManuallyDrop keeps rsmpi from freeing it.
        unsafe { SimpleCommunicator::from_raw(raw) }
    };
    Ok(Borrowed(ManuallyDrop::new(comm)))
}
