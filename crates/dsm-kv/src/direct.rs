//! Direct access to the data of co-located hosts: plain loads, stores and
//! copies through the addresses `MPI_Win_shared_query` gives, instead of
//! `MPI_Put` / `MPI_Get`.
//!
//! Every word of a direct memory is reached this way ([`crate::words`]):
//! data and descriptor words by loads, stores and copies, protocol words
//! (state words, the allocator's lock and counters) by CPU atomics
//! ([`Direct::atomic`]). Every rank of a direct memory reaches them so (the
//! path is chosen collectively), so no word is ever accessed both by CPU
//! atomics and MPI atomics, and no operation makes an MPI call.
//!
//! # The memory-model rule
//!
//! The window is in the unified model (`MPI_WIN_MODEL` is
//! `MPI_WIN_UNIFIED`, checked on every rank before this path is used), so a
//! host's public and private copies are the same memory, which every process
//! of the node maps (MPI-4.0 §12.4, §12.7). The processes synchronise on the
//! variable's state word with sequentially consistent CPU atomics (a pin,
//! the exclusive `BUSY` flag, a free's drain, a publish), the rule of
//! `shm_core::sync::NodeWords`: such atomics order each process's plain
//! loads and stores of the shared memory around them, the job `MPI_Win_sync`
//! does when processes synchronise through MPI. Every run of direct accesses
//! is bracketed all the same, so that the order does not rest on which
//! atomic the protocol happens to use: [`Direct::begin`] (an acquire fence:
//! the protocol step that took the variable, a load or a read-modify-write,
//! comes before the first data access) and [`Direct::end`] (an
//! acquire-release fence: every data load and store comes before the
//! protocol step that follows, whether it stores, as an unpin does, or only
//! loads, as the integer read's check of the state does). On x86 both are
//! compiler fences only. The same bracket orders loads before a later store
//! by another process (a free and a reuse of the slots).
//!
//! Data the protocol does not exclude from concurrent access (elements that
//! `modify` writes while another rank reads or reduces the list, integer
//! values) is only copied into and out of local buffers with
//! `ptr::copy_nonoverlapping` and volatile accesses, never viewed as a
//! slice; only a holder of the exclusive `BUSY` flag (`map`, `filter`), which
//! no other process may touch the data under, views it as `&mut [i64]`.

use crate::error::{Error, Result};
use shm_core::sync::AtomicWords;
use shm_core::window::{LockedSharedWindow, LockedWindow, Op};
use std::mem::MaybeUninit;
use std::sync::atomic::{fence, AtomicI64, Ordering};

/// Where the hosts' windows start in this process's address space: every
/// host's on a direct memory, the mapped ones' on a mixed memory.
pub(crate) struct Direct {
    /// Per rank of the memory's communicator: the start of its segment and
    /// its length in words (rank 0's segment is empty; a segment not mapped
    /// here is null).
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

    /// The segments of the ranks of `win` (a window from `MPI_Win_allocate`)
    /// that MPI maps into this process ([`shm_core::window::Window::mapped_segment`]),
    /// for the data of a mixed memory ([`crate::nearby::Mapped`]); `None`
    /// when it maps no host's. A segment MPI answers for with an error, or
    /// with an address or size this crate cannot use, is not mapped: this
    /// rank decides alone (after the collective allocation), so it must not
    /// fail where the others go on.
    pub(crate) fn mapped(win: &LockedWindow<i64>) -> Option<Direct> {
        let segments: Vec<_> = (0..win.size())
            .map(|rank| match win.mapped_segment(rank) {
                Ok(Some(segment)) => (segment.as_ptr(), segment.len()),
                _ => (std::ptr::null_mut(), 0),
            })
            .collect();
        let maps_a_host = segments.iter().any(|&(ptr, len)| !ptr.is_null() && len > 0);
        maps_a_host.then_some(Direct { segments })
    }

    /// `true` when `host`'s segment has an address in this process.
    pub(crate) fn maps(&self, host: i32) -> bool {
        usize::try_from(host)
            .ok()
            .and_then(|h| self.segments.get(h))
            .is_some_and(|&(ptr, len)| !ptr.is_null() && len > 0)
    }

    /// The address of words `disp..disp + len` of `host`'s segment, checked.
    fn words(&self, host: i32, disp: usize, len: usize) -> Result<*mut i64> {
        let (base, words) = usize::try_from(host)
            .ok()
            .and_then(|h| self.segments.get(h).copied())
            .filter(|&(base, _)| !base.is_null())
            .ok_or_else(|| Error::Corrupted(format!("no host {host} mapped here")))?;
        if disp.checked_add(len).map_or(true, |end| end > words) {
            return Err(Error::Corrupted(format!(
                "words {disp}..{} are outside host {host}'s {words}",
                disp.saturating_add(len)
            )));
        }
        // SAFETY: `disp + len <= words`, inside the segment.
        Ok(unsafe { base.add(disp) })
    }

    /// An atomic operation on a state word of `host`'s segment (sequentially
    /// consistent, the order the protocol reasons in, as with MPI atomics):
    /// `op` with `operand`, returning the old value.
    pub(crate) fn atomic(&self, host: i32, disp: usize, op: Op, operand: i64) -> Result<i64> {
        let word = self.words(host, disp, 1)?;
        // SAFETY: one aligned word of the mapped segment (checked above); a
        // state word of a direct memory, which every process accesses with
        // CPU atomics only (module documentation).
        let word = unsafe { AtomicI64::from_ptr(word) };
        Ok(match op {
            Op::Sum => word.fetch_add(operand, Ordering::SeqCst),
            Op::BitOr => word.fetch_or(operand, Ordering::SeqCst),
            Op::BitAnd => word.fetch_and(operand, Ordering::SeqCst),
            Op::Replace => word.swap(operand, Ordering::SeqCst),
            Op::NoOp => word.load(Ordering::SeqCst),
            other => {
                return Err(Error::Corrupted(format!(
                    "{other:?} is not an operation on state words"
                )))
            }
        })
    }

    /// A CPU compare-and-swap on a protocol word; returns the old value.
    fn compare_swap(&self, host: i32, disp: usize, compare: i64, value: i64) -> Result<i64> {
        let word = self.words(host, disp, 1)?;
        // SAFETY: as in `atomic`.
        let word = unsafe { AtomicI64::from_ptr(word) };
        Ok(
            match word.compare_exchange(compare, value, Ordering::SeqCst, Ordering::SeqCst) {
                Ok(old) | Err(old) => old,
            },
        )
    }

    /// Opens a run of direct accesses, after the protocol step that took the
    /// variable: an acquire fence (see the module documentation).
    pub(crate) fn begin() {
        fence(Ordering::Acquire);
    }

    /// Closes a run of direct accesses, before the protocol step that
    /// releases the variable or checks it: an acquire-release fence.
    pub(crate) fn end() {
        fence(Ordering::AcqRel);
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
    /// other process accesses those words until the view is dropped, between
    /// [`Direct::begin`] and [`Direct::end`]: the caller holds what the
    /// protocol makes exclusive (a variable's `BUSY` flag with the pins
    /// drained, for its elements; a host's allocation lock, for its
    /// bitmaps); views alive at the same time do not overlap.
    pub(crate) unsafe fn exclusive<'a>(words: *mut [i64]) -> &'a mut [i64] {
        // SAFETY: by the contract, mapped, aligned and unaliased.
        unsafe { &mut *words }
    }
}

/// The allocator's ticket lock on a direct memory: CPU atomics on the
/// lock's words, as on every other protocol word of the memory.
impl AtomicWords<i64> for Direct {
    fn fetch_add(&self, target: i32, word: usize, value: i64) -> shm_core::Result<i64> {
        self.atomic(target, word, Op::Sum, value).map_err(core)
    }

    fn swap(&self, target: i32, word: usize, value: i64) -> shm_core::Result<i64> {
        self.atomic(target, word, Op::Replace, value).map_err(core)
    }

    fn compare_swap(
        &self,
        target: i32,
        word: usize,
        compare: i64,
        value: i64,
    ) -> shm_core::Result<i64> {
        Direct::compare_swap(self, target, word, compare, value).map_err(core)
    }

    fn load(&self, target: i32, word: usize) -> shm_core::Result<i64> {
        self.atomic(target, word, Op::NoOp, 0).map_err(core)
    }

    fn store(&self, target: i32, word: usize, value: i64) -> shm_core::Result<()> {
        self.atomic(target, word, Op::Replace, value)
            .map(drop)
            .map_err(core)
    }

    fn complete(&self, _target: i32) -> shm_core::Result<()> {
        fence(Ordering::SeqCst);
        Ok(())
    }
}

/// A word outside a segment (a corrupted handle), as the window layer
/// reports a bad argument.
fn core(e: Error) -> shm_core::Error {
    shm_core::Error::Usage(e.to_string())
}
