//! The error type of `shm-core`, and the conversion of MPI return codes.

use crate::sys;
use std::os::raw::{c_char, c_int};

/// Everything that can go wrong in `shm-core`.
///
/// Errors of collective calls are *agreed*: when one rank finds an argument
/// invalid, every rank of the communicator returns an [`Error::Invalid`]
/// carrying the same message and the rank that found it, and no data is
/// written anywhere. Local mistakes (a bad target or range, an operation a
/// type does not support, conflicting epochs) have variants of their own.
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
    /// An argument was invalid; every rank of the collective call returns
    /// this same error.
    #[error("invalid argument{}: {message}", found_on(*rank))]
    Invalid {
        /// The lowest rank that found the problem in its own arguments, or
        /// `None` when the ranks found it together (their arguments disagree).
        rank: Option<i32>,
        /// What was wrong.
        message: String,
    },
    /// A rank outside the group of the window or communicator.
    #[error("rank {rank} is outside the group of {size} ranks")]
    NoSuchRank {
        /// The rank asked for.
        rank: i32,
        /// The size of the group.
        size: i32,
    },
    /// Elements outside a rank's segment of a window.
    #[error("elements {disp}..{} are outside rank {target}'s segment of {len}", disp.saturating_add(*count))]
    OutOfRange {
        /// The target rank.
        target: i32,
        /// The first element asked for.
        disp: usize,
        /// How many elements.
        count: usize,
        /// The length of the target's segment.
        len: usize,
    },
    /// An operation that MPI does not define for the element type (bitwise
    /// operations and compare-and-swap on floating point).
    #[error("{operation} is only defined for integer types, not {element}")]
    Unsupported {
        /// The operation.
        operation: &'static str,
        /// The element type (`"float64"`, …).
        element: &'static str,
    },
    /// An epoch was opened while a conflicting one is open on the window, or
    /// an operation named a target its epoch does not reach.
    #[error("{0}")]
    Epoch(String),
    /// Buffers that must have the same length do not.
    #[error("{what} need equal lengths, got {left} and {right}")]
    LengthMismatch {
        /// Which buffers.
        what: &'static str,
        /// The first length.
        left: usize,
        /// The second length.
        right: usize,
    },
    /// A local (non-collective) call got an argument it cannot use, of a kind
    /// without a variant of its own (a slab that does not fit a local array,
    /// a size that does not fit in memory).
    #[error("{0}")]
    Usage(String),
    /// The object was already closed.
    #[error("{0} is already closed")]
    Closed(&'static str),
    /// The MPI library loaded is not the one this program was built against
    /// (see [`check_mpi_library`](crate::check_mpi_library)).
    #[error(
        "this program was built against {built} but loaded another MPI library: {loaded:?}; \
         point the library path (LD_LIBRARY_PATH, or an rpath when linking) at the MPI it was built with"
    )]
    MpiLibrary {
        /// The implementation and version of the `mpi.h` compiled against.
        built: String,
        /// The first line of `MPI_Get_library_version` of the library loaded.
        loaded: String,
    },
    /// Node memory or an MPI resource ran out. Collective calls return it on
    /// every rank, and leave nothing allocated; what was alive before stays
    /// intact.
    #[error("out of {resource} (found on rank {rank}): {message}")]
    Exhausted {
        /// The lowest rank of the communicator that ran out.
        rank: i32,
        /// What ran out.
        resource: Resource,
        /// How much was asked and how much was left.
        message: String,
    },
    /// A wait of a synchronisation object (see [`crate::sync::poll`]) took
    /// longer than the deadline set by the `RMA_WAIT_DEADLINE` environment
    /// variable. Meant for tests and debugging: it turns a protocol bug into
    /// an error instead of a hang, and the object that waited may be left
    /// unusable.
    #[error("a wait took longer than RMA_WAIT_DEADLINE ({millis} ms)")]
    Deadline {
        /// The deadline, in milliseconds.
        millis: u64,
    },
}

/// A resource that can run out, in [`Error::Exhausted`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Resource {
    /// Shared memory of a node (`/dev/shm`, the node's memory, or the job's
    /// memory limit).
    NodeMemory,
    /// The MPI library's communicator contexts, which every communicator and
    /// every window takes one of (about 2,000 per process in MPICH).
    MpiContexts,
}

impl std::fmt::Display for Resource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Resource::NodeMemory => "node shared memory",
            Resource::MpiContexts => "MPI communicator contexts",
        })
    }
}

/// What one rank found wrong in a collective call, in a form that can be
/// sent to the others (see `comm::raw::agree_finding`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Finding {
    /// Becomes [`Error::Invalid`].
    Invalid(String),
    /// Becomes [`Error::Exhausted`].
    Exhausted(Resource, String),
}

impl Finding {
    /// A number for the kind, sent ahead of the message.
    pub(crate) fn code(&self) -> i64 {
        match self {
            Finding::Invalid(_) => 0,
            Finding::Exhausted(Resource::NodeMemory, _) => 1,
            Finding::Exhausted(Resource::MpiContexts, _) => 2,
        }
    }

    /// The finding of kind `code` with `message`.
    pub(crate) fn from_code(code: i64, message: String) -> Self {
        match code {
            1 => Finding::Exhausted(Resource::NodeMemory, message),
            2 => Finding::Exhausted(Resource::MpiContexts, message),
            _ => Finding::Invalid(message),
        }
    }

    /// The finding that stands for `error` when it occurred on one rank of
    /// a collective call.
    pub(crate) fn of(error: &Error) -> Self {
        match error {
            Error::Exhausted {
                resource, message, ..
            } => Finding::Exhausted(*resource, message.clone()),
            Error::Invalid { message, .. } => Finding::Invalid(message.clone()),
            other => Finding::Invalid(other.to_string()),
        }
    }

    /// The message.
    pub(crate) fn message(&self) -> &str {
        match self {
            Finding::Invalid(m) | Finding::Exhausted(_, m) => m,
        }
    }

    /// The error every rank returns, naming the rank that found it.
    pub(crate) fn into_error(self, rank: i32) -> Error {
        match self {
            Finding::Invalid(message) => Error::Invalid {
                rank: Some(rank),
                message,
            },
            Finding::Exhausted(resource, message) => Error::Exhausted {
                rank,
                resource,
                message,
            },
        }
    }
}

/// `" (found on rank R)"`, or nothing.
fn found_on(rank: Option<i32>) -> String {
    rank.map_or(String::new(), |r| format!(" (found on rank {r})"))
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
