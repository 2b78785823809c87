//! Where a rectangular slab of an n-dimensional C-order array lies in memory.

/// A slab `offset .. offset + extent` of an array of `shape`, seen as a
/// sequence of equally long contiguous runs in the array's flat memory.
///
/// The runs start at the first dimension `k` after which the slab covers
/// every remaining dimension in full; a run is `extent[k]` rows of the
/// trailing dimensions. Copying run by run keeps large slabs at `memcpy`
/// speed.
#[derive(Debug, Clone)]
pub(crate) struct SlabGeometry {
    strides: Vec<usize>,
    offset: Vec<usize>,
    extent: Vec<usize>,
    /// First dimension of a run.
    k: usize,
    run_len: usize,
    len: usize,
}

impl SlabGeometry {
    /// The caller has checked `offset[d] + extent[d] <= shape[d]` for all `d`.
    pub(crate) fn new(shape: &[usize], offset: &[usize], extent: &[usize]) -> Self {
        let ndim = shape.len();
        let mut strides = vec![1usize; ndim];
        for d in (0..ndim.saturating_sub(1)).rev() {
            strides[d] = strides[d + 1] * shape[d + 1];
        }
        let mut k = ndim.saturating_sub(1);
        while k > 0 && extent[k] == shape[k] {
            k -= 1;
        }
        let run_len = if ndim == 0 { 1 } else { extent[k] * strides[k] };
        SlabGeometry {
            strides,
            offset: offset.to_vec(),
            extent: extent.to_vec(),
            k,
            run_len,
            len: extent.iter().product(),
        }
    }

    /// Number of elements in the slab.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// `true` when the whole slab is one contiguous run.
    pub(crate) fn is_contiguous(&self) -> bool {
        self.len == self.run_len || self.len == 0
    }

    /// Flat index of the first element of run `run`.
    pub(crate) fn run_origin(&self, mut run: usize) -> usize {
        let mut at = 0;
        for d in (0..self.k).rev() {
            let i = run % self.extent[d];
            run /= self.extent[d];
            at += (self.offset[d] + i) * self.strides[d];
        }
        if !self.strides.is_empty() {
            at += self.offset[self.k] * self.strides[self.k];
        }
        at
    }

    /// Calls `f(flat_index, slab_index, count)` for each contiguous piece of
    /// slab elements `start .. start + count` (in C order of the slab).
    pub(crate) fn for_each_piece(
        &self,
        start: usize,
        count: usize,
        mut f: impl FnMut(usize, usize, usize),
    ) {
        let end = start + count;
        let mut i = start;
        while i < end {
            let (run, within) = (i / self.run_len, i % self.run_len);
            let n = (self.run_len - within).min(end - i);
            f(self.run_origin(run) + within, i, n);
            i += n;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flat_indices(shape: &[usize], offset: &[usize], extent: &[usize]) -> Vec<usize> {
        let layout = SlabGeometry::new(shape, offset, extent);
        let mut out = Vec::new();
        layout.for_each_piece(0, layout.len(), |flat, _, n| out.extend(flat..flat + n));
        out
    }

    #[test]
    fn slab_of_a_matrix() {
        // rows 1..3, columns 1..4 of a 3x5 matrix
        assert_eq!(
            flat_indices(&[3, 5], &[1, 1], &[2, 3]),
            vec![6, 7, 8, 11, 12, 13]
        );
    }

    #[test]
    fn full_trailing_dims_merge_into_one_run() {
        let layout = SlabGeometry::new(&[4, 2, 3], &[1, 0, 0], &[2, 2, 3]);
        assert!(layout.is_contiguous());
        assert_eq!(
            flat_indices(&[4, 2, 3], &[1, 0, 0], &[2, 2, 3]),
            (6..18).collect::<Vec<_>>()
        );
    }

    #[test]
    fn pieces_split_at_run_boundaries() {
        let layout = SlabGeometry::new(&[3, 5], &[0, 2], &[3, 2]);
        let mut pieces = Vec::new();
        layout.for_each_piece(1, 4, |flat, slab, n| pieces.push((flat, slab, n)));
        assert_eq!(pieces, vec![(3, 1, 1), (7, 2, 2), (12, 4, 1)]);
    }

    #[test]
    fn scalars_and_empty_slabs() {
        assert_eq!(flat_indices(&[], &[], &[]), vec![0]);
        assert_eq!(flat_indices(&[3, 0], &[0, 0], &[3, 0]), Vec::<usize>::new());
    }
}
