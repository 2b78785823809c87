//! The one way to the hosts' protocol and metadata words (state words, the
//! allocator's, descriptors, chain links, bitmaps): MPI RMA calls on the RMA
//! and mixed paths; CPU atomics, loads, stores and copies on the direct
//! path, where a memory's operations then make no MPI call at all. (The
//! data moves through `hosts.rs` and `bulk.rs`, and on the mixed path by
//! copies for the hosts a rank maps: [`crate::nearby`].)
//!
//! That is the point: MPICH completes one rank's RMA on another rank's
//! window only when that rank calls MPI. A direct memory that used RMA for
//! some words (a placement, the allocator's bitmaps) and CPU atomics for
//! others would hang as soon as a rank looping on CPU-only operations were
//! the target of another rank's get (seen on MPICH 4: a `modify` that reads
//! its placement waits forever for a host that reads a list in a loop).
//!
//! Each of these words is reached one way for the whole life of a memory,
//! chosen with the path on every rank at once, so no word ever sees both
//! CPU and MPI atomics.

use crate::direct::Direct;
use crate::error::Result;
use crate::hosts::Hosts;
use shm_core::window::Op;
use std::ops::RangeInclusive;

impl Hosts {
    /// `op` with `operand` on one word, atomically; returns the old value.
    pub(crate) fn atomic(&self, host: i32, disp: usize, op: Op, operand: i64) -> Result<i64> {
        match self.direct() {
            Some(direct) => direct.atomic(host, disp, op, operand),
            None => Ok(self.win.fetch_and_op(host, disp, operand, op)?),
        }
    }

    /// `op` with `operand` on one word, atomically, completed locally only:
    /// the target has it when MPI delivers it (at once on shared memory, and
    /// for CPU atomics).
    pub(crate) fn accumulate(&self, host: i32, disp: usize, op: Op, operand: i64) -> Result<()> {
        match self.direct() {
            Some(direct) => direct.atomic(host, disp, op, operand).map(drop),
            None => Ok(self.win.accumulate(host, disp, &[operand], op)?),
        }
    }

    /// `op` with `operand` on one word, atomically, complete at the target
    /// when this returns.
    pub(crate) fn accumulate_flush(
        &self,
        host: i32,
        disp: usize,
        op: Op,
        operand: i64,
    ) -> Result<()> {
        match self.direct() {
            Some(direct) => direct.atomic(host, disp, op, operand).map(drop),
            None => Ok(self.win.accumulate_flush(host, disp, &[operand], op)?),
        }
    }

    /// Reads `out.len()` words that the protocol keeps from changing
    /// meanwhile (descriptor words, chain links, bitmaps under the lock).
    pub(crate) fn get_words(&self, host: i32, disp: usize, out: &mut [i64]) -> Result<()> {
        match self.direct() {
            Some(direct) => {
                Direct::begin();
                direct.copy_out(host, disp, out)?;
                Direct::end();
                Ok(())
            }
            None => Ok(self.win.get(host, disp, out)?),
        }
    }

    /// Writes words that no other process reads meanwhile; they are complete
    /// at the target by the next [`flush_all`](Self::flush_all) (direct: at
    /// once).
    pub(crate) fn put_words(&self, host: i32, disp: usize, data: &[i64]) -> Result<()> {
        match self.direct() {
            Some(direct) => {
                Direct::begin();
                direct.copy_in(host, disp, data)?;
                Direct::end();
                Ok(())
            }
            None => Ok(self.win.put(host, disp, data)?),
        }
    }

    /// Runs `edit` on the words `disp..disp + len` of `host`'s segment: in
    /// place on the direct path; elsewhere on a copy, of which the words
    /// `edit` reports changed (indices into the slice) are written back,
    /// complete at the target by the next [`flush_all`](Self::flush_all).
    ///
    /// In place, a filter that returns half a million slots clears 8,000
    /// bitmap words where they are, instead of copying them out and back.
    ///
    /// # Safety
    /// No other process reads or writes those words until this returns (the
    /// caller holds the lock that guards them: a host's bitmaps, its
    /// allocation lock).
    pub(crate) unsafe fn edit_words<R>(
        &self,
        host: i32,
        disp: usize,
        len: usize,
        edit: impl FnOnce(&mut [i64]) -> Result<(R, Option<RangeInclusive<usize>>)>,
    ) -> Result<R> {
        match self.direct() {
            Some(direct) => {
                let words = direct.raw_slice(host, disp, len)?;
                Direct::begin();
                // SAFETY: words of a live memory's segment (checked by
                // `raw_slice`) that no other process accesses meanwhile (this
                // method's contract), inside a begin/end bracket; the only
                // view of them.
                let view = unsafe { Direct::exclusive(words) };
                let result = edit(view);
                Direct::end();
                result.map(|(r, _)| r)
            }
            None => {
                let mut copy = vec![0i64; len];
                self.win.get(host, disp, &mut copy)?;
                let (r, changed) = edit(&mut copy)?;
                if let Some(changed) = changed {
                    let first = *changed.start();
                    self.win.put(host, disp + first, &copy[changed])?;
                }
                Ok(r)
            }
        }
    }

    /// Completes this rank's writes at every host before the protocol step
    /// that lets others read them: `MPI_Win_flush_all`, or a fence.
    pub(crate) fn flush_all(&self) -> Result<()> {
        match self.direct() {
            Some(_) => {
                std::sync::atomic::fence(std::sync::atomic::Ordering::SeqCst);
                Ok(())
            }
            None => Ok(self.win.flush_all()?),
        }
    }
}
