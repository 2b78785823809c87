//! The header line at the start of every array's block in node memory: the
//! words through which the processes of a node coordinate writes and closes
//! without an MPI collective.
//!
//! The words are only ever accessed with CPU atomics (never with MPI
//! atomics, and never with plain loads or stores while the block is in use).
//! Every ordering between processes that they establish is paired with
//! `MPI_Win_sync` on the chunk's window by the caller, which is the
//! unified-model rule for direct load/store access to a shared window
//! (MPI-4.0 §12.7, and its Example 12.21 of a flag polled in shared memory):
//!
//! * writer: *stores*; `MPI_Win_sync`; [`Header::publish`]
//! * reader: [`Header::wait`]; `MPI_Win_sync`; *loads*
//!
//! A block is zero when it is handed out (the pool keeps free memory zeroed),
//! so every word starts at 0 and write sequence numbers start at 1.

use crate::backoff::wait_until;
use std::sync::atomic::{AtomicU64, Ordering};

/// Bytes reserved for the header in front of an array's elements: one cache
/// line, which also keeps the elements line-aligned.
pub(crate) const HEADER_BYTES: usize = 64;

/// The header words; see the module documentation.
#[repr(C, align(64))]
pub(crate) struct Header {
    /// The last write (by sequence number) that a process of the node took
    /// on; processes race for it with a compare-and-swap when every one of
    /// them could write the values.
    claim: AtomicU64,
    /// The last write whose values are complete in the node copy.
    done: AtomicU64,
    /// How many processes of the node have closed the array.
    closed: AtomicU64,
}

const _: () = assert!(std::mem::size_of::<Header>() == HEADER_BYTES);

impl Header {
    /// Takes on write `seq` if no other process of the node has: `true` for
    /// exactly one process of the node per write.
    ///
    /// Every process of the node passes the same `seq`, and write `seq - 1`
    /// was published before any of them could start write `seq`.
    pub(crate) fn try_claim(&self, seq: u64) -> bool {
        self.claim
            .compare_exchange(seq - 1, seq, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
    }

    /// Marks write `seq` complete. The caller made its stores and called
    /// `MPI_Win_sync` before.
    pub(crate) fn publish(&self, seq: u64) {
        // A writer chosen without `try_claim` (the source, or a node leader)
        // moves the claim along so that the next `try_claim` finds `seq`.
        self.claim.store(seq, Ordering::Relaxed);
        self.done.store(seq, Ordering::Release);
    }

    /// Waits until write `seq` is complete. The caller then calls
    /// `MPI_Win_sync` before it loads.
    pub(crate) fn wait(&self, seq: u64) {
        if self.done.load(Ordering::Acquire) >= seq {
            return;
        }
        wait_until(|| self.done.load(Ordering::Acquire) >= seq);
    }

    /// Counts this process's close; `true` for the last of the `node_size`
    /// processes of the node, which then owns the block alone. Each process
    /// has ended its own loads of the array before.
    pub(crate) fn close(&self, node_size: usize) -> bool {
        self.closed.fetch_add(1, Ordering::AcqRel) + 1 == node_size as u64
    }

    /// Zeroes the header, for the next array in this block (by the last
    /// process to close, which owns the block alone).
    pub(crate) fn reset(&self) {
        self.claim.store(0, Ordering::Relaxed);
        self.done.store(0, Ordering::Relaxed);
        self.closed.store(0, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;

    fn zeroed() -> Header {
        Header {
            claim: AtomicU64::new(0),
            done: AtomicU64::new(0),
            closed: AtomicU64::new(0),
        }
    }

    #[test]
    fn one_claim_per_write() {
        let header = zeroed();
        let winners = AtomicUsize::new(0);
        for seq in 1..=50 {
            std::thread::scope(|s| {
                for _ in 0..4 {
                    s.spawn(|| {
                        if header.try_claim(seq) {
                            winners.fetch_add(1, Ordering::Relaxed);
                            header.publish(seq);
                        }
                        header.wait(seq);
                    });
                }
            });
        }
        assert_eq!(winners.load(Ordering::Relaxed), 50);
    }

    #[test]
    fn a_published_write_moves_the_claim_along() {
        let header = zeroed();
        header.publish(1);
        assert!(!header.try_claim(1));
        assert!(header.try_claim(2));
    }

    #[test]
    fn the_last_close_is_told_and_resets() {
        let header = zeroed();
        header.publish(3);
        assert!(!header.close(3));
        assert!(!header.close(3));
        assert!(header.close(3));
        header.reset();
        assert!(header.try_claim(1));
    }
}
