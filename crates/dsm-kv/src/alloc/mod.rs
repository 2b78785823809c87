//! The host allocator: data slots and descriptors, taken and returned in
//! each host's bitmaps under the host's allocation lock.
//!
//! Allocation metadata (the bitmaps and the counters [`USED_SLOTS`] and
//! [`USED_DESCRIPTORS`]) changes only under the host's lock, one host at a
//! time, so there is never a deadlock. The lock is a FIFO [`TicketLock`] in
//! words [`LOCK_NEXT`] and [`LOCK_SERVING`] of the host's window, taken with
//! atomics only (`MPI_Fetch_and_op`, or CPU atomics on a direct memory:
//! [`crate::words`]); its guard passes the turn on however the holder leaves
//! (an error or a panic included), so an error under the lock does not leave
//! the host locked for the other ranks. Under the lock the bitmap is changed
//! in place on a direct memory, or read with a plain get and its changed
//! words put back (the lock orders them, and its release completes them
//! first); the counters change atomically, so that
//! [`free_slots`](Hosts::free_slots_on) can read them without the lock.

mod bitmap;

use crate::error::{Error, Result};
use crate::hosts::{HostWindows, Hosts};
use crate::layout::{LOCK_NEXT, LOCK_SERVING, USED_DESCRIPTORS, USED_SLOTS};
use crate::value::Extent;
use shm_core::sync::{AtomicWords, TicketLock};
use shm_core::window::Op;
use std::collections::BTreeMap;
use std::ops::RangeInclusive;

/// Proof that this rank holds `host`'s allocation lock, which guards the
/// host's bitmaps: only [`with_lock`] makes one, lent to its closure.
struct Held {
    host: i32,
}

/// Runs `f` holding the allocation lock of `host` in `win`.
fn with_lock<W: AtomicWords<i64>, R>(
    win: &W,
    host: i32,
    f: impl FnOnce(&Held) -> Result<R>,
) -> Result<R> {
    let lock = TicketLock::<i64, _>::acquire(win, host, LOCK_NEXT, LOCK_SERVING)?;
    let result = f(&Held { host });
    lock.release()?;
    result
}

impl Hosts {
    /// Runs `f` holding `host`'s allocation lock; the lock is passed on
    /// however `f` ends (error or panic included).
    fn with_host_lock<R>(&self, host: i32, f: impl FnOnce(&Held) -> Result<R>) -> Result<R> {
        match &self.win {
            HostWindows::Rma(win, _) => with_lock(win, host, f),
            HostWindows::Shared(_, Some(direct)) => with_lock(direct, host, f),
            HostWindows::Shared(win, None) => with_lock(win, host, f),
        }
    }

    /// Data slots free on `host` now.
    pub(crate) fn free_slots_on(&self, host: i32) -> Result<usize> {
        let used = self.atomic_read(host, USED_SLOTS)?;
        Ok(self.layout.slots.saturating_sub(used.max(0) as usize))
    }

    /// Descriptors free on `host` now.
    pub(crate) fn free_descriptors_on(&self, host: i32) -> Result<usize> {
        let used = self.atomic_read(host, USED_DESCRIPTORS)?;
        Ok(self.layout.descriptors.saturating_sub(used.max(0) as usize))
    }

    /// Allocates `n` data slots, first fit, from the hosts with the most free
    /// space first. All or nothing: [`Error::OutOfMemory`] leaves nothing
    /// allocated.
    pub(crate) fn alloc_slots(&self, n: usize) -> Result<Vec<Extent>> {
        if n == 0 {
            return Ok(Vec::new());
        }
        let mut hosts = Vec::with_capacity(self.count());
        for host in self.ranks() {
            hosts.push((self.free_slots_on(host)?, host));
        }
        let total: usize = hosts.iter().map(|h| h.0).sum();
        if total < n {
            return Err(self.out_of_memory(n, total));
        }
        let mut got = Vec::new();
        let mut need = n;
        for (free, host) in most_free_first(hosts) {
            if need == 0 {
                break;
            }
            if free == 0 {
                continue;
            }
            let runs = self.with_host_lock(host, |held| {
                let (disp, words) = (self.layout.slot_bitmap, self.layout.slot_bitmap_words());
                let runs = self.edit_bits(held, disp, words, |bits| {
                    let runs = bitmap::take_runs(bits, self.layout.slots, need);
                    let changed = bitmap::words_of_runs(&runs);
                    Ok((runs, changed))
                })?;
                let taken: usize = runs.iter().map(|r| r.1).sum();
                if taken > 0 {
                    self.accumulate(host, USED_SLOTS, Op::Sum, taken as i64)?;
                }
                Ok(runs)
            })?;
            for (start, len) in runs {
                need -= len;
                got.push(Extent { host, start, len });
            }
        }
        if need > 0 {
            // Other ranks took space in the meantime: roll back.
            self.release_slots(&got)?;
            return Err(self.out_of_memory(n, self.free_slots()?));
        }
        Ok(got)
    }

    fn out_of_memory(&self, requested: usize, free: usize) -> Error {
        Error::OutOfMemory {
            requested,
            free,
            capacity: self.count() * self.layout.slots,
        }
    }

    /// Data slots free in the whole memory now.
    pub(crate) fn free_slots(&self) -> Result<usize> {
        let mut free = 0;
        for host in self.ranks() {
            free += self.free_slots_on(host)?;
        }
        Ok(free)
    }

    /// Returns data slots to their hosts. Only the bitmap words the extents
    /// cover move (a filter that halves a long list returns a long run,
    /// but a host's bitmap can be many times longer).
    pub(crate) fn release_slots(&self, extents: &[Extent]) -> Result<()> {
        for (host, extents) in by_host(extents) {
            let corrupted = |e: Extent| {
                Error::Corrupted(format!(
                    "slots {}..{} of host {host} are not allocated",
                    e.start,
                    e.start + e.len
                ))
            };
            if let Some(e) = extents.iter().find(|e| e.start + e.len > self.layout.slots) {
                return Err(corrupted(*e));
            }
            // `by_host` keeps only non-empty extents, inside the bitmap (above).
            let first = extents.iter().map(|e| e.start / 64).min().unwrap_or(0);
            let last = extents
                .iter()
                .map(|e| (e.start + e.len - 1) / 64)
                .max()
                .unwrap_or(0);
            let shifted: Vec<Extent> = extents
                .iter()
                .map(|e| Extent {
                    start: e.start - 64 * first,
                    ..*e
                })
                .collect();
            let disp = self.layout.slot_bitmap + first;
            self.with_host_lock(host, |held| {
                let words = last - first + 1;
                let count = self.edit_bits(held, disp, words, |bits| {
                    let (changed, count) = bitmap::clear_extents(bits, 64 * words, &shifted)
                        .map_err(|e| {
                            corrupted(Extent {
                                start: e.start + 64 * first,
                                ..e
                            })
                        })?;
                    Ok((count, Some(changed)))
                })?;
                self.accumulate(host, USED_SLOTS, Op::Sum, -(count as i64))?;
                Ok(())
            })?;
        }
        Ok(())
    }

    /// Takes a free descriptor, on `prefer` if it has one, else on the next
    /// hosts. Returns its host and index; [`Error::TooManyVariables`] when
    /// every host's are in use.
    pub(crate) fn alloc_descriptor(&self, prefer: i32) -> Result<(i32, u32)> {
        let hosts = self.count() as i32;
        for k in 0..hosts {
            let host = 1 + (prefer - 1 + k) % hosts;
            if self.free_descriptors_on(host)? == 0 {
                continue;
            }
            let index = self.with_host_lock(host, |held| {
                let (disp, words) = (
                    self.layout.descriptor_bitmap,
                    self.layout.descriptor_bitmap_words(),
                );
                let index = self.edit_bits(held, disp, words, |bits| {
                    let index = bitmap::take_one(bits, self.layout.descriptors);
                    Ok((index, index.map(|i| i / 64..=i / 64)))
                })?;
                if index.is_some() {
                    self.accumulate(host, USED_DESCRIPTORS, Op::Sum, 1)?;
                }
                Ok(index)
            })?;
            if let Some(index) = index {
                return Ok((host, index as u32));
            }
        }
        Err(Error::TooManyVariables {
            capacity: self.layout.descriptors * self.count(),
        })
    }

    /// Returns descriptor `index` to `host`.
    pub(crate) fn release_descriptor(&self, host: i32, index: usize) -> Result<()> {
        self.with_host_lock(host, |held| {
            let disp = self.layout.descriptor_bitmap + index / 64;
            self.edit_bits(held, disp, 1, |bits| {
                bits[0] &= !(1u64 << (index % 64));
                Ok(((), Some(0..=0)))
            })?;
            self.accumulate(host, USED_DESCRIPTORS, Op::Sum, -1)?;
            Ok(())
        })
    }

    /// Runs `edit` on `words` words of the bitmap at `disp` of the host
    /// whose lock is `held`, in place where the memory allows
    /// ([`Hosts::edit_words`]); `edit` returns its result and the words it
    /// changed.
    fn edit_bits<R>(
        &self,
        held: &Held,
        disp: usize,
        words: usize,
        edit: impl FnOnce(&mut [u64]) -> Result<(R, Option<RangeInclusive<usize>>)>,
    ) -> Result<R> {
        let edit = |raw: &mut [i64]| edit(bytemuck::cast_slice_mut(raw));
        // SAFETY: `held` proves this rank holds the host's allocation lock,
        // and every process reaches a host's bitmaps only under it.
        unsafe { self.edit_words(held.host, disp, words, edit) }
    }
}

/// `(free, host)` pairs sorted to visit the hosts with the most free space
/// first (the lower rank first among equals).
fn most_free_first(mut hosts: Vec<(usize, i32)>) -> Vec<(usize, i32)> {
    hosts.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    hosts
}

/// The non-empty extents grouped by host, hosts in rank order.
fn by_host(extents: &[Extent]) -> BTreeMap<i32, Vec<Extent>> {
    let mut by_host: BTreeMap<i32, Vec<Extent>> = BTreeMap::new();
    for e in extents.iter().filter(|e| e.len > 0) {
        by_host.entry(e.host).or_default().push(*e);
    }
    by_host
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_with_the_most_free_space_come_first() {
        let order = most_free_first(vec![(3, 1), (10, 2), (3, 3), (0, 4), (10, 5)]);
        assert_eq!(order, [(10, 2), (10, 5), (3, 1), (3, 3), (0, 4)]);
    }

    #[test]
    fn extents_are_grouped_by_host_without_empty_ones() {
        let e = |host, start, len| Extent { host, start, len };
        let groups = by_host(&[e(3, 0, 2), e(1, 5, 1), e(3, 8, 4), e(2, 0, 0)]);
        let groups: Vec<(i32, Vec<Extent>)> = groups.into_iter().collect();
        assert_eq!(
            groups,
            [(1, vec![e(1, 5, 1)]), (3, vec![e(3, 0, 2), e(3, 8, 4)])]
        );
    }
}
