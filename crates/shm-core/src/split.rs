//! Dividing work items among ranks (pydsm's `splitIndices`).

/// The indices of `0..n` that `rank` of `size` ranks should work on.
///
/// Without a seed, rank `r` gets one contiguous block, and block sizes differ
/// by at most one (the first `n % size` ranks get the larger ones). With
/// `Some(seed)`, the indices are first shuffled by a permutation that depends
/// only on `seed` and `n`, so every rank computes the same permutation and the
/// blocks still partition `0..n` exactly; shuffling balances work whose cost
/// varies along the index range. Each rank's indices are returned sorted.
///
/// Panics if `size == 0` or `rank >= size`.
///
/// ```
/// use shm_core::split_indices;
/// assert_eq!(split_indices(10, 0, 4, None), vec![0, 1, 2]);
/// assert_eq!(split_indices(10, 3, 4, None), vec![8, 9]);
/// let mut all: Vec<usize> = (0..4).flat_map(|r| split_indices(10, r, 4, Some(7))).collect();
/// all.sort();
/// assert_eq!(all, (0..10).collect::<Vec<_>>());
/// ```
pub fn split_indices(n: usize, rank: usize, size: usize, shuffle_seed: Option<u64>) -> Vec<usize> {
    assert!(
        size > 0 && rank < size,
        "rank {rank} is not below size {size}"
    );
    let (base, extra) = (n / size, n % size);
    let start = rank * base + rank.min(extra);
    let len = base + usize::from(rank < extra);
    match shuffle_seed {
        None => (start..start + len).collect(),
        Some(seed) => {
            let mut order: Vec<usize> = (0..n).collect();
            let mut rng = SplitMix64(seed);
            // Fisher-Yates with a generator whose sequence is fixed by its
            // definition, so that all ranks (and all versions) agree.
            for i in (1..n).rev() {
                let j = (rng.next() % (i as u64 + 1)) as usize;
                order.swap(i, j);
            }
            let mut mine = order[start..start + len].to_vec();
            mine.sort_unstable();
            mine
        }
    }
}

/// SplitMix64 (Steele, Lea and Flood, 2014): tiny, fully specified, good
/// enough to shuffle work.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_partition_the_range() {
        for n in [0, 1, 7, 100] {
            for size in 1..6 {
                let all: Vec<usize> = (0..size)
                    .flat_map(|r| split_indices(n, r, size, None))
                    .collect();
                assert_eq!(all, (0..n).collect::<Vec<_>>());
                let lens: Vec<usize> = (0..size)
                    .map(|r| split_indices(n, r, size, None).len())
                    .collect();
                assert!(lens.iter().max().unwrap() - lens.iter().min().unwrap() <= 1);
            }
        }
    }

    #[test]
    fn shuffled_blocks_partition_and_depend_on_seed() {
        let mut all: Vec<usize> = (0..3)
            .flat_map(|r| split_indices(50, r, 3, Some(1)))
            .collect();
        all.sort();
        assert_eq!(all, (0..50).collect::<Vec<_>>());
        assert_ne!(
            split_indices(50, 0, 3, Some(1)),
            split_indices(50, 0, 3, Some(2))
        );
        assert_eq!(
            split_indices(50, 0, 3, Some(1)),
            split_indices(50, 0, 3, Some(1))
        );
    }
}
