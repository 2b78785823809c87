//! Raw MPI constants, each from one source: `mpi::ffi` (rsmpi), which
//! exports most handles and the integer constants that `mpi.h` defines, and
//! the C shim (`shim.c`) for the few it does not (`MPI_REPLACE`,
//! `MPI_NO_OP`, `MPI_BYTE`, `MPI_ERRHANDLER_NULL`, and the window-model
//! constants, which MPICH declares as an enum of its own).
//!
//! Internal to the toolkit: its crates and its benchmark use these; they are
//! not part of the documented API.
//!
//! Every item is a plain copy of a value initialised at load time from the
//! MPI library we link against; reading it cannot race with anything because
//! nothing ever writes it.

use mpi::ffi::{MPI_Comm, MPI_Datatype, MPI_Errhandler, MPI_Info, MPI_Op, MPI_Win};
use std::os::raw::c_int;

mod shim {
    use super::*;
    extern "C" {
        pub static SHM_MPI_REPLACE: MPI_Op;
        pub static SHM_MPI_NO_OP: MPI_Op;
        pub static SHM_MPI_BYTE: MPI_Datatype;
        pub static SHM_MPI_ERRHANDLER_NULL: MPI_Errhandler;
        pub static SHM_MPI_WIN_MODEL: c_int;
        pub static SHM_MPI_WIN_UNIFIED: c_int;
        pub static SHM_MPI_WIN_SEPARATE: c_int;
    }
}

/// Defines a function per constant that reads a `static` of `mpi::ffi` or of
/// the shim.
macro_rules! statics {
    ($($(#[$doc:meta])* $name:ident: $ty:ty = $path:path;)*) => {
        $(
            $(#[$doc])*
            #[inline]
            #[allow(non_snake_case)]
            pub fn $name() -> $ty {
                // SAFETY: rsmpi and the shim define the symbol as a constant
                // object initialised before `main`; it is never written, so
                // a read cannot race, and its type matches the C declaration.
                unsafe { $path }
            }
        )*
    };
}

/// Defines a function per integer constant that bindgen gives `mpi::ffi`
/// as a `pub const` (unsigned in every implementation we build with).
macro_rules! integers {
    ($($(#[$doc:meta])* $name:ident = $path:path;)*) => {
        $(
            $(#[$doc])*
            #[inline]
            #[allow(non_snake_case)]
            pub fn $name() -> c_int {
                $path as c_int
            }
        )*
    };
}

statics! {
    /// `MPI_REPLACE`.
    REPLACE: MPI_Op = shim::SHM_MPI_REPLACE;
    /// `MPI_NO_OP`.
    NO_OP: MPI_Op = shim::SHM_MPI_NO_OP;
    /// `MPI_SUM`.
    SUM: MPI_Op = mpi::ffi::RSMPI_SUM;
    /// `MPI_PROD`.
    PROD: MPI_Op = mpi::ffi::RSMPI_PROD;
    /// `MPI_MIN`.
    MIN: MPI_Op = mpi::ffi::RSMPI_MIN;
    /// `MPI_MAX`.
    MAX: MPI_Op = mpi::ffi::RSMPI_MAX;
    /// `MPI_BAND`.
    BAND: MPI_Op = mpi::ffi::RSMPI_BAND;
    /// `MPI_BOR`.
    BOR: MPI_Op = mpi::ffi::RSMPI_BOR;
    /// `MPI_BXOR`.
    BXOR: MPI_Op = mpi::ffi::RSMPI_BXOR;
    /// `MPI_BYTE`.
    BYTE: MPI_Datatype = shim::SHM_MPI_BYTE;
    /// `MPI_INT64_T`.
    INT64_T: MPI_Datatype = mpi::ffi::RSMPI_INT64_T;
    /// `MPI_INFO_NULL`.
    INFO_NULL: MPI_Info = mpi::ffi::RSMPI_INFO_NULL;
    /// `MPI_WIN_NULL`.
    WIN_NULL: MPI_Win = mpi::ffi::RSMPI_WIN_NULL;
    /// `MPI_COMM_NULL`.
    COMM_NULL: MPI_Comm = mpi::ffi::RSMPI_COMM_NULL;
    /// `MPI_COMM_SELF`.
    COMM_SELF: MPI_Comm = mpi::ffi::RSMPI_COMM_SELF;
    /// `MPI_ERRORS_RETURN`.
    ERRORS_RETURN: MPI_Errhandler = mpi::ffi::RSMPI_ERRORS_RETURN;
    /// `MPI_ERRHANDLER_NULL`.
    ERRHANDLER_NULL: MPI_Errhandler = shim::SHM_MPI_ERRHANDLER_NULL;
    /// `MPI_WIN_MODEL` (window attribute key).
    WIN_MODEL: c_int = shim::SHM_MPI_WIN_MODEL;
    /// `MPI_WIN_UNIFIED`.
    WIN_UNIFIED: c_int = shim::SHM_MPI_WIN_UNIFIED;
    /// `MPI_WIN_SEPARATE`.
    WIN_SEPARATE: c_int = shim::SHM_MPI_WIN_SEPARATE;
    /// `MPI_ANY_SOURCE`.
    ANY_SOURCE: c_int = mpi::ffi::RSMPI_ANY_SOURCE;
    /// `MPI_ANY_TAG`.
    ANY_TAG: c_int = mpi::ffi::RSMPI_ANY_TAG;
    /// `MPI_UNDEFINED`.
    UNDEFINED: c_int = mpi::ffi::RSMPI_UNDEFINED;
    /// `MPI_COMM_TYPE_SHARED`.
    COMM_TYPE_SHARED: c_int = mpi::ffi::RSMPI_COMM_TYPE_SHARED;
    /// `MPI_THREAD_MULTIPLE`.
    THREAD_MULTIPLE: c_int = mpi::ffi::RSMPI_THREAD_MULTIPLE;
}

integers! {
    /// `MPI_SUCCESS`.
    SUCCESS = mpi::ffi::MPI_SUCCESS;
    /// `MPI_LOCK_EXCLUSIVE`.
    LOCK_EXCLUSIVE = mpi::ffi::MPI_LOCK_EXCLUSIVE;
    /// `MPI_LOCK_SHARED`.
    LOCK_SHARED = mpi::ffi::MPI_LOCK_SHARED;
    /// `MPI_MODE_NOCHECK`.
    MODE_NOCHECK = mpi::ffi::MPI_MODE_NOCHECK;
    /// `MPI_MODE_NOSTORE`.
    MODE_NOSTORE = mpi::ffi::MPI_MODE_NOSTORE;
    /// `MPI_MODE_NOPUT`.
    MODE_NOPUT = mpi::ffi::MPI_MODE_NOPUT;
    /// `MPI_MODE_NOPRECEDE`.
    MODE_NOPRECEDE = mpi::ffi::MPI_MODE_NOPRECEDE;
    /// `MPI_MODE_NOSUCCEED`.
    MODE_NOSUCCEED = mpi::ffi::MPI_MODE_NOSUCCEED;
    /// `MPI_MAX_ERROR_STRING`.
    MAX_ERROR_STRING = mpi::ffi::MPI_MAX_ERROR_STRING;
}
