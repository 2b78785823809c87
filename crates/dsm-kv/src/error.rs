//! The error type of `dsm-kv`.

use crate::Var;

/// Everything that can go wrong in the distributed memory.
///
/// A variable that no longer exists is [`Error::Freed`] for every operation
/// but [`modify`](crate::DistributedMemory::modify), which returns the
/// seed's `false`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An MPI call (or a collective validation) failed in the window layer.
    /// The `shm_core` error is also the [`source`](std::error::Error::source)
    /// of this one; the message repeats it, so that printing this error
    /// alone says what failed.
    #[error("the window layer failed: {0}")]
    Core(#[from] shm_core::Error),
    /// [`DistributedMemory::new`](crate::DistributedMemory::new) needs a
    /// master and at least one host.
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
    /// Invalid arguments to
    /// [`DistributedMemory::new`](crate::DistributedMemory::new) (agreed by
    /// all ranks).
    #[error("invalid configuration: {0}")]
    Config(String),
    /// The metadata of a variable is inconsistent (a bug, or memory corrupted
    /// by a user writing to the window directly).
    #[error("corrupted metadata: {0}")]
    Corrupted(String),
}

/// The result type of `dsm-kv`.
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;
    use std::error::Error as _;

    #[test]
    fn window_layer_errors_are_the_source() {
        let core = shm_core::Error::Usage("bad call".into());
        let err = Error::from(core.clone());
        assert_eq!(err, Error::Core(core.clone()));
        let source = err.source().expect("a source");
        assert_eq!(source.downcast_ref::<shm_core::Error>(), Some(&core));
        assert!(err.to_string().contains("bad call"), "{err}");
        assert!(Error::Freed(Var::from_words([1 << 32, 1]))
            .source()
            .is_none());
    }
}
