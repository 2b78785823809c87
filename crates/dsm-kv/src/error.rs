//! The error type of `dsm-kv`.

use crate::Var;

/// Everything that can go wrong in the distributed memory.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An MPI call (or a collective validation) failed in the window layer.
    #[error(transparent)]
    Core(#[from] shm_core::Error),
    /// [`init_memory`](crate::init_memory) needs a master and at least one host.
    #[error("the distributed memory needs at least 2 MPI processes (a master and one host or more), but the communicator has {size}")]
    TooFewProcesses {
        /// The size of the communicator.
        size: i32,
    },
    /// The memory cannot hold the value; nothing was allocated.
    #[error("out of memory: asked for {requested} slots but only {free} of {capacity} are free")]
    OutOfMemory {
        /// Slots asked for.
        requested: usize,
        /// Slots free (in the whole memory) when the allocation gave up.
        free: usize,
        /// Slots lent by all hosts together.
        capacity: usize,
    },
    /// Every variable descriptor of every host is in use; nothing was allocated.
    #[error("too many variables: all {capacity} variable descriptors are in use")]
    TooManyVariables {
        /// Descriptors of all hosts together.
        capacity: usize,
    },
    /// The variable was freed (by this rank or another one).
    #[error("{0} was freed")]
    Freed(Var),
    /// The handle does not name a descriptor of this memory.
    #[error("{0} is not a variable of this memory")]
    InvalidHandle(Var),
    /// An element index past the end of the variable.
    #[error("index {index} is out of bounds for a variable of {len} elements")]
    IndexOutOfBounds {
        /// The index asked for.
        index: usize,
        /// The length of the variable.
        len: usize,
    },
    /// A list operation was asked of an integer variable.
    #[error("{0} holds an integer, not a list")]
    NotAList(Var),
    /// Invalid arguments to [`init_memory`](crate::init_memory) (agreed by all ranks).
    #[error("invalid configuration: {0}")]
    Config(String),
    /// The metadata of a variable is inconsistent (a bug, or memory corrupted
    /// by a user writing to the window directly).
    #[error("corrupted metadata: {0}")]
    Corrupted(String),
}

/// The result type of `dsm-kv`.
pub type Result<T, E = Error> = std::result::Result<T, E>;
