//! Raw MPI constants that `mpi.h` defines as macros, read from the C shim.
//!
//! Every item here is a plain copy of a value that the shim initialised at
//! load time from the MPI library we link against; reading it cannot race with
//! anything because nothing ever writes it.

use mpi::ffi::{MPI_Comm, MPI_Datatype, MPI_Errhandler, MPI_Info, MPI_Op, MPI_Win};
use std::os::raw::c_int;

mod raw {
    use super::*;
    extern "C" {
        pub static SHM_MPI_REPLACE: MPI_Op;
        pub static SHM_MPI_NO_OP: MPI_Op;
        pub static SHM_MPI_SUM: MPI_Op;
        pub static SHM_MPI_PROD: MPI_Op;
        pub static SHM_MPI_MIN: MPI_Op;
        pub static SHM_MPI_MAX: MPI_Op;
        pub static SHM_MPI_BAND: MPI_Op;
        pub static SHM_MPI_BOR: MPI_Op;
        pub static SHM_MPI_BXOR: MPI_Op;
        pub static SHM_MPI_BYTE: MPI_Datatype;
        pub static SHM_MPI_INT64_T: MPI_Datatype;
        pub static SHM_MPI_INFO_NULL: MPI_Info;
        pub static SHM_MPI_WIN_NULL: MPI_Win;
        pub static SHM_MPI_COMM_NULL: MPI_Comm;
        pub static SHM_MPI_ERRORS_RETURN: MPI_Errhandler;
        pub static SHM_MPI_ERRHANDLER_NULL: MPI_Errhandler;
        pub static SHM_MPI_SUCCESS: c_int;
        pub static SHM_MPI_LOCK_EXCLUSIVE: c_int;
        pub static SHM_MPI_LOCK_SHARED: c_int;
        pub static SHM_MPI_MODE_NOCHECK: c_int;
        pub static SHM_MPI_MODE_NOSTORE: c_int;
        pub static SHM_MPI_MODE_NOPUT: c_int;
        pub static SHM_MPI_MODE_NOPRECEDE: c_int;
        pub static SHM_MPI_MODE_NOSUCCEED: c_int;
        pub static SHM_MPI_WIN_MODEL: c_int;
        pub static SHM_MPI_WIN_UNIFIED: c_int;
        pub static SHM_MPI_WIN_SEPARATE: c_int;
        pub static SHM_MPI_MAX_ERROR_STRING: c_int;
        pub static SHM_MPI_ANY_SOURCE: c_int;
        pub static SHM_MPI_ANY_TAG: c_int;
        pub static SHM_MPI_UNDEFINED: c_int;
        pub static SHM_MPI_COMM_TYPE_SHARED: c_int;
        pub static SHM_MPI_THREAD_MULTIPLE: c_int;
    }
}

macro_rules! constants {
    ($($(#[$doc:meta])* $name:ident: $ty:ty = $sym:ident;)*) => {
        $(
            $(#[$doc])*
            #[inline]
            #[allow(non_snake_case)]
            pub fn $name() -> $ty {
                // SAFETY: the shim defines the symbol as a `const` object
                // initialised before `main`; it is never written, so a read
                // cannot race, and its type matches the C declaration.
                unsafe { raw::$sym }
            }
        )*
    };
}

constants! {
    /// `MPI_REPLACE`.
    REPLACE: MPI_Op = SHM_MPI_REPLACE;
    /// `MPI_NO_OP`.
    NO_OP: MPI_Op = SHM_MPI_NO_OP;
    /// `MPI_SUM`.
    SUM: MPI_Op = SHM_MPI_SUM;
    /// `MPI_PROD`.
    PROD: MPI_Op = SHM_MPI_PROD;
    /// `MPI_MIN`.
    MIN: MPI_Op = SHM_MPI_MIN;
    /// `MPI_MAX`.
    MAX: MPI_Op = SHM_MPI_MAX;
    /// `MPI_BAND`.
    BAND: MPI_Op = SHM_MPI_BAND;
    /// `MPI_BOR`.
    BOR: MPI_Op = SHM_MPI_BOR;
    /// `MPI_BXOR`.
    BXOR: MPI_Op = SHM_MPI_BXOR;
    /// `MPI_BYTE`.
    BYTE: MPI_Datatype = SHM_MPI_BYTE;
    /// `MPI_INT64_T`.
    INT64_T: MPI_Datatype = SHM_MPI_INT64_T;
    /// `MPI_INFO_NULL`.
    INFO_NULL: MPI_Info = SHM_MPI_INFO_NULL;
    /// `MPI_WIN_NULL`.
    WIN_NULL: MPI_Win = SHM_MPI_WIN_NULL;
    /// `MPI_COMM_NULL`.
    COMM_NULL: MPI_Comm = SHM_MPI_COMM_NULL;
    /// `MPI_ERRORS_RETURN`.
    ERRORS_RETURN: MPI_Errhandler = SHM_MPI_ERRORS_RETURN;
    /// `MPI_ERRHANDLER_NULL`.
    ERRHANDLER_NULL: MPI_Errhandler = SHM_MPI_ERRHANDLER_NULL;
    /// `MPI_SUCCESS`.
    SUCCESS: c_int = SHM_MPI_SUCCESS;
    /// `MPI_LOCK_EXCLUSIVE`.
    LOCK_EXCLUSIVE: c_int = SHM_MPI_LOCK_EXCLUSIVE;
    /// `MPI_LOCK_SHARED`.
    LOCK_SHARED: c_int = SHM_MPI_LOCK_SHARED;
    /// `MPI_MODE_NOCHECK`.
    MODE_NOCHECK: c_int = SHM_MPI_MODE_NOCHECK;
    /// `MPI_MODE_NOSTORE`.
    MODE_NOSTORE: c_int = SHM_MPI_MODE_NOSTORE;
    /// `MPI_MODE_NOPUT`.
    MODE_NOPUT: c_int = SHM_MPI_MODE_NOPUT;
    /// `MPI_MODE_NOPRECEDE`.
    MODE_NOPRECEDE: c_int = SHM_MPI_MODE_NOPRECEDE;
    /// `MPI_MODE_NOSUCCEED`.
    MODE_NOSUCCEED: c_int = SHM_MPI_MODE_NOSUCCEED;
    /// `MPI_WIN_MODEL` (window attribute key).
    WIN_MODEL: c_int = SHM_MPI_WIN_MODEL;
    /// `MPI_WIN_UNIFIED`.
    WIN_UNIFIED: c_int = SHM_MPI_WIN_UNIFIED;
    /// `MPI_WIN_SEPARATE`.
    WIN_SEPARATE: c_int = SHM_MPI_WIN_SEPARATE;
    /// `MPI_MAX_ERROR_STRING`.
    MAX_ERROR_STRING: c_int = SHM_MPI_MAX_ERROR_STRING;
    /// `MPI_ANY_SOURCE`.
    ANY_SOURCE: c_int = SHM_MPI_ANY_SOURCE;
    /// `MPI_ANY_TAG`.
    ANY_TAG: c_int = SHM_MPI_ANY_TAG;
    /// `MPI_UNDEFINED`.
    UNDEFINED: c_int = SHM_MPI_UNDEFINED;
    /// `MPI_COMM_TYPE_SHARED`.
    COMM_TYPE_SHARED: c_int = SHM_MPI_COMM_TYPE_SHARED;
    /// `MPI_THREAD_MULTIPLE`.
    THREAD_MULTIPLE: c_int = SHM_MPI_THREAD_MULTIPLE;
}
