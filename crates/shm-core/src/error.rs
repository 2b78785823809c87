//! The error type of `shm-core`, and the conversion of MPI return codes.

use crate::sys;
use std::os::raw::{c_char, c_int};

/// Everything that can go wrong in `shm-core`.
///
/// Errors of collective calls are *agreed*: when one rank finds an argument
/// invalid, every rank of the communicator returns an [`Error::Invalid`]
/// carrying the same message and the rank that found it, and no data is
/// written anywhere.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An MPI call returned an error code (windows and our communicators use
    /// `MPI_ERRORS_RETURN`, so MPI errors arrive here instead of aborting).
    #[error("{call} failed: {message} (MPI error code {code}, class {class})")]
    Mpi {
        /// The MPI function that failed.
        call: &'static str,
        /// The error code it returned.
        code: i32,
        /// The error class of that code.
        class: i32,
        /// The implementation's text for the code.
        message: String,
    },
    /// An argument was invalid on some rank; every rank of the collective call
    /// returns this same error.
    #[error("invalid argument (found on rank {rank}): {message}")]
    Invalid {
        /// The lowest rank of the communicator that found the problem.
        rank: i32,
        /// What was wrong.
        message: String,
    },
    /// A local (non-collective) call got an argument it cannot use.
    #[error("{0}")]
    Usage(String),
    /// The object was already closed.
    #[error("{0} is already closed")]
    Closed(&'static str),
}

/// The result type of `shm-core`.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Turns an MPI return code into a `Result`, naming the call that produced it.
pub(crate) fn check(code: c_int, call: &'static str) -> Result<()> {
    if code == sys::SUCCESS() {
        Ok(())
    } else {
        Err(mpi_error(code, call))
    }
}

pub(crate) fn mpi_error(code: c_int, call: &'static str) -> Error {
    let mut class: c_int = 0;
    let mut buf = vec![0u8; sys::MAX_ERROR_STRING().max(1) as usize + 1];
    let mut len: c_int = 0;
    // SAFETY: both functions are callable at any time after MPI_Init (they are
    // also allowed after MPI errors); `buf` holds MPI_MAX_ERROR_STRING + 1
    // bytes, as MPI_Error_string requires, and `len` receives the length used.
    let message = unsafe {
        mpi::ffi::MPI_Error_class(code, &mut class);
        if mpi::ffi::MPI_Error_string(code, buf.as_mut_ptr() as *mut c_char, &mut len)
            == sys::SUCCESS()
        {
            String::from_utf8_lossy(&buf[..len.clamp(0, buf.len() as c_int) as usize]).into_owned()
        } else {
            "unknown MPI error".to_string()
        }
    };
    Error::Mpi {
        call,
        code,
        class,
        message,
    }
}
