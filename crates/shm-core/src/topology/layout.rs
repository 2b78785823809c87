//! The check of a node layout, from one table that every rank gathers: so
//! every rank reaches the same verdict with no further message.

use std::collections::BTreeMap;

/// Where one rank of the communicator sits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Place {
    /// Index of its node, `0..nodes`; nodes are numbered in the order of
    /// their leaders' ranks.
    pub node: usize,
    /// Its rank in its node communicator.
    pub node_rank: i32,
    /// The rank (in the communicator) of its node's leader, the process of
    /// node rank 0.
    pub leader: i32,
}

/// One rank's row of the gathered table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Row {
    /// The communicator rank of node rank 0 of this rank's node.
    pub(crate) leader: i64,
    pub(crate) node_rank: i64,
    pub(crate) node_size: i64,
    /// A digest of the node's members (their communicator ranks in node rank
    /// order), equal for the members of one node.
    pub(crate) members: i64,
}

impl Row {
    pub(crate) const WORDS: usize = 4;

    pub(crate) fn to_words(self) -> [i64; Self::WORDS] {
        [self.leader, self.node_rank, self.node_size, self.members]
    }

    pub(crate) fn from_words(w: &[i64]) -> Self {
        Row {
            leader: w[0],
            node_rank: w[1],
            node_size: w[2],
            members: w[3],
        }
    }
}

/// A valid layout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Layout {
    /// Indexed by communicator rank.
    pub(crate) places: Vec<Place>,
    /// Indexed by node.
    pub(crate) node_sizes: Vec<usize>,
}

impl Layout {
    /// Checks that the node communicators partition the communicator: the
    /// ranks naming one leader agree on the node's size and members, are as
    /// many as that size, hold node ranks `0..size` once each, and the leader
    /// is one of them with node rank 0. Nodes may have any sizes.
    pub(crate) fn check(rows: &[Row]) -> Result<Layout, String> {
        let mut nodes: BTreeMap<i64, Vec<usize>> = BTreeMap::new();
        for (rank, row) in rows.iter().enumerate() {
            nodes.entry(row.leader).or_default().push(rank);
        }
        for (&leader, members) in &nodes {
            let first = rows[members[0]];
            let leader_row = usize::try_from(leader).ok().and_then(|l| rows.get(l));
            if members
                .iter()
                .any(|&r| rows[r].node_size != first.node_size || rows[r].members != first.members)
                || leader_row.map(|l| (l.leader, l.node_rank)) != Some((leader, 0))
            {
                return Err(format!(
                    "the node communicators do not partition the communicator: ranks {members:?} \
                     name rank {leader} as their node's first process but disagree on its members"
                ));
            }
            let mut node_ranks: Vec<i64> = members.iter().map(|&r| rows[r].node_rank).collect();
            node_ranks.sort_unstable();
            if node_ranks != (0..first.node_size).collect::<Vec<_>>() {
                return Err(format!(
                    "the node communicators do not partition the communicator: the node of ranks \
                     {members:?} has {} processes, with node ranks {node_ranks:?}",
                    first.node_size
                ));
            }
        }
        let index: BTreeMap<i64, usize> = nodes.keys().enumerate().map(|(i, &l)| (l, i)).collect();
        Ok(Layout {
            places: rows
                .iter()
                .map(|row| Place {
                    node: index[&row.leader],
                    node_rank: row.node_rank as i32,
                    leader: row.leader as i32,
                })
                .collect(),
            node_sizes: nodes.values().map(Vec::len).collect(),
        })
    }
}

/// The digest of a node's members (communicator ranks in node rank order).
pub(crate) fn members_digest(members: &[i32]) -> i64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &m in members {
        for b in m.to_le_bytes() {
            h = (h ^ b as u64).wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    (h >> 1) as i64
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Rows for nodes given as lists of communicator ranks in node rank
    /// order.
    fn rows(nodes: &[&[i32]]) -> Vec<Row> {
        let n = nodes.iter().map(|m| m.len()).sum();
        let mut out = vec![None; n];
        for members in nodes {
            for (node_rank, &r) in members.iter().enumerate() {
                out[r as usize] = Some(Row {
                    leader: members[0] as i64,
                    node_rank: node_rank as i64,
                    node_size: members.len() as i64,
                    members: members_digest(members),
                });
            }
        }
        out.into_iter().map(Option::unwrap).collect()
    }

    #[test]
    fn uneven_nodes() {
        let layout = Layout::check(&rows(&[&[0, 1, 2], &[3, 4]])).unwrap();
        assert_eq!(layout.node_sizes, vec![3, 2]);
        assert_eq!(
            layout.places[4],
            Place {
                node: 1,
                node_rank: 1,
                leader: 3
            }
        );
    }

    #[test]
    fn a_node_of_one_and_ranks_out_of_order() {
        let layout = Layout::check(&rows(&[&[2], &[0, 3, 1]])).unwrap();
        // Nodes are numbered by their leaders' ranks: rank 0 leads node 0.
        assert_eq!(layout.node_sizes, vec![3, 1]);
        assert_eq!(layout.places[2].node, 1);
        assert_eq!(layout.places[1].node_rank, 2);
    }

    #[test]
    fn a_leader_that_is_not_the_lowest_rank() {
        let layout = Layout::check(&rows(&[&[3, 0], &[1, 2]])).unwrap();
        assert_eq!(layout.places[0].leader, 3);
        assert_eq!(layout.places[0].node, 1);
    }

    #[test]
    fn overlapping_nodes_are_refused() {
        // Rank 2 thinks its node is {1, 2}; rank 1 thinks it is {1, 0}.
        let mut t = rows(&[&[1, 0], &[2, 3]]);
        t[2] = Row {
            leader: 1,
            node_rank: 1,
            node_size: 2,
            members: members_digest(&[1, 2]),
        };
        assert!(Layout::check(&t).unwrap_err().contains("partition"));
    }

    #[test]
    fn a_missing_member_is_refused() {
        let mut t = rows(&[&[0, 1, 2], &[3]]);
        t[2] = Row {
            leader: 2,
            node_rank: 0,
            node_size: 1,
            members: members_digest(&[2]),
        };
        let err = Layout::check(&t).unwrap_err();
        assert!(err.contains("3 processes"), "{err}");
    }
}
