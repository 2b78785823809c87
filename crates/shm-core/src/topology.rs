//! Which processes share a node: the node communicator and the rank
//! communicator.
//!
//! A replicated array needs two communicators besides the one it lives on:
//!
//! * the **node communicator** (`NodeComm`): the processes of one node, which
//!   share one copy of the array through a shared-memory window;
//! * the **rank communicator** (`RankComm`): the processes that have the same
//!   rank within their node, one per node. A `set` from a process with node
//!   rank `r` travels over the rank communicator of node rank `r`, so the
//!   data goes straight from the source to one process on every other node.
//!
//! [`NodeTopology::new`] derives both from `MPI_Comm_split_type(SHARED)`;
//! [`NodeTopology::with_comms`] takes them from the caller, which is how tests
//! emulate several nodes on one machine. Either way the layout is checked on
//! every rank from the same gathered table, so all ranks agree on whether it
//! is valid. A topology can be shared by many arrays (it is reference
//! counted by them), which saves communicators when arrays come and go.

use crate::comm::OwnedComm;
use crate::error::{Error, Result};
use mpi::topology::Communicator;
use std::collections::BTreeMap;

/// Where one rank of the communicator sits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Place {
    /// Index of its node, `0..nodes` (nodes ordered by their lowest rank).
    pub node: usize,
    /// Its rank in the node communicator.
    pub node_rank: i32,
    /// Its rank in its rank communicator.
    pub rank_comm_rank: i32,
}

/// The node and rank communicators of a communicator, with the place of
/// every rank.
#[derive(Debug)]
pub struct NodeTopology {
    comm: OwnedComm,
    node: OwnedComm,
    rank_comm: OwnedComm,
    places: Vec<Place>,
    nodes: usize,
    procs_per_node: usize,
}

impl NodeTopology {
    /// Finds the nodes of `comm` with `MPI_Comm_split_type(SHARED)`
    /// (collective over `comm`).
    ///
    /// Every node must hold the same number of processes of `comm`; otherwise
    /// every rank gets the same [`Error::Invalid`].
    pub fn new<C: Communicator + ?Sized>(comm: &C) -> Result<Self> {
        let comm = OwnedComm::duplicate(comm)?;
        let node = comm.split_shared(comm.rank())?;
        let rank_comm = comm
            .split(Some(node.rank()), comm.rank())?
            .expect("a defined colour always gives a communicator");
        Self::validate(comm, node, rank_comm)
    }

    /// Uses the caller's node and rank communicators (collective over all
    /// three). `node` must group processes that can share memory, and
    /// `rank_comm` the processes with the same node rank, one per node.
    ///
    /// A layout that does not split `comm` evenly, or rank communicators that
    /// do not match the nodes, is the same [`Error::Invalid`] on every rank.
    pub fn with_comms<C, N, R>(comm: &C, node: &N, rank_comm: &R) -> Result<Self>
    where
        C: Communicator + ?Sized,
        N: Communicator + ?Sized,
        R: Communicator + ?Sized,
    {
        let comm = OwnedComm::duplicate(comm)?;
        let node = OwnedComm::duplicate(node)?;
        let rank_comm = OwnedComm::duplicate(rank_comm)?;
        Self::validate(comm, node, rank_comm)
    }

    fn validate(comm: OwnedComm, node: OwnedComm, rank_comm: OwnedComm) -> Result<Self> {
        // Name each group by its lowest rank in `comm`.
        let mut node_id = [comm.rank() as i64];
        node.all_reduce_min(&mut node_id)?;
        let mut rank_comm_id = [comm.rank() as i64];
        rank_comm.all_reduce_min(&mut rank_comm_id)?;
        let row = [
            node_id[0],
            node.rank() as i64,
            node.size() as i64,
            rank_comm_id[0],
            rank_comm.rank() as i64,
            rank_comm.size() as i64,
        ];
        let table = comm.all_gather(&row)?;
        let rows: Vec<&[i64]> = table.chunks(row.len()).collect();
        // Every rank evaluates the same table, so every rank reaches the same
        // verdict without further communication.
        let layout = Layout::check(&rows);
        match layout {
            Ok((places, nodes, procs_per_node)) => Ok(NodeTopology {
                comm,
                node,
                rank_comm,
                places,
                nodes,
                procs_per_node,
            }),
            Err(message) => Err(Error::Invalid { rank: 0, message }),
        }
    }

    /// The communicator the arrays live on (a duplicate of the caller's).
    pub fn comm(&self) -> &OwnedComm {
        &self.comm
    }

    /// The processes of this node.
    pub fn node_comm(&self) -> &OwnedComm {
        &self.node
    }

    /// The processes with this process's node rank, one per node.
    pub fn rank_comm(&self) -> &OwnedComm {
        &self.rank_comm
    }

    /// Number of nodes.
    pub fn nodes(&self) -> usize {
        self.nodes
    }

    /// Processes per node.
    pub fn procs_per_node(&self) -> usize {
        self.procs_per_node
    }

    /// Where `rank` (a rank of [`comm`](Self::comm)) sits.
    pub fn place(&self, rank: i32) -> Option<Place> {
        self.places.get(usize::try_from(rank).ok()?).copied()
    }
}

/// The checks of a gathered layout table.
struct Layout;

impl Layout {
    /// Rows are `[node_id, node_rank, node_size, rank_comm_id, rank_comm_rank,
    /// rank_comm_size]`, one per rank.
    fn check(rows: &[&[i64]]) -> std::result::Result<(Vec<Place>, usize, usize), String> {
        let mut nodes: BTreeMap<i64, Vec<usize>> = BTreeMap::new();
        let mut rank_comms: BTreeMap<i64, Vec<usize>> = BTreeMap::new();
        for (rank, row) in rows.iter().enumerate() {
            nodes.entry(row[0]).or_default().push(rank);
            rank_comms.entry(row[3]).or_default().push(rank);
        }
        let sizes: Vec<usize> = nodes.values().map(Vec::len).collect();
        let per_node = sizes[0];
        if sizes.iter().any(|&s| s != per_node) {
            return Err(format!(
                "the node communicator does not split the {} ranks evenly: node sizes {:?} \
                 (every node must hold the same number of processes)",
                rows.len(),
                sizes
            ));
        }
        let node_index: BTreeMap<i64, usize> =
            nodes.keys().enumerate().map(|(i, &id)| (id, i)).collect();
        for members in nodes.values() {
            let mut node_ranks: Vec<i64> = members.iter().map(|&r| rows[r][1]).collect();
            node_ranks.sort_unstable();
            if node_ranks != (0..per_node as i64).collect::<Vec<_>>() {
                return Err(format!("node ranks {node_ranks:?} are not 0..{per_node}"));
            }
        }
        for members in rank_comms.values() {
            let node_rank = rows[members[0]][1];
            let mut on_nodes: Vec<i64> = members.iter().map(|&r| rows[r][0]).collect();
            on_nodes.sort_unstable();
            on_nodes.dedup();
            if members.iter().any(|&r| rows[r][1] != node_rank)
                || on_nodes.len() != nodes.len()
                || members.len() != nodes.len()
            {
                return Err(format!(
                    "the rank communicator of ranks {members:?} must hold exactly one process of \
                     each of the {} nodes, all with the same node rank",
                    nodes.len()
                ));
            }
        }
        let places = rows
            .iter()
            .map(|row| Place {
                node: node_index[&row[0]],
                node_rank: row[1] as i32,
                rank_comm_rank: row[4] as i32,
            })
            .collect();
        Ok((places, nodes.len(), per_node))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(table: &[[i64; 6]]) -> Vec<&[i64]> {
        table.iter().map(|r| &r[..]).collect()
    }

    #[test]
    fn two_nodes_of_two() {
        // ranks 0,2 on node 0; 1,3 on node 1
        let t = [
            [0, 0, 2, 0, 0, 2],
            [1, 0, 2, 0, 1, 2],
            [0, 1, 2, 2, 0, 2],
            [1, 1, 2, 2, 1, 2],
        ];
        let (places, nodes, per) = Layout::check(&rows(&t)).unwrap();
        assert_eq!((nodes, per), (2, 2));
        assert_eq!(
            places[3],
            Place {
                node: 1,
                node_rank: 1,
                rank_comm_rank: 1
            }
        );
    }

    #[test]
    fn uneven_nodes_are_refused() {
        let t = [
            [0, 0, 3, 0, 0, 2],
            [0, 1, 3, 1, 0, 1],
            [0, 2, 3, 2, 0, 1],
            [3, 0, 1, 0, 1, 2],
        ];
        assert!(Layout::check(&rows(&t)).unwrap_err().contains("evenly"));
    }

    #[test]
    fn rank_comm_must_span_nodes() {
        let t = [
            [0, 0, 2, 0, 0, 2],
            [0, 1, 2, 0, 1, 2],
            [2, 0, 2, 2, 0, 2],
            [2, 1, 2, 2, 1, 2],
        ];
        assert!(Layout::check(&rows(&t))
            .unwrap_err()
            .contains("rank communicator"));
    }
}
