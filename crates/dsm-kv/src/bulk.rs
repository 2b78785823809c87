//! Bulk work on a list's elements in one pass, chunk by chunk: `map`,
//! `filter` and `reduce` move each element once in each direction it needs,
//! through buffers of [`CHUNK`] elements that stay in cache, instead of
//! copying the whole list into a fresh vector and back.
//!
//! On the RMA path a chunk may span several extents (on several hosts):
//! its pieces are one get (or put) each, all started in one
//! [`batch`](shm_core::window::batch()) and completed together by one
//! `MPI_Win_flush_all` (a remote flush: see `shm_core::window::Batch` for
//! why not a local one). The passes are pipelined ([`Hosts::pipeline`]):
//! while the caller's step works on one chunk, the next chunk's gets are in
//! flight into a second buffer, and the chunk's puts complete before its
//! buffer takes another chunk. The caller holds the variable so that its
//! placement cannot change (a pin for `reduce`, the exclusive
//! `BUSY` flag for `map` and `filter`), and the exclusive operations flush
//! everything to every host before they release it.
//!
//! On the mixed path ([`crate::nearby`]) the pieces on the hosts this rank
//! maps are copied, in program order, when the batch would start their get
//! or put; the pipeline's argument below holds for them as for the others
//! (a copy is an operation that completes at once), and the whole pass runs
//! between the two `MPI_Win_sync` of the caller's hold
//! ([`Hosts::bracketed`]). When the hosts are
//! co-located ([`crate::direct`]), the same operations work in place
//! instead ([`crate::in_place`]), and the ranges below are copies.

use crate::compact::compact;
use crate::direct::Direct;
use crate::error::Result;
use crate::hosts::Hosts;
use crate::placement::Placement;
use shm_core::window::{batch, Batch};
use std::ops::Range;

/// Elements per chunk: 512 KiB. The pipeline holds two chunks (kept
/// between passes in [`Hosts::spare`]). Each chunk costs a round trip (its
/// batch's completion), which across nodes is what the chunk size trades
/// against cache locality: on the multi-node bed (TCP, Open MPI's
/// osc/pt2pt) 2^14-element chunks made `map` a third and `reduce` half
/// slower than unpipelined 2^15-element chunks, 2^16 brings both back and
/// makes `filter` a fifth faster, 2^18 is slower on one node; on one node
/// (`Access::Rma`) 2^16 costs `map` and `reduce` 3-10 % against 2^14
/// (docs/benchmarks.md).
pub(crate) const CHUNK: usize = 1 << 16;

/// The pieces of elements `from..from + len` of a placement: (host, first
/// slot, offset in the range, length), in list order.
pub(crate) fn pieces(
    placement: &Placement,
    from: usize,
    len: usize,
) -> impl Iterator<Item = (i32, usize, usize, usize)> + '_ {
    let end = from + len;
    let mut offset = 0;
    placement.extents.iter().filter_map(move |e| {
        let (lo, hi) = (offset.max(from), (offset + e.len).min(end));
        let piece = (lo < hi).then(|| (e.host, e.start + lo - offset, lo - from, hi - lo));
        offset += e.len;
        piece
    })
}

/// What a step of [`Hosts::pipeline`] writes back: elements `range` of the
/// chunk's buffer, to list elements `to..`.
struct WriteBack {
    to: usize,
    range: Range<usize>,
}

impl Hosts {
    /// Reads elements `from..from + out.len()` of `placement` into `out`.
    pub(crate) fn get_range(
        &self,
        placement: &Placement,
        from: usize,
        out: &mut [i64],
    ) -> Result<()> {
        if let Some(direct) = self.direct() {
            Direct::begin();
            for (host, slot, at, n) in pieces(placement, from, out.len()) {
                direct.copy_out(host, self.layout.data_slot(slot), &mut out[at..at + n])?;
            }
            Direct::end();
            return Ok(());
        }
        batch(&*self.win, |b| {
            self.start_get_range(b, placement, from, out)
        })
    }

    /// Writes `values` at elements `from..from + values.len()` of
    /// `placement`, completed (one batch).
    pub(crate) fn put_range(
        &self,
        placement: &Placement,
        from: usize,
        values: &[i64],
    ) -> Result<()> {
        if let Some(direct) = self.direct() {
            Direct::begin();
            for (host, slot, at, n) in pieces(placement, from, values.len()) {
                direct.copy_in(host, self.layout.data_slot(slot), &values[at..at + n])?;
            }
            Direct::end();
            return Ok(());
        }
        batch(&*self.win, |b| {
            self.start_put_range(b, placement, from, values)
        })
    }

    /// Starts in `b` the gets of elements `from..from + out.len()`, one per
    /// piece; a piece on a host mapped here is copied at once (inside the
    /// caller's [`Hosts::bracketed`] run).
    fn start_get_range<'s>(
        &self,
        b: &Batch<'s, '_, i64>,
        placement: &Placement,
        from: usize,
        out: &'s mut [i64],
    ) -> Result<()> {
        let mut rest = out;
        for (host, slot, _, n) in pieces(placement, from, rest.len()) {
            let (piece, tail) = std::mem::take(&mut rest).split_at_mut(n);
            let disp = self.layout.data_slot(slot);
            match self.mapped_host(host) {
                Some(mapped) => mapped.copy_out(host, disp, piece)?,
                None => b.get(host, disp, piece)?,
            }
            rest = tail;
        }
        Ok(())
    }

    /// Starts in `b` the puts of `values` at elements `from..`, one per
    /// piece; a piece on a host mapped here is copied at once.
    fn start_put_range<'s>(
        &self,
        b: &Batch<'s, '_, i64>,
        placement: &Placement,
        from: usize,
        values: &'s [i64],
    ) -> Result<()> {
        for (host, slot, at, n) in pieces(placement, from, values.len()) {
            let (disp, piece) = (self.layout.data_slot(slot), &values[at..at + n]);
            match self.mapped_host(host) {
                Some(mapped) => mapped.copy_in(host, disp, piece)?,
                None => b.put(host, disp, piece)?,
            }
        }
        Ok(())
    }

    /// The RMA and mixed paths' pass over a list: `step(state, from, chunk)` runs on
    /// each chunk in list order (`from` is the chunk's first element) and
    /// returns the next state and what to write back, if anything.
    ///
    /// Two buffers: chunk `i` is worked on in one while chunk `i + 1`'s
    /// gets are in flight into the other, and chunk `i`'s puts start once
    /// the step is done; one batch holds both, so its one completion ends
    /// them together, before either buffer is reused. Each chunk costs one
    /// `MPI_Win_flush_all` (plus one for the first chunk's gets).
    ///
    /// No two operations of a batch may touch the same element (they are
    /// unordered): the gets read chunk `i + 1`, so a step must write back
    /// only elements before it (list elements `..from + chunk.len()`).
    /// Across batches, a put starts after the get of the same elements has
    /// completed (it was in an earlier batch), which has read them.
    fn pipeline<S>(
        &self,
        placement: &Placement,
        mut state: S,
        mut step: impl FnMut(S, usize, &mut [i64]) -> Result<(S, Option<WriteBack>)>,
    ) -> Result<S> {
        let len = placement.len;
        // The spare buffers when there are (a pass inside a step's closure
        // finds none, and allocates its own).
        let mut buffers = self.spare.take();
        buffers.resize(2 * CHUNK.min(len), 0);
        let (mut this, mut next) = buffers.split_at_mut(CHUNK.min(len));
        self.get_range(placement, 0, this)?;
        let mut from = 0;
        while from < len {
            let after = from + CHUNK.min(len - from);
            let chunk = &mut this[..after - from];
            let ahead = &mut next[..CHUNK.min(len - after)];
            state = batch(&*self.win, |b| {
                self.start_get_range(b, placement, after, ahead)?;
                let (state, write) = step(state, from, chunk)?;
                if let Some(WriteBack { to, range }) = write {
                    debug_assert!(to + range.len() <= after, "a write-back passes the chunk");
                    let chunk: &[i64] = chunk;
                    self.start_put_range(b, placement, to, &chunk[range])?;
                }
                Ok::<_, crate::error::Error>(state)
            })?;
            std::mem::swap(&mut this, &mut next);
            from = after;
        }
        self.spare.set(buffers);
        Ok(state)
    }

    /// Folds the elements in list order, a chunk at a time.
    pub(crate) fn fold_values<T>(
        &self,
        placement: &Placement,
        init: T,
        mut f: impl FnMut(T, i64) -> T,
    ) -> Result<T> {
        if let Some(in_place) = self.in_place() {
            return in_place.fold(placement, init, f);
        }
        self.pipeline(placement, init, |acc, _, chunk| {
            Ok((chunk.iter().fold(acc, |a, &x| f(a, x)), None))
        })
    }

    /// Replaces every element `x` by `f(x)`, a chunk at a time (read, map
    /// in the buffer, write back).
    pub(crate) fn map_values(
        &self,
        placement: &Placement,
        mut f: impl FnMut(i64) -> i64,
    ) -> Result<()> {
        if let Some(in_place) = self.in_place() {
            return in_place.map(placement, f);
        }
        self.pipeline(placement, (), |(), from, chunk| {
            chunk.iter_mut().for_each(|x| *x = f(*x));
            let range = 0..chunk.len();
            Ok(((), Some(WriteBack { to: from, range })))
        })
    }

    /// Moves the elements for which `keep` is `true` to the front, in
    /// order, a chunk at a time; returns how many there are. The writes
    /// trail the reads (the kept elements of a chunk land at or before its
    /// own place), so no element is overwritten before it is read; and
    /// until the first element is dropped nothing moves, so nothing is
    /// written.
    ///
    /// Pipelined safely: with `kept` elements kept before the chunk at
    /// `from` (`kept <= from`), its kept ones go to `kept..kept + n` with
    /// `n <= chunk.len()`, all before the next chunk, whose gets are the
    /// other operations of the batch; and every element a put overwrites
    /// was read by a get completed in an earlier batch (its own chunk's, or
    /// an earlier chunk's).
    pub(crate) fn compact_values(
        &self,
        placement: &Placement,
        mut keep: impl FnMut(i64) -> bool,
    ) -> Result<usize> {
        if let Some(in_place) = self.in_place() {
            return in_place.compact(placement, keep);
        }
        self.pipeline(placement, 0, |kept, from, chunk| {
            // Until the list's first dropped element, the kept ones are in
            // place: `skip` of this chunk's need no write.
            let skip = if kept == from {
                chunk.iter().position(|&x| !keep(x)).unwrap_or(chunk.len())
            } else {
                0
            };
            let n = skip + compact(&mut chunk[skip..], &mut keep);
            let write = (skip < n).then(|| WriteBack {
                to: kept + skip,
                range: skip..n,
            });
            Ok((kept + n, write))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::Extent;

    #[test]
    fn pieces_cut_a_range_at_extent_boundaries() {
        let e = |host, start, len| Extent { host, start, len };
        let p = Placement {
            len: 10,
            extents: vec![e(1, 5, 3), e(2, 0, 4), e(3, 9, 3)],
        };
        let all: Vec<_> = pieces(&p, 0, 10).collect();
        assert_eq!(all, [(1, 5, 0, 3), (2, 0, 3, 4), (3, 9, 7, 3)]);
        let mid: Vec<_> = pieces(&p, 2, 6).collect();
        assert_eq!(mid, [(1, 7, 0, 1), (2, 0, 1, 4), (3, 9, 5, 1)]);
        assert_eq!(pieces(&p, 4, 2).collect::<Vec<_>>(), [(2, 1, 0, 2)]);
        assert_eq!(pieces(&p, 10, 0).count(), 0);
    }
}
