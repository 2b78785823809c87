//! Direct access to the data of co-located hosts: plain loads, stores and
//! copies through the addresses `MPI_Win_shared_query` gives, instead of
//! `MPI_Put` / `MPI_Get`.
//!
//! Only *data* words (list elements, an integer's value) move this way;
//! protocol words (state words, the allocator's lock, counters and bitmaps)
//! stay on MPI atomics, so no word is ever accessed both by CPU atomics and
//! MPI atomics.
//!
//! # The memory-model rule
//!
//! The window is in the unified model (`MPI_WIN_MODEL` is
//! `MPI_WIN_UNIFIED`, checked on every rank before this path is used), so a
//! host's public and private copies are the same memory. MPI-4.0 §12.7
//! ("Semantics and Correctness", the unified model's rules) orders a store
//! by one process before a load by another when the storing process calls
//! `MPI_Win_sync` after the store, the two processes synchronise, and the
//! loading process calls `MPI_Win_sync` before the load. Here the
//! synchronisation is the protocol on the variable's state word (MPI
//! atomics: a pin, the exclusive `BUSY` flag, a free's drain, a publish),
//! and every direct access is bracketed: [`Direct::begin`] (`MPI_Win_sync`)
//! after the operation has taken the variable and before its first load or
//! store, [`Direct::end`] (`MPI_Win_sync`) after its last one and before it
//! releases the variable. The same bracket orders loads before a later
//! store by another process (a free and a reuse of the slots).
//!
//! Data the protocol does not exclude from concurrent access (elements that
//! `modify` writes while another rank reads or reduces the list, integer
//! values) is only copied into and out of local buffers with
//! `ptr::copy_nonoverlapping` and volatile accesses, never viewed as a
//! slice; only a holder of the exclusive `BUSY` flag (`map`, `filter`), which
//! no other process may touch the data under, views it as `&mut [i64]`.

use crate::error::{Error, Result};
use shm_core::window::{LockedSharedWindow, Rma};
use std::mem::MaybeUninit;

/// Where every host's window starts in this process's address space.
pub(crate) struct Direct {
    /// Per rank of the memory's communicator: the start of its segment and
    /// its length in words (rank 0's segment is empty).
    segments: Vec<(*mut i64, usize)>,
}

impl Direct {
    /// The segments of every rank of `win`, or `None` when a segment has no
    /// address here.
    pub(crate) fn of(win: &LockedSharedWindow<i64>) -> Result<Direct> {
        let segments = (0..win.size())
            .map(|rank| {
                let segment = win.segment(rank)?;
                Ok((segment.as_ptr(), segment.len()))
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Direct { segments })
    }

    /// The address of words `disp..disp + len` of `host`'s segment, checked.
    fn words(&self, host: i32, disp: usize, len: usize) -> Result<*mut i64> {
        let (base, words) = usize::try_from(host)
            .ok()
            .and_then(|h| self.segments.get(h).copied())
            .ok_or_else(|| Error::Corrupted(format!("no host {host}")))?;
        if disp.checked_add(len).map_or(true, |end| end > words) {
            return Err(Error::Corrupted(format!(
                "words {disp}..{} are outside host {host}'s {words}",
                disp.saturating_add(len)
            )));
        }
        // SAFETY: `disp + len <= words`, inside the segment.
        Ok(unsafe { base.add(disp) })
    }

    /// Opens a run of direct accesses: `MPI_Win_sync`, after the protocol
    /// step that took the variable (see the module documentation).
    pub(crate) fn begin(win: &LockedSharedWindow<i64>) -> Result<()> {
        Ok(win.sync()?)
    }

    /// Closes a run of direct accesses: `MPI_Win_sync`, before the protocol
    /// step that releases the variable.
    pub(crate) fn end(win: &LockedSharedWindow<i64>) -> Result<()> {
        Ok(win.sync()?)
    }

    /// Copies `out.len()` words from `host`'s segment at `disp` into `out`.
    /// Words that another process may store meanwhile give their old or new
    /// value, as a concurrent `MPI_Get` would.
    pub(crate) fn copy_out(&self, host: i32, disp: usize, out: &mut [i64]) -> Result<()> {
        let src = self.words(host, disp, out.len())?;
        // SAFETY: `src` is `out.len()` words of the mapped segment (checked
        // above), which never overlaps `out`, a local buffer. No reference
        // is made to the shared words.
        unsafe { std::ptr::copy_nonoverlapping(src, out.as_mut_ptr(), out.len()) };
        Ok(())
    }

    /// [`copy_out`](Self::copy_out) into memory not yet initialised (a
    /// vector's spare capacity: no zeroing before the copy), which it
    /// initialises.
    pub(crate) fn copy_out_uninit(
        &self,
        host: i32,
        disp: usize,
        out: &mut [MaybeUninit<i64>],
    ) -> Result<()> {
        let src = self.words(host, disp, out.len())?;
        // SAFETY: as in `copy_out`; `MaybeUninit<i64>` has the layout of
        // `i64`.
        unsafe { std::ptr::copy_nonoverlapping(src, out.as_mut_ptr().cast(), out.len()) };
        Ok(())
    }

    /// Copies `values` into `host`'s segment at `disp`.
    pub(crate) fn copy_in(&self, host: i32, disp: usize, values: &[i64]) -> Result<()> {
        let dst = self.words(host, disp, values.len())?;
        // SAFETY: as in `copy_out`, in the other direction.
        unsafe { std::ptr::copy_nonoverlapping(values.as_ptr(), dst, values.len()) };
        Ok(())
    }

    /// Loads one word with a volatile load (an integer's value, which
    /// another rank may `modify` at the same moment).
    pub(crate) fn load(&self, host: i32, disp: usize) -> Result<i64> {
        let src = self.words(host, disp, 1)?;
        // SAFETY: one word of the segment, checked above; aligned.
        Ok(unsafe { src.read_volatile() })
    }

    /// Stores one word with a volatile store (a `modify`, which other ranks
    /// may read at the same moment).
    pub(crate) fn store(&self, host: i32, disp: usize, value: i64) -> Result<()> {
        let dst = self.words(host, disp, 1)?;
        // SAFETY: one word of the segment, checked above; aligned (the
        // segment is, and `disp` counts words).
        unsafe { dst.write_volatile(value) };
        Ok(())
    }

    /// The words `disp..disp + len` of `host`'s segment as a raw slice
    /// pointer, for [`Direct::exclusive`].
    pub(crate) fn raw_slice(&self, host: i32, disp: usize, len: usize) -> Result<*mut [i64]> {
        let ptr = self.words(host, disp, len)?;
        Ok(std::ptr::slice_from_raw_parts_mut(ptr, len))
    }

    /// Views words the caller holds exclusively as a slice.
    ///
    /// # Safety
    /// `words` comes from [`Direct::raw_slice`] of a live memory, and no
    /// other process accesses those words until the view is dropped (the
    /// caller holds the variable's exclusive `BUSY` flag, with the pins
    /// drained, between [`Direct::begin`] and [`Direct::end`]); views alive
    /// at the same time do not overlap.
    pub(crate) unsafe fn exclusive<'a>(words: *mut [i64]) -> &'a mut [i64] {
        // SAFETY: by the contract, mapped, aligned and unaliased.
        unsafe { &mut *words }
    }
}
