//! First-fit allocation in a bitmap of slots (a set bit is a used slot).
//! Pure: the allocator hands these functions a host's bitmap (in place, or
//! a copy of which it writes back the words they report changed).

use crate::value::Extent;
use std::ops::RangeInclusive;

/// Takes up to `need` free slots among the first `nbits`, first fit, and
/// returns the runs taken as `(start, len)`, setting their bits.
pub(crate) fn take_runs(bits: &mut [u64], nbits: usize, mut need: usize) -> Vec<(usize, usize)> {
    let mut runs = Vec::new();
    let mut i = 0;
    while i < nbits && need > 0 {
        let w = i / 64;
        if i % 64 == 0 && bits[w] == u64::MAX {
            i += 64;
            continue;
        }
        if bits[w] & (1 << (i % 64)) != 0 {
            i += 1;
            continue;
        }
        let start = i;
        while i < nbits && need > 0 {
            let w = i / 64;
            if i % 64 == 0 && bits[w] == 0 && need >= 64 && i + 64 <= nbits {
                bits[w] = u64::MAX;
                i += 64;
                need -= 64;
                continue;
            }
            let bit = 1u64 << (i % 64);
            if bits[w] & bit != 0 {
                break;
            }
            bits[w] |= bit;
            i += 1;
            need -= 1;
        }
        runs.push((start, i - start));
    }
    runs
}

/// Clears the bits of `len` slots from `start`; returns `false` (changing
/// nothing) unless all of them were set.
pub(crate) fn clear_run(bits: &mut [u64], start: usize, len: usize) -> bool {
    if masks(start, len).any(|(w, mask)| bits[w] & mask != mask) {
        return false;
    }
    for (w, mask) in masks(start, len) {
        bits[w] &= !mask;
    }
    true
}

/// The words of the bits `start..start + len`, each with the mask of those
/// bits in it: a word at a time, not a bit at a time (a filter returns
/// hundreds of thousands of slots at once).
fn masks(start: usize, len: usize) -> impl Iterator<Item = (usize, u64)> {
    let end = start + len;
    (start / 64..end.div_ceil(64)).map(move |w| {
        let (lo, hi) = (start.max(w * 64) - w * 64, end.min(w * 64 + 64) - w * 64);
        let mask = match hi - lo {
            64 => u64::MAX,
            n => ((1u64 << n) - 1) << lo,
        };
        (w, mask)
    })
}

/// The first clear bit among the first `nbits`, set.
pub(crate) fn take_one(bits: &mut [u64], nbits: usize) -> Option<usize> {
    let runs = take_runs(bits, nbits, 1);
    runs.first().map(|r| r.0)
}

/// The words of the bitmap that `runs` (sorted, from [`take_runs`])
/// touch; `None` for no run.
pub(crate) fn words_of_runs(runs: &[(usize, usize)]) -> Option<RangeInclusive<usize>> {
    let (first, last) = (runs.first()?, runs.last()?);
    Some(first.0 / 64..=(last.0 + last.1 - 1) / 64)
}

/// Clears the bits of non-empty `extents` (of one host) among the first
/// `nbits`; returns the words touched and the number of slots cleared, or
/// the first extent that was not wholly allocated, with every bit as it
/// was (the bitmap may be the host's own words, changed in place).
pub(crate) fn clear_extents(
    bits: &mut [u64],
    nbits: usize,
    extents: &[Extent],
) -> Result<(RangeInclusive<usize>, usize), Extent> {
    let (mut first, mut last, mut count) = (usize::MAX, 0, 0);
    for (j, e) in extents.iter().enumerate() {
        if e.start + e.len > nbits || !clear_run(bits, e.start, e.len) {
            for done in &extents[..j] {
                for (w, mask) in masks(done.start, done.len) {
                    bits[w] |= mask;
                }
            }
            return Err(*e);
        }
        first = first.min(e.start / 64);
        last = last.max((e.start + e.len - 1) / 64);
        count += e.len;
    }
    Ok((first..=last, count))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An extent of host 1.
    fn e(start: usize, len: usize) -> Extent {
        Extent {
            host: 1,
            start,
            len,
        }
    }

    #[test]
    fn first_fit_runs_and_clear() {
        let mut bits = vec![0u64; 3];
        assert_eq!(take_runs(&mut bits, 150, 10), vec![(0, 10)]);
        assert_eq!(take_runs(&mut bits, 150, 100), vec![(10, 100)]);
        assert!(clear_run(&mut bits, 20, 5));
        assert!(!clear_run(&mut bits, 18, 5));
        assert_eq!(take_runs(&mut bits, 150, 50), vec![(20, 5), (110, 40)]);
        assert_eq!(take_runs(&mut bits, 150, 5), vec![]);
        assert!(clear_run(&mut bits, 0, 150));
        assert_eq!(bits, vec![0, 0, 0]);
        assert_eq!(take_one(&mut bits, 150), Some(0));
        assert_eq!(take_runs(&mut bits, 150, 1000), vec![(1, 149)]);
    }

    #[test]
    fn clear_run_word_by_word() {
        let mut bits = vec![u64::MAX; 4];
        assert!(clear_run(&mut bits, 60, 70));
        assert_eq!(bits, [u64::MAX >> 4, 0, !0b11, u64::MAX]);
        assert!(!clear_run(&mut bits, 59, 2), "bit 60 is clear already");
        assert!(clear_run(&mut bits, 59, 0));
        assert!(clear_run(&mut bits, 192, 64));
        assert_eq!(bits[3], 0);
    }

    #[test]
    fn words_touched_by_runs() {
        assert_eq!(words_of_runs(&[]), None);
        assert_eq!(words_of_runs(&[(3, 2)]), Some(0..=0));
        assert_eq!(words_of_runs(&[(60, 10), (130, 1)]), Some(0..=2));
        assert_eq!(words_of_runs(&[(64, 64)]), Some(1..=1));
    }

    #[test]
    fn clear_extents_counts_and_refuses_what_is_not_allocated() {
        let mut bits = vec![0u64; 3];
        take_runs(&mut bits, 150, 150);
        assert_eq!(
            clear_extents(&mut bits, 150, &[e(70, 10), e(2, 3)]),
            Ok((0..=1, 13))
        );
        assert_eq!(
            clear_extents(&mut bits, 150, &[e(140, 10)]),
            Ok((2..=2, 10))
        );
        assert_eq!(
            clear_extents(&mut bits, 150, &[e(75, 1)]),
            Err(e(75, 1)),
            "cleared already"
        );
        assert_eq!(
            clear_extents(&mut bits, 150, &[e(145, 10)]),
            Err(e(145, 10)),
            "past the end"
        );
        assert_eq!(
            take_runs(&mut bits, 150, 150),
            vec![(2, 3), (70, 10), (140, 10)]
        );
    }

    #[test]
    fn a_failed_release_changes_no_bit() {
        let mut bits = vec![0u64; 3];
        take_runs(&mut bits, 150, 100);
        let before = bits.clone();
        // The second extent overlaps the first (a corrupted placement), the
        // third is not allocated: either way nothing is cleared.
        for bad in [
            [e(10, 20), e(25, 10), e(0, 1)],
            [e(0, 64), e(64, 10), e(120, 5)],
        ] {
            assert!(clear_extents(&mut bits, 150, &bad).is_err());
            assert_eq!(bits, before);
        }
    }
}
