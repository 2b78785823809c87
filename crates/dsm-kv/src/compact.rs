//! The kernel of `filter`: moves the elements a predicate keeps to the
//! front of a run, in order, on a local buffer (the RMA path) or in place in
//! a host's memory (the direct path).
//!
//! A scalar compaction stores every element at the free place and advances
//! the place by one when the element is kept: branch-free (a branch per
//! element would mispredict on an unpredictable filter), but each store
//! waits for the previous element's advance, about a cycle per element,
//! slower than copying the list. With AVX2 the kernel works 64 elements at a
//! time instead: the predicate's answers first, in a loop the compiler
//! vectorises when the predicate is simple; then each group of 4 elements
//! is permuted so that its kept ones come first (one table lookup of the
//! group's 4-bit mask) and stored whole at the free place, which advances by
//! the group's count. The chain is then one add per 4 elements.

/// Elements whose answers are gathered before any is moved.
const BLOCK: usize = 64;

/// Stores the elements of `src..src + len` for which `keep` is `true` at
/// `dst`, `dst + 1`, ..., in order, and returns how many there are. `keep`
/// sees every element once, in order. The places of `dst..dst + len` after
/// the kept ones hold unspecified elements of the run.
///
/// # Safety
/// `src` is valid for reads and `dst` for writes of `len` elements, no other
/// process or reference accesses either meanwhile, and the two ranges are
/// either disjoint or `dst` is not after `src` (a store never reaches an
/// element not yet read: the free place trails the element being read).
pub(crate) unsafe fn compact_raw(
    src: *const i64,
    dst: *mut i64,
    len: usize,
    keep: &mut impl FnMut(i64) -> bool,
) -> usize {
    #[cfg(target_arch = "x86_64")]
    if is_x86_feature_detected!("avx2") && is_x86_feature_detected!("popcnt") {
        // SAFETY: the CPU has the features the kernel is compiled for; the
        // ranges are the caller's (same contract).
        return unsafe { avx2::compact(src, dst, len, keep) };
    }
    // SAFETY: the caller's contract.
    unsafe { scalar(src, dst, len, keep) }
}

/// [`compact_raw`] on a slice of local memory, in place.
pub(crate) fn compact(values: &mut [i64], keep: &mut impl FnMut(i64) -> bool) -> usize {
    let p = values.as_mut_ptr();
    // SAFETY: one exclusively borrowed slice, read and written through the
    // same pointer (so `dst` is not after `src`).
    unsafe { compact_raw(p, p, values.len(), keep) }
}

/// The one-element-at-a-time compaction: the fallback, and the tail of a
/// run that is not a whole number of blocks.
///
/// # Safety
/// As [`compact_raw`].
unsafe fn scalar(
    src: *const i64,
    dst: *mut i64,
    len: usize,
    keep: &mut impl FnMut(i64) -> bool,
) -> usize {
    let mut n = 0;
    for i in 0..len {
        // SAFETY: `n <= i < len`: inside both ranges; element `i` is read
        // before the store to place `n`, which is at or before it.
        unsafe {
            let x = src.add(i).read();
            dst.add(n).write(x);
            n += usize::from(keep(x));
        }
    }
    n
}

#[cfg(target_arch = "x86_64")]
mod avx2 {
    use super::{scalar, BLOCK};
    use std::arch::x86_64::*;

    /// For each 4-bit mask of kept elements, the 32-bit lanes that bring
    /// them (two lanes per element) to the front of a 256-bit vector, in
    /// order.
    static FRONT: [[i32; 8]; 16] = {
        let mut table = [[0; 8]; 16];
        let mut mask = 0;
        while mask < 16 {
            let (mut to, mut from) = (0, 0);
            while from < 4 {
                if mask >> from & 1 == 1 {
                    table[mask][2 * to] = 2 * from;
                    table[mask][2 * to + 1] = 2 * from + 1;
                    to += 1;
                }
                from += 1;
            }
            mask += 1;
        }
        table
    };

    /// [`super::compact_raw`] with AVX2.
    ///
    /// # Safety
    /// The CPU has AVX2 and POPCNT; otherwise as [`super::compact_raw`].
    #[target_feature(enable = "avx2,popcnt")]
    pub(super) unsafe fn compact(
        src: *const i64,
        dst: *mut i64,
        len: usize,
        keep: &mut impl FnMut(i64) -> bool,
    ) -> usize {
        let (mut n, mut i) = (0, 0);
        while i + BLOCK <= len {
            // SAFETY: `i + BLOCK <= len`.
            let mut mask = unsafe { kept_mask(src.add(i), keep) };
            for group in (i..i + BLOCK).step_by(4) {
                let quad = (mask & 15) as usize;
                // The store covers places `n..n + 4`: inside `dst`'s range
                // since `n <= group`, and, when the ranges overlap (`dst` not
                // after `src`), at or before this group's elements, all read
                // by the load just before it.
                // SAFETY: `group + 4 <= len` (load inside `src`'s range);
                // the store as above; unaligned accesses; `FRONT` rows are
                // 32 bytes.
                unsafe {
                    let v = _mm256_loadu_si256(src.add(group).cast());
                    let lanes = _mm256_loadu_si256(FRONT[quad].as_ptr().cast());
                    let front = _mm256_permutevar8x32_epi32(v, lanes);
                    _mm256_storeu_si256(dst.add(n).cast(), front);
                }
                n += quad.count_ones() as usize;
                mask >>= 4;
            }
            i += BLOCK;
        }
        // SAFETY: the rest of both ranges, `n <= i`, as the contract.
        n + unsafe { scalar(src.add(i), dst.add(n), len - i, keep) }
    }

    /// Bit `j` set when `keep` keeps element `j` of the block at `at`.
    ///
    /// # Safety
    /// `at` is valid for reads of [`BLOCK`] elements that nothing writes
    /// meanwhile.
    #[target_feature(enable = "avx2,popcnt")]
    unsafe fn kept_mask(at: *const i64, keep: &mut impl FnMut(i64) -> bool) -> u64 {
        let mut answers = [0u8; BLOCK];
        for (j, answer) in answers.iter_mut().enumerate() {
            // SAFETY: `j < BLOCK`, inside the block.
            *answer = u8::from(keep(unsafe { at.add(j).read() }));
        }
        let bits = |half: &[u8]| {
            // SAFETY: `half` is 32 bytes (unaligned load); the feature is
            // enabled on this function.
            let v = unsafe { _mm256_loadu_si256(half.as_ptr().cast()) };
            let dropped = _mm256_movemask_epi8(_mm256_cmpeq_epi8(v, _mm256_setzero_si256()));
            u64::from(!(dropped as u32))
        };
        bits(&answers[..32]) | bits(&answers[32..]) << 32
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The kept elements of `values`, by the obvious method.
    fn reference(values: &[i64], keep: impl Fn(i64) -> bool) -> Vec<i64> {
        values.iter().copied().filter(|&x| keep(x)).collect()
    }

    /// A predicate with no pattern a block could line up with.
    fn scattered(x: i64) -> bool {
        (x as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 61 < 3
    }

    #[test]
    fn compact_keeps_the_kept_in_order() {
        let mut v: Vec<i64> = (0..10).collect();
        assert_eq!(compact(&mut v, &mut |x| x % 3 == 0), 4);
        assert_eq!(v[..4], [0, 3, 6, 9]);
        let mut v = vec![1, 2, 3];
        assert_eq!(compact(&mut v, &mut |_| true), 3);
        assert_eq!(v, [1, 2, 3]);
        assert_eq!(compact(&mut v, &mut |_| false), 0);
        assert_eq!(compact(&mut [], &mut |_| true), 0);
    }

    #[test]
    fn every_length_and_pattern_matches_the_reference() {
        let preds: [fn(i64) -> bool; 5] = [
            |x| x % 2 == 0,
            |_| true,
            |_| false,
            |x| x % 67 == 3,
            scattered,
        ];
        for len in (0..300).chain([4096, 4099]) {
            let values: Vec<i64> = (0..len).map(|x| x * 7 - 5).collect();
            for keep in preds {
                let want = reference(&values, keep);
                let mut v = values.clone();
                let mut seen = Vec::new();
                let n = compact(&mut v, &mut |x| {
                    seen.push(x);
                    keep(x)
                });
                assert_eq!(v[..n], want, "len {len}");
                assert_eq!(seen, values, "every element once, in order");
                let mut v = values.clone();
                let p = v.as_mut_ptr();
                // SAFETY: one local buffer, `dst == src`.
                let n = unsafe { scalar(p, p, v.len(), &mut |x| keep(x)) };
                assert_eq!(v[..n], want, "scalar, len {len}");
            }
        }
    }

    #[test]
    fn a_destination_before_the_source_in_one_buffer() {
        // The direct path compacts an extent into the free places of the
        // same extent, or of an earlier one: `dst` trails `src` by any gap.
        for gap in 0..9 {
            for len in [0, 5, 64, 130, 1000] {
                let mut buf: Vec<i64> = (0..(gap + len) as i64).collect();
                let want = reference(&buf[gap..], scattered);
                let p = buf.as_mut_ptr();
                // SAFETY: both ranges inside `buf`, `dst` before `src`.
                let n = unsafe { compact_raw(p.add(gap), p, len, &mut scattered) };
                assert_eq!(buf[..n], want, "gap {gap}, len {len}");
            }
        }
    }

    #[test]
    fn a_disjoint_destination_keeps_its_bounds() {
        let values: Vec<i64> = (0..200).collect();
        // One guard element after the destination must survive.
        let mut out = vec![-1i64; 201];
        // SAFETY: disjoint ranges of 200 elements.
        let n = unsafe { compact_raw(values.as_ptr(), out.as_mut_ptr(), 200, &mut |x| x % 2 == 1) };
        assert_eq!(out[..n], reference(&values, |x| x % 2 == 1));
        assert_eq!(out[200], -1);
    }
}
