//! The node memory of the arrays on one topology: chunks (one MPI shared
//! window per node each) carved into blocks by the [`Allocator`].
//!
//! # What each call costs
//! * **Allocating** in an existing chunk: nothing beyond the caller's
//!   agreement (one `MPI_Allreduce` that also orders this creation after
//!   every earlier close), and one `MPI_Win_sync`. The block is already zero.
//! * **Allocating** a new chunk: `MPI_Win_allocate_shared` over the node
//!   (which our window layer precedes with its checks), then two agreements
//!   over the whole communicator (the allocation, then the zeroing, which the
//!   processes of the node share).
//! * **Releasing**: no collective. Each process counts its close in the
//!   block's header; the last process of the node to close zeroes the block,
//!   so free memory is always zero. A chunk that becomes empty is freed
//!   (`MPI_Win_free`, collective over the node) unless it is the only empty
//!   one, which is kept as a spare.
//!
//! # Memory-model rules
//! * Zeroes stored at release by the last closer, or at chunk creation, are
//!   ordered before the next array's loads by *store; `MPI_Win_sync`;
//!   agreement (an allreduce every rank enters after its close);
//!   `MPI_Win_sync`; load*.
//! * A closer's last loads are ordered before the zeroing by *load;
//!   `MPI_Win_sync`; the header's close count (acquire-release); the last
//!   closer's `MPI_Win_sync`; stores*.

use super::alloc::{Allocator, Block, ChunkId, Placement, LINE};
use super::header::{Header, HEADER_BYTES};
use crate::comm::OwnedComm;
use crate::error::{Error, Finding, Resource, Result};
use crate::memory;
use crate::window::{LockedSharedWindow, Rma, SharedWindow};
use std::collections::BTreeMap;
use std::sync::Arc;

/// One chunk: a shared window over the node, whose memory is node rank 0's
/// segment, mapped by every process of the node.
pub(crate) struct Chunk {
    window: LockedSharedWindow<u8>,
    /// The first line-aligned byte of the segment.
    base: *mut u8,
}

// SAFETY: `Chunk` is `!Send`/`!Sync` only for its MPI handle and the pointer
// into the node's shared memory. The handle is valid on every thread (see
// `NodeTopology`'s `Send` argument); the memory is only accessed through the
// header protocol and the array's collective calls, whose callers order
// them.
unsafe impl Send for Chunk {}
// SAFETY: as for `Send`.
unsafe impl Sync for Chunk {}

impl Chunk {
    /// Creates a zeroed chunk of `bytes` on every node (collective over
    /// `comm`): the processes of each node touch and zero a share each.
    fn create(comm: &OwnedComm, node: &OwnedComm, bytes: usize) -> Result<Chunk> {
        let (r, p) = (node.rank() as usize, node.size() as usize);
        // One spare line: MPI's segment need not start on a line (Open MPI
        // 4.1's starts 264 bytes into a page).
        let segment = if r == 0 { bytes + LINE } else { 0 };
        let window = SharedWindow::<u8>::allocate_shared_raw(node.as_raw(), segment, false)
            .and_then(|w| w.into_locked(true))
            .and_then(|w| {
                let start = w.segment(0)?.as_ptr();
                let base = start.wrapping_add(start.align_offset(LINE));
                Ok(Chunk { window: w, base })
            });
        // The allocation is collective over each node: agree over the whole
        // communicator so that a failure on one node stops every node.
        comm.agree_finding(window.as_ref().err().map(Finding::of))?;
        let chunk = window.expect("agreed above");
        // Pages split at 4 KiB boundaries, so that each process touches
        // whole pages of its own (first-touch placement across the node).
        let page = |i: usize| (bytes * i / p) & !4095;
        let (start, end) = (page(r), if r + 1 == p { bytes } else { page(r + 1) });
        let share = chunk.base.wrapping_add(start);
        let touched = memory::populate(share, end - start).map(|()| {
            // SAFETY: `[start, end)` lies in the segment (`bytes` after the
            // aligned base, within `bytes + LINE`); the shares are disjoint
            // and nobody reads before the agreement below.
            unsafe { std::ptr::write_bytes(share, 0, end - start) }
        });
        chunk.sync()?;
        comm.agree_finding(
            touched
                .err()
                .map(|m| Finding::Exhausted(Resource::NodeMemory, m)),
        )?;
        chunk.sync()?;
        Ok(chunk)
    }

    /// `MPI_Win_sync` on the chunk's window.
    pub(crate) fn sync(&self) -> Result<()> {
        self.window.sync()
    }
}

/// A block held by one array, and the chunk it lives in (kept alive by the
/// array as long as the block is).
pub(crate) struct Lease {
    block: Block,
    chunk: Arc<Chunk>,
}

impl Lease {
    /// The block's header.
    pub(crate) fn header(&self) -> &Header {
        // The header is only accessed through atomics (`header.rs`).
        // SAFETY: the block starts on a line inside the chunk's live mapping;
        // a shared reference to atomics is sound while other processes use them.
        unsafe { &*(self.chunk.base.add(self.block.offset) as *const Header) }
    }

    /// The first byte after the header: the array's elements.
    pub(crate) fn data(&self) -> *mut u8 {
        // SAFETY: the block holds at least the header, inside the chunk.
        unsafe { self.chunk.base.add(self.block.offset + HEADER_BYTES) }
    }

    /// Bytes available after the header.
    pub(crate) fn data_bytes(&self) -> usize {
        self.block.bytes - HEADER_BYTES
    }

    /// `MPI_Win_sync` on the block's window.
    pub(crate) fn sync(&self) -> Result<()> {
        self.chunk.sync()
    }
}

/// The node memory of one topology's arrays.
#[derive(Default)]
pub(crate) struct NodePool {
    alloc: Allocator,
    chunks: BTreeMap<ChunkId, Arc<Chunk>>,
}

impl NodePool {
    /// `(live blocks, fingerprint)`: equal on every rank while every rank
    /// created and closed the same arrays.
    pub(crate) fn state(&self) -> (u64, u64) {
        (self.alloc.live(), self.alloc.fingerprint())
    }

    /// Chunks held on this node, and their bytes.
    pub(crate) fn usage(&self) -> (usize, usize) {
        (self.alloc.chunks(), self.alloc.total_bytes())
    }

    /// A zeroed block for `data_bytes` of elements (collective over `comm`,
    /// after an agreement that every rank asks for the same).
    pub(crate) fn allocate(
        &mut self,
        comm: &OwnedComm,
        node: &OwnedComm,
        data_bytes: usize,
    ) -> Result<Lease> {
        let bytes = Allocator::block_bytes(HEADER_BYTES, data_bytes)
            .ok_or_else(|| Error::Usage(format!("{data_bytes} bytes do not fit in memory")))?;
        let placement = self.alloc.place(bytes);
        let chunk = match placement {
            Placement::Existing(block) => Arc::clone(&self.chunks[&block.chunk]),
            Placement::NewChunk {
                block, chunk_bytes, ..
            } => {
                let chunk = Arc::new(Chunk::create(comm, node, chunk_bytes)?);
                self.chunks.insert(block.chunk, Arc::clone(&chunk));
                chunk
            }
        };
        self.alloc.commit(placement);
        // The caller's agreement ordered this after the zeroing of the block
        // (the rule in the module documentation); this is the reader's sync.
        chunk.sync()?;
        Ok(Lease {
            block: placement.block(),
            chunk,
        })
    }

    /// Returns a block when its array closes; `node_size` processes of this
    /// node hold it. Not collective: the last of them zeroes the block.
    pub(crate) fn release(&mut self, lease: Lease, node_size: usize) -> Result<()> {
        // Our last loads of the array before the count (module rules).
        lease.sync()?;
        let last = lease.header().close(node_size);
        let release = self.alloc.release(lease.block);
        if release.zero_block && last {
            // SAFETY: the elements of the block, inside the chunk; every
            // other process of the node has closed the array, so nobody
            // accesses them until the block is handed out again.
            unsafe { std::ptr::write_bytes(lease.data(), 0, lease.data_bytes()) };
            lease.header().reset();
            lease.sync()?;
        }
        if let Some(victim) = release.free_chunk {
            // The window goes when its last reference does: here for a
            // spare, or with `lease` just below for the block's own chunk.
            self.chunks.remove(&victim);
        }
        Ok(())
    }
}
