//! [`LockOptions`]: how a new [`MpiLock`](crate::MpiLock) is made.

use crate::error::LockError;
use crate::lock::MpiLock;
use crate::words::Access;
use mpi::topology::Communicator;

/// The options of a new [`MpiLock`], from [`MpiLock::options`]; every rank
/// must pass the same ones (else the same [`shm_core::Error::Invalid`] on
/// every rank).
#[derive(Debug, Clone, Copy, Default)]
#[must_use = "options do nothing until `create` is called"]
pub struct LockOptions {
    root: i32,
    access: Access,
    recursive: bool,
    order: Order,
}

/// The order in which an [`MpiLock`] grants waiting requests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Order {
    /// Strictly in the order the requests reached the waiting list (pshmem's
    /// contract: "the token is passed in order of request"). The default.
    #[default]
    Fifo,
    /// Node by node: the lock passes among the waiting ranks of the node
    /// that holds it, in their order, for up to `max_batch` acquisitions in
    /// a row, before it goes to the next node in request order (a cohort
    /// lock). Hand-offs within a node use CPU atomics and never cross the
    /// network; the cost is fairness: a request may be overtaken by up to
    /// `max_batch - 1` requests of each node ahead of it.
    NodeBatched {
        /// Acquisitions in a row on one node before it must pass the lock
        /// on (at least 1; [`Order::DEFAULT_BATCH`] is a common choice).
        max_batch: u32,
    },
}

impl Order {
    /// A common bound of the node-batched order (cohort locks in the
    /// literature use 50 to 64).
    pub const DEFAULT_BATCH: u32 = 64;

    /// [`Order::NodeBatched`] with [`Order::DEFAULT_BATCH`].
    pub fn node_batched() -> Self {
        Order::NodeBatched {
            max_batch: Self::DEFAULT_BATCH,
        }
    }

    pub(crate) fn code(self) -> i64 {
        match self {
            Order::Fifo => 0,
            Order::NodeBatched { .. } => 1,
        }
    }

    /// 0 for FIFO.
    pub(crate) fn max_batch(self) -> u32 {
        match self {
            Order::Fifo => 0,
            Order::NodeBatched { max_batch } => max_batch,
        }
    }
}

impl LockOptions {
    /// The rank holding the tail of the waiting list (default 0).
    pub fn root(mut self, root: i32) -> Self {
        self.root = root;
        self
    }

    /// How the lock's words are reached (default [`Access::Auto`]: CPU
    /// atomics when every rank shares one node).
    pub fn access(mut self, access: Access) -> Self {
        self.access = access;
        self
    }

    /// Recursive mode (default off): the thread holding the lock may lock it
    /// again, getting another guard; the lock is released when the last of
    /// them is dropped. Off, locking again returns
    /// [`LockError::AlreadyHeld`].
    pub fn recursive(mut self, recursive: bool) -> Self {
        self.recursive = recursive;
        self
    }

    /// The grant order (default [`Order::Fifo`]).
    pub fn order(mut self, order: Order) -> Self {
        self.order = order;
        self
    }

    /// Creates the lock over `comm` (collective over `comm`).
    ///
    /// # Errors
    /// The same [`shm_core::Error::Invalid`] on every rank when the options
    /// differ between ranks, the root is not a rank of `comm`, or a
    /// node-batched order has `max_batch == 0`; an MPI error otherwise.
    pub fn create<C: Communicator + ?Sized>(self, comm: &C) -> Result<MpiLock, LockError> {
        MpiLock::create(comm, self.root, self.access, self.recursive, self.order)
    }
}
