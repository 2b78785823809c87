//! Machinery the toolkit's synchronisation objects share: atomic words of a
//! window reached through MPI or, within a node, with CPU atomics
//! ([`AtomicWords`], [`NodeWords`]), how to wait on them ([`poll`]), a FIFO
//! ticket lock in two words ([`TicketLock`]), and (on
//! [`OwnedComm`](crate::OwnedComm)) checking that every rank passed the same
//! values ([`agree_same`](crate::OwnedComm::agree_same)).

mod node_words;
mod poll;
mod ticket;
mod words;

pub use node_words::{CpuAtomic, NodeWords};
pub use poll::{poll, poll_with};
pub use ticket::TicketLock;
pub use words::AtomicWords;
