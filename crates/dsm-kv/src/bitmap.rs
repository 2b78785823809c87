//! First-fit allocation in a bitmap of slots (a set bit is a used slot).

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
    if (start..start + len).any(|i| bits[i / 64] & (1 << (i % 64)) == 0) {
        return false;
    }
    for i in start..start + len {
        bits[i / 64] &= !(1 << (i % 64));
    }
    true
}

/// The first clear bit among the first `nbits`, set.
pub(crate) fn take_one(bits: &mut [u64], nbits: usize) -> Option<usize> {
    let runs = take_runs(bits, nbits, 1);
    runs.first().map(|r| r.0)
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
