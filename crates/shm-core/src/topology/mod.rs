//! Which processes share a node: the node communicators, the node leaders,
//! and the node memory pool of the arrays that live on a communicator.
//!
//! A replicated array needs two communicators besides the one it lives on:
//!
//! * the **node communicator**: the processes of one node, which share one
//!   copy of the array in shared memory;
//! * the **leader communicator**: one process per node (node rank 0, the
//!   *leader*), over which a write travels from the source's node to every
//!   other node. Ranks that are not leaders have none.
//!
//! Nodes may hold any number of processes, and the processes of a node need
//! not be contiguous in the communicator: any layout that
//! `MPI_Comm_split_type(MPI_COMM_TYPE_SHARED)` produces works.
//!
//! [`NodeTopology::new`] finds the nodes with `MPI_Comm_split_type`;
//! [`NodeTopology::with_node_comm`] takes the node communicator from the
//! caller (how tests emulate several nodes on one machine). Either way the
//! layout is checked on every rank from one gathered table, so all ranks agree
//! on whether it is valid. [`NodeTopology::of`] finds the topology cached on a
//! communicator, or makes and caches it: what [`MpiShared::new`] uses, so that
//! arrays created in a loop on one communicator share one topology (and its
//! memory pool) instead of creating communicators each.
//!
//! [`MpiShared::new`]: crate::MpiShared::new

mod cache;
mod layout;

pub use layout::Place;

use crate::comm::OwnedComm;
use crate::error::{Error, Finding, Result};
use crate::shared::pool::NodePool;
use layout::{members_digest, Layout, Row};
use mpi::topology::Communicator;
use parking_lot::{Mutex, MutexGuard};
use std::sync::Arc;

/// The node layout of a communicator, its node and leader communicators,
/// and the node memory of the arrays that live on it.
pub struct NodeTopology {
    // Declared first so that its windows (collective over `node`) are freed
    // before the communicators.
    pool: Mutex<NodePool>,
    comm: OwnedComm,
    node: OwnedComm,
    leaders: Option<OwnedComm>,
    layout: Layout,
}

// SAFETY: `NodeTopology` is neither `Send` nor `Sync` only because of the MPI
// handles in its communicators and in the pool's windows (raw pointers in
// Open MPI). MPI handles name process-wide objects and stay valid on every
// thread; MPI itself rules which threads may call it (any thread at
// `MPI_THREAD_MULTIPLE`, one at a time at `SERIALIZED`, only the main thread
// below), a rule every MPI call of the program is already bound by, and
// collective calls on one communicator must be ordered by the program in
// any case. The mutable state (the pool) is behind a mutex. Sharing is
// needed because the topology cached on a communicator may be found, and
// dropped by `MPI_Comm_free`, from any thread.
unsafe impl Send for NodeTopology {}
// SAFETY: as for `Send`.
unsafe impl Sync for NodeTopology {}

impl std::fmt::Debug for NodeTopology {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NodeTopology")
            .field("ranks", &self.comm.size())
            .field("node_sizes", &self.layout.node_sizes)
            .finish()
    }
}

impl NodeTopology {
    /// Finds the nodes of `comm` with `MPI_Comm_split_type(SHARED)`
    /// (collective over `comm`). The result is not cached; see
    /// [`of`](Self::of).
    pub fn new<C: Communicator + ?Sized>(comm: &C) -> Result<Self> {
        let comm = OwnedComm::duplicate(comm)?;
        let node = comm.split_shared(comm.rank())?;
        let layout = check_layout(&comm, node.communicator())?;
        Self::finish(comm, node, layout)
    }

    /// The topology cached on `comm`, made and cached (collectively) on
    /// first use, as [`new`](Self::new) makes it.
    ///
    /// The cache is an MPI attribute of `comm`: it goes when `comm` is freed
    /// (when the topology is dropped, once the arrays that use it are closed
    /// too), and a new communicator, even one with a recycled handle, never
    /// finds another's topology. Duplicates of `comm` do not inherit it.
    ///
    /// ```no_run
    /// use shm_core::NodeTopology;
    /// let universe = mpi::initialize().unwrap();
    /// let world = universe.world();
    /// let a = NodeTopology::of(&world)?;
    /// let b = NodeTopology::of(&world)?; // found, not made again
    /// assert!(std::sync::Arc::ptr_eq(&a, &b));
    /// # Ok::<(), shm_core::Error>(())
    /// ```
    pub fn of<C: Communicator + ?Sized>(comm: &C) -> Result<Arc<Self>> {
        cache::topology_of(comm.as_raw(), || Self::new(comm))
    }

    /// Uses the caller's node communicator (collective over `comm`): `node`
    /// must group processes of `comm` that can share memory, and the node
    /// communicators of all ranks must partition `comm`. Nodes may have any
    /// sizes.
    ///
    /// A node communicator holding processes outside `comm`, or processes
    /// that cannot share memory, or node communicators that do not partition
    /// `comm`, is the same [`Error::Invalid`] on every rank.
    pub fn with_node_comm<C, N>(comm: &C, node: &N) -> Result<Self>
    where
        C: Communicator + ?Sized,
        N: Communicator + ?Sized,
    {
        let comm = OwnedComm::duplicate(comm)?;
        // Nothing collective over `node` before the layout is known to be a
        // partition: on a bad layout, node communicators overlap and such a
        // call would hang.
        let layout = check_layout(&comm, node)?;
        let node = OwnedComm::duplicate(node)?;
        let shared = node.split_shared(0)?;
        comm.agree_finding((shared.size() != node.size()).then(|| {
            Finding::Invalid(format!(
                "the {} processes of a node communicator cannot all share memory \
                 (MPI_Comm_split_type(SHARED) keeps {} of them together)",
                node.size(),
                shared.size()
            ))
        }))?;
        Self::finish(comm, node, layout)
    }

    fn finish(comm: OwnedComm, node: OwnedComm, layout: Layout) -> Result<Self> {
        let leaders = comm.split((node.rank() == 0).then_some(0), comm.rank())?;
        Ok(NodeTopology {
            pool: Mutex::new(NodePool::default()),
            comm,
            node,
            leaders,
            layout,
        })
    }

    /// The communicator the arrays live on (a duplicate of the caller's).
    pub fn comm(&self) -> &OwnedComm {
        &self.comm
    }

    /// The processes of this node.
    pub fn node_comm(&self) -> &OwnedComm {
        &self.node
    }

    /// The node leaders, one process per node (node rank 0 of each), ranked
    /// in node order; `None` on processes that are not leaders.
    pub fn leader_comm(&self) -> Option<&OwnedComm> {
        self.leaders.as_ref()
    }

    /// Number of nodes.
    pub fn nodes(&self) -> usize {
        self.layout.node_sizes.len()
    }

    /// The number of processes of each node, in node order.
    pub fn node_sizes(&self) -> &[usize] {
        &self.layout.node_sizes
    }

    /// The number of processes per node when all nodes have the same number,
    /// else `None`.
    pub fn procs_per_node(&self) -> Option<usize> {
        let sizes = self.node_sizes();
        sizes.iter().all(|&s| s == sizes[0]).then_some(sizes[0])
    }

    /// Where `rank` (a rank of [`comm`](Self::comm)) sits.
    pub fn place(&self, rank: i32) -> Option<Place> {
        self.layout.places.get(usize::try_from(rank).ok()?).copied()
    }

    /// Where this process sits.
    pub fn my_place(&self) -> Place {
        self.layout.places[self.comm.rank() as usize]
    }

    /// The node memory pool of the arrays on this topology.
    pub(crate) fn pool(&self) -> MutexGuard<'_, NodePool> {
        self.pool.lock()
    }

    /// Shared-memory windows (chunks) that hold this topology's arrays on
    /// this node, and their bytes in all: for tests and diagnostics.
    pub fn pool_usage(&self) -> (usize, usize) {
        self.pool().usage()
    }
}

/// Checks the layout that the node communicators `node` of every rank give
/// to `comm` (collective over `comm`, local calls only on `node`): one
/// agreement on whether each node lies inside `comm`, and one gathered
/// table, which every rank checks alike.
fn check_layout<N: Communicator + ?Sized>(comm: &OwnedComm, node: &N) -> Result<Layout> {
    let members = comm.ranks_of(node)?;
    let outside = members.iter().any(Option::is_none);
    comm.agree_finding(outside.then(|| {
        Finding::Invalid(
            "a node communicator holds processes that are not in the communicator".into(),
        )
    }))?;
    let members: Vec<i32> = members.into_iter().flatten().collect();
    let row = Row {
        leader: members[0] as i64,
        node_rank: node.rank() as i64,
        node_size: node.size() as i64,
        members: members_digest(&members),
    };
    let table = comm.all_gather(&row.to_words())?;
    let rows: Vec<Row> = table.chunks(Row::WORDS).map(Row::from_words).collect();
    // Every rank checks the same table: the same verdict everywhere.
    Layout::check(&rows).map_err(|message| Error::Invalid {
        rank: None,
        message,
    })
}
