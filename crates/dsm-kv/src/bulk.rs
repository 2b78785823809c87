//! Bulk work on a list's elements in one pass, chunk by chunk: `map`,
//! `filter` and `reduce` move each element once in each direction it needs,
//! through a buffer of [`CHUNK`] elements that stays in cache, instead of
//! copying the whole list into a fresh vector and back.
//!
//! A chunk may span several extents (on several hosts): it is one get (or
//! put) per piece, each completed locally before the buffer is used (`get`)
//! or reused (`put`), as every [`Rma`] call is. The caller holds the
//! variable so that its placement cannot change (a pin for `reduce`, the
//! exclusive `BUSY` flag for `map` and `filter`), and the exclusive
//! operations flush everything to every host before they release it.
//!
//! When the hosts are co-located ([`crate::direct`]), the same operations
//! work in place instead ([`crate::in_place`]), and the ranges below are
//! copies.

use crate::compact::compact;
use crate::direct::Direct;
use crate::error::Result;
use crate::hosts::Hosts;
use crate::placement::Placement;

/// Elements per chunk: 256 KiB, which stays in a core's L2 cache between
/// the get, the work on it and the put.
pub(crate) const CHUNK: usize = 1 << 15;

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
        for (host, slot, at, n) in pieces(placement, from, out.len()) {
            self.win
                .get(host, self.layout.data_slot(slot), &mut out[at..at + n])?;
        }
        Ok(())
    }

    /// Writes `values` at elements `from..from + values.len()` of
    /// `placement` (completed locally; the caller flushes).
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
        for (host, slot, at, n) in pieces(placement, from, values.len()) {
            self.win
                .put(host, self.layout.data_slot(slot), &values[at..at + n])?;
        }
        Ok(())
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
        let mut buf = vec![0i64; CHUNK.min(placement.len)];
        let mut acc = init;
        for from in (0..placement.len).step_by(CHUNK) {
            let chunk = &mut buf[..CHUNK.min(placement.len - from)];
            self.get_range(placement, from, chunk)?;
            acc = chunk.iter().fold(acc, |a, &x| f(a, x));
        }
        Ok(acc)
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
        let mut buf = vec![0i64; CHUNK.min(placement.len)];
        for from in (0..placement.len).step_by(CHUNK) {
            let chunk = &mut buf[..CHUNK.min(placement.len - from)];
            self.get_range(placement, from, chunk)?;
            chunk.iter_mut().for_each(|x| *x = f(*x));
            self.put_range(placement, from, chunk)?;
        }
        Ok(())
    }

    /// Moves the elements for which `keep` is `true` to the front, in
    /// order, a chunk at a time; returns how many there are. The writes
    /// trail the reads (the kept elements of a chunk land at or before its
    /// own place), so no element is overwritten before it is read; and
    /// until the first element is dropped nothing moves, so nothing is
    /// written.
    pub(crate) fn compact_values(
        &self,
        placement: &Placement,
        mut keep: impl FnMut(i64) -> bool,
    ) -> Result<usize> {
        if let Some(in_place) = self.in_place() {
            return in_place.compact(placement, keep);
        }
        let mut buf = vec![0i64; CHUNK.min(placement.len)];
        let mut kept = 0;
        for from in (0..placement.len).step_by(CHUNK) {
            let chunk = &mut buf[..CHUNK.min(placement.len - from)];
            self.get_range(placement, from, chunk)?;
            // Until the list's first dropped element, the kept ones are in
            // place: `skip` of this chunk's need no write.
            let skip = if kept == from {
                chunk.iter().position(|&x| !keep(x)).unwrap_or(chunk.len())
            } else {
                0
            };
            let n = skip + compact(&mut chunk[skip..], &mut keep);
            if skip < n {
                self.put_range(placement, kept + skip, &chunk[skip..n])?;
            }
            kept += n;
        }
        Ok(kept)
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
