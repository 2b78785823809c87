//! `map`, `filter` and `reduce` in place on co-located hosts: the elements
//! are loaded and stored where they are, inside the fence bracket of
//! [`crate::direct`] (where the memory-model rule is).
//!
//! `map` and `filter` hold the variable's exclusive `BUSY` flag with the
//! pins drained, so no other process touches its elements meanwhile: `map`
//! views each extent as a slice, `filter` moves elements with raw-pointer
//! loads and stores (its source and destination may be the same extent).
//! `reduce` holds only a pin, under which other ranks may `modify`
//! elements: it copies them into a local buffer a chunk at a time and folds
//! the buffer.

use crate::bulk::pieces;
use crate::compact::compact_raw;
use crate::direct::Direct;
use crate::error::Result;
use crate::layout::WindowLayout;
use crate::placement::Placement;
use crate::value::Extent;

/// Elements per chunk of [`fold`]: 32 KiB, which stays in a core's L1 cache
/// between the copy and the fold (the copy is all the memory traffic there
/// is, so a smaller buffer than [`CHUNK`] serves better).
const FOLD_CHUNK: usize = 1 << 12;

/// The direct path's view of the hosts: the segments' addresses and the
/// layout.
pub(crate) struct InPlace<'a> {
    pub(crate) direct: &'a Direct,
    pub(crate) layout: &'a WindowLayout,
}

impl InPlace<'_> {
    /// The elements of extent `e`, as a raw slice.
    fn extent(&self, e: &Extent) -> Result<*mut [i64]> {
        self.direct
            .raw_slice(e.host, self.layout.data_slot(e.start), e.len)
    }

    /// Folds the elements in list order, a chunk at a time.
    pub(crate) fn fold<T>(
        &self,
        placement: &Placement,
        init: T,
        mut f: impl FnMut(T, i64) -> T,
    ) -> Result<T> {
        let mut buf = vec![0i64; FOLD_CHUNK.min(placement.len)];
        let mut acc = init;
        Direct::begin();
        for from in (0..placement.len).step_by(FOLD_CHUNK) {
            let chunk = &mut buf[..FOLD_CHUNK.min(placement.len - from)];
            for (host, slot, at, n) in pieces(placement, from, chunk.len()) {
                self.direct
                    .copy_out(host, self.layout.data_slot(slot), &mut chunk[at..at + n])?;
            }
            acc = chunk.iter().fold(acc, |a, &x| f(a, x));
        }
        Direct::end();
        Ok(acc)
    }

    /// Replaces every element `x` by `f(x)`, extent by extent, in place. The
    /// caller holds the variable exclusively.
    pub(crate) fn map(&self, placement: &Placement, mut f: impl FnMut(i64) -> i64) -> Result<()> {
        Direct::begin();
        for e in &placement.extents {
            let words = self.extent(e)?;
            // SAFETY: the caller holds the variable exclusively (BUSY set, pins
            // drained) inside this begin/end bracket, so no other process
            // accesses the extent's elements; one extent's view at a time.
            let elements = unsafe { Direct::exclusive(words) };
            elements.iter_mut().for_each(|x| *x = f(*x));
        }
        Direct::end();
        Ok(())
    }

    /// Moves the elements for which `keep` is `true` to the front of the list,
    /// in order, in place; returns how many there are. The caller holds the
    /// variable exclusively.
    ///
    /// The kernel is [`crate::compact`]'s, run by run: the free place never
    /// passes the element being read (in list order), so no element is
    /// overwritten before it is read, and a run is cut where either its
    /// source or its destination extent ends.
    pub(crate) fn compact(
        &self,
        placement: &Placement,
        mut keep: impl FnMut(i64) -> bool,
    ) -> Result<usize> {
        let spans = placement
            .extents
            .iter()
            .map(|e| {
                let words = self.extent(e)?;
                Ok((words.cast::<i64>(), e.len))
            })
            .collect::<Result<Vec<_>>>()?;
        let Some(&(first, first_len)) = spans.first() else {
            return Ok(0);
        };
        Direct::begin();
        // The free place: `dst`, in extent `next - 1`, with `room` places left
        // in it.
        let (mut dst, mut room, mut next) = (first, first_len, 1);
        let mut kept = 0;
        for &(mut src, mut left) in &spans {
            while left > 0 {
                if room == 0 {
                    // Only reached with elements left to read, so with free
                    // places left in a later extent (the free place never
                    // passes the element being read).
                    let Some(&(start, len)) = spans.get(next) else {
                        break;
                    };
                    (dst, room, next) = (start, len, next + 1);
                }
                // A run that neither the reads nor the writes can leave the
                // extents of: `dst` advances at most once per element.
                let run = left.min(room);
                // `dst` is at or before `src` in list order, so each element is
                // read before a store can reach it.
                // SAFETY: both runs are inside the list's extents (`run <= left,
                // room`), ours alone (exclusive hold, inside the sync bracket).
                let n = unsafe { compact_raw(src, dst, run, &mut keep) };
                // SAFETY: within (or one past) the extents, as above.
                (src, dst) = unsafe { (src.add(run), dst.add(n)) };
                (left, room, kept) = (left - run, room - n, kept + n);
            }
        }
        Direct::end();
        Ok(kept)
    }
}
