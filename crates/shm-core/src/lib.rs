//! # shm-core
//!
//! A safe layer over MPI-3 one-sided communication, and [`MpiShared`], an
//! n-dimensional array kept once per node in shared memory and replicated
//! to every node.
//!
//! * [`window`]: typed windows (`MPI_Win_allocate`, `MPI_Win_allocate_shared`)
//!   with epochs as RAII guards and put/get/accumulate/atomics.
//! * [`comm`]: communicators owned by the library, with checked collectives.
//! * [`topology`]: the node and node-leader communicators ([`NodeTopology`]),
//!   cached on the communicator, with the node memory pool of its arrays.
//! * [`shared`]: [`MpiShared`], the replicated node-shared array.
//! * [`split_indices`]: dividing `n` work items among ranks.
//!
//! Every MPI error becomes an [`Error`]; collective calls validate their
//! arguments on all ranks together, so that bad input on one rank is the same
//! clear error on every rank instead of a hang.

#![warn(missing_docs)]
#![deny(unsafe_op_in_unsafe_fn)]

mod abort;
pub mod backoff;
pub mod census;
pub mod comm;
pub mod element;
mod error;
mod idle_wait;
mod library;
mod memory;
pub mod shared;
mod slab;
mod split;
pub mod sync;
#[doc(hidden)]
pub mod sys;
pub mod topology;
pub mod window;

pub use abort::abort_on_panic;
pub use comm::OwnedComm;
pub use element::Element;
pub use error::{Error, Resource, Result};
pub use library::{built_against, check_mpi_library, loaded_library};
pub use shared::{MpiShared, Slab};
pub use split::split_indices;
pub use topology::NodeTopology;
pub use window::{LockKind, LockedSharedWindow, LockedWindow, Op, Rma, SharedWindow, Window};
