//! The workers' collective writes to a named shared array: a contiguous
//! slab per rank ([`Cluster::set_each`]) or scattered indices
//! ([`Cluster::set_at`]).

use super::Cluster;
use crate::error::Result;
use mpi::datatype::PartitionMut;
use mpi::traits::{Communicator, Root};
use ndarray::{ArrayBase, Data, Dimension};
use shm_core::{Element, Slab};

impl Cluster {
    /// Every rank writes its own slab `data` at `offset` into the shared
    /// array `name` (collective): pydsm's `C[myidxs] = ...` run by each
    /// worker at once.
    ///
    /// A shared array is written only by collective calls with one source
    /// rank ([`MpiShared::set`]): a write by one process while another
    /// reads the node copy would break the promise of [`MpiShared::view`].
    /// So the ranks first exchange where their slabs go (one
    /// `MPI_Allgather`), then make one `set` per rank that has a non-empty
    /// slab, in rank order; when it returns, every rank of every node sees
    /// every slab. Ranks with nothing to write pass an empty array; where
    /// slabs overlap, the higher rank's values stay. An unknown name, an
    /// offset or slab of the wrong dimension, or a slab out of bounds (on
    /// any rank) is the same error on every rank, and nothing is written.
    ///
    /// [`MpiShared::set`]: shm_core::MpiShared::set
    /// [`MpiShared::view`]: shm_core::MpiShared::view
    pub fn set_each<T, S, D>(
        &mut self,
        name: &str,
        data: &ArrayBase<S, D>,
        offset: &[usize],
    ) -> Result<()>
    where
        T: Element,
        S: Data<Elem = T>,
        D: Dimension,
    {
        let dims = self.shared::<T>(name).map(|a| a.shape().len());
        let local = match dims {
            Err(e) => Err(e.to_string()),
            Ok(d) if offset.len() != d || data.ndim() != d => Err(format!(
                "set_each on {name:?} ({d} dimensions) got an offset of {} and a slab of {}",
                offset.len(),
                data.ndim()
            )),
            Ok(_) => Ok(()),
        };
        self.comm.agree(local)?;
        // Every rank's [non-empty, offset, slab shape], so that every rank
        // checks every slab before anything is written.
        let mut mine = vec![i64::from(!data.is_empty())];
        mine.extend(offset.iter().map(|&o| o as i64));
        mine.extend(data.shape().iter().map(|&n| n as i64));
        let all = self.comm.all_gather(&mine)?;
        let me = self.comm.rank();
        let array = self.shared_mut::<T>(name)?;
        let d = offset.len();
        let slabs: Vec<(i32, Vec<usize>)> = all
            .chunks(mine.len())
            .enumerate()
            .filter(|(_, row)| row[0] != 0)
            .map(|(rank, row)| (rank as i32, row[1..].iter().map(|&x| x as usize).collect()))
            .collect();
        for (rank, row) in &slabs {
            let (at, len) = row.split_at(d);
            let fits = (0..d).all(|k| {
                at[k]
                    .checked_add(len[k])
                    .is_some_and(|end| end <= array.shape()[k])
            });
            if !fits {
                return Err(shm_core::Error::Invalid {
                    rank: Some(*rank),
                    message: format!(
                        "set_each on {name:?} of shape {:?}: the slab of shape {len:?} at {at:?} does not fit",
                        array.shape()
                    ),
                }
                .into());
            }
        }
        for (rank, row) in &slabs {
            array.set((*rank == me).then_some(data), &row[..d], *rank)?;
        }
        Ok(())
    }

    /// Every rank writes `values` at `indices` of the one-dimensional
    /// shared array `name` (collective): pydsm's `C[myidxs] = ...` for any
    /// split, the shuffled ones of
    /// [`Resources::split_indices`](crate::Resources::split_indices)
    /// included, where [`set_each`](Self::set_each) needs contiguous
    /// blocks.
    ///
    /// Rank 0 gathers every rank's indices and values (`MPI_Gatherv`),
    /// applies them to a copy of the array in rank order (where indices
    /// repeat, the higher rank's value stays), and writes the whole array
    /// with one [`MpiShared::set`]: one replication of the array, and a
    /// copy of it on rank 0. An unknown name, an array of more than one
    /// dimension, indices and values of different lengths, an index out of
    /// bounds, or more than `i32::MAX` pairs in all (MPI's count) is the
    /// same error on every rank, and nothing is written.
    ///
    /// [`MpiShared::set`]: shm_core::MpiShared::set
    pub fn set_at<T: Element>(
        &mut self,
        name: &str,
        indices: &[usize],
        values: &[T],
    ) -> Result<()> {
        let layout = self.shared::<T>(name).map(|a| (a.shape().len(), a.len()));
        let local = match layout {
            Err(e) => Err(e.to_string()),
            Ok((d, _)) if d != 1 => Err(format!(
                "set_at needs a one-dimensional array, and {name:?} has {d} dimensions"
            )),
            Ok(_) if indices.len() != values.len() => Err(format!(
                "set_at on {name:?} got {} indices and {} values",
                indices.len(),
                values.len()
            )),
            Ok((_, n)) => match indices.iter().find(|&&i| i >= n) {
                Some(i) => Err(format!(
                    "set_at on {name:?}: index {i} is out of bounds for length {n}"
                )),
                None => Ok(()),
            },
        };
        self.comm.agree(local)?;
        let counts = self.comm.all_gather(&[indices.len() as i64])?;
        let total: i64 = counts.iter().sum();
        if total > i64::from(i32::MAX) {
            return Err(shm_core::Error::Invalid {
                rank: None,
                message: format!(
                    "set_at on {name:?}: {total} pairs in all, more than MPI_Gatherv counts (i32::MAX)"
                ),
            }
            .into());
        }
        let indices: Vec<u64> = indices.iter().map(|&i| i as u64).collect();
        let comm = self.comm.communicator();
        let root = comm.process_at_rank(0);
        let whole = if comm.rank() == 0 {
            // Fits in i32: checked above.
            let counts: Vec<i32> = counts.iter().map(|&c| c as i32).collect();
            let displs: Vec<i32> = counts
                .iter()
                .scan(0, |at, &c| {
                    let d = *at;
                    *at += c;
                    Some(d)
                })
                .collect();
            let mut all_indices = vec![0u64; total as usize];
            let mut all_values = vec![bytemuck::Zeroable::zeroed(); total as usize];
            root.gather_varcount_into_root(
                &indices[..],
                &mut PartitionMut::new(&mut all_indices[..], &counts[..], &displs[..]),
            );
            root.gather_varcount_into_root(
                values,
                &mut PartitionMut::new(&mut all_values[..], &counts[..], &displs[..]),
            );
            let mut whole: Vec<T> = self.shared::<T>(name)?.view().iter().copied().collect();
            for (&i, v) in all_indices.iter().zip(all_values) {
                whole[i as usize] = v;
            }
            Some(whole)
        } else {
            root.gather_varcount_into(&indices[..]);
            root.gather_varcount_into(values);
            None
        };
        let array = self.shared_mut::<T>(name)?;
        match &whole {
            Some(whole) => array.set(whole, &[0], 0)?,
            None => array.set(Slab::none(), &[0], 0)?,
        }
        Ok(())
    }
}
