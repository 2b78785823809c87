//! pydsm's model: named shared arrays and named locks made before a run,
//! then every rank runs the same function with its id.

use crate::error::{PoolError, Result};
use crate::resources::Resources;
use mpi::datatype::PartitionMut;
use mpi::traits::Communicator;
use mpi::traits::Root;
use mpi_lock::MpiLock;
use ndarray::{ArrayBase, Data, Dimension};
use shm_core::{Element, MpiShared, NodeTopology, OwnedComm, Slab};
use std::any::Any;
use std::collections::BTreeMap;
use std::fmt::Display;
use std::sync::Arc;

/// pydsm's `Cluster`: shared arrays ([`MpiShared`]) and locks
/// ([`MpiLock`]) known by name, and [`run`](Self::run), which calls the
/// same function on every rank with its [`Resources`] (its id, the
/// workers' count, the named objects, static splits).
///
/// Every rank of the communicator is a worker (pydsm's `Cluster(4)` is a
/// cluster on 4 ranks); pydsm's main process is the code around `run`,
/// which every rank runs too (writes to a shared array are collective with
/// one source rank, [`MpiShared::set`]). Names belong to one cluster: two
/// clusters may both have an `"A"`, and [`close`](Self::close) (or the
/// drop) frees every array and lock, so nothing named outlives the job.
///
/// ```no_run
/// use mpi_pool::Cluster;
/// let universe = mpi::initialize().unwrap();
/// let world = universe.world();
/// let mut cluster = Cluster::new(&world)?; // collective
/// cluster.create_shared::<i64>("A", &[10])?;
/// cluster.create_lock("counter_lock")?;
/// cluster.run(|res| {
///     let mine = res.split_indices(10, None); // this worker's indices
///     let a = res.shared::<i64>("A")?;
///     let _sum: i64 = mine.iter().map(|&i| a.view()[i]).sum();
///     let _guard = res.lock("counter_lock")?.lock()?;
///     Ok::<_, mpi_pool::PoolError>(())
/// })?;
/// cluster.close()?;
/// # Ok::<(), mpi_pool::PoolError>(())
/// ```
pub struct Cluster {
    arrays: BTreeMap<String, Box<dyn NamedArray>>,
    locks: BTreeMap<String, MpiLock>,
    /// The nodes the arrays are replicated on.
    topology: Arc<NodeTopology>,
    // Last: the arrays and locks are freed before their communicator.
    comm: OwnedComm,
}

impl std::fmt::Debug for Cluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cluster")
            .field("rank", &self.comm.rank())
            .field("arrays", &self.arrays.keys().collect::<Vec<_>>())
            .field("locks", &self.locks.keys().collect::<Vec<_>>())
            .finish()
    }
}

/// A shared array of any element type, as the cluster keeps it.
trait NamedArray {
    fn as_any(&self) -> &dyn Any;
    fn as_any_mut(&mut self) -> &mut dyn Any;
    fn close(self: Box<Self>) -> shm_core::Result<()>;
}

impl<T: Element> NamedArray for MpiShared<T> {
    fn as_any(&self) -> &dyn Any {
        self
    }
    fn as_any_mut(&mut self) -> &mut dyn Any {
        self
    }
    fn close(self: Box<Self>) -> shm_core::Result<()> {
        MpiShared::close(*self)
    }
}

/// The error for a name that holds no object of the asked kind.
fn no_such(what: String, name: &str) -> PoolError {
    PoolError::NoSuchName {
        what,
        name: name.to_string(),
    }
}

impl Cluster {
    /// A cluster over `comm`, with no arrays or locks yet (collective; the
    /// cluster works on a duplicate of `comm`).
    pub fn new<C: Communicator + ?Sized>(comm: &C) -> Result<Cluster> {
        let comm = OwnedComm::duplicate(comm)?;
        let topology = NodeTopology::of(comm.communicator())?;
        Ok(Cluster {
            arrays: BTreeMap::new(),
            locks: BTreeMap::new(),
            topology,
            comm,
        })
    }

    /// A cluster whose arrays are replicated on the nodes of `topology`
    /// (collective over its communicator): for node layouts of the
    /// caller's own ([`NodeTopology::with_node_comm`]), such as emulated
    /// nodes on one machine.
    pub fn with_topology(topology: Arc<NodeTopology>) -> Result<Cluster> {
        let comm = OwnedComm::duplicate(topology.comm().communicator())?;
        Ok(Cluster {
            arrays: BTreeMap::new(),
            locks: BTreeMap::new(),
            topology,
            comm,
        })
    }

    /// This rank's worker id (its rank in the communicator).
    pub fn id(&self) -> usize {
        self.comm.rank() as usize
    }

    /// The number of workers (the communicator's size).
    pub fn workers(&self) -> usize {
        self.comm.size() as usize
    }

    /// Checks, on every rank together, that `name` is new and the same on
    /// every rank (collective).
    fn agree_on_new_name(&self, name: &str) -> Result<()> {
        self.comm
            .agree_same("the names of a new shared object", &[name_digest(name)])?;
        let taken = self.arrays.contains_key(name) || self.locks.contains_key(name);
        let local = match taken {
            true => Err(PoolError::NameTaken(name.to_string()).to_string()),
            false => Ok(()),
        };
        match self.comm.agree(local) {
            // Every rank has the same name here: the same typed error.
            Err(shm_core::Error::Invalid { .. }) => Err(PoolError::NameTaken(name.to_string())),
            other => Ok(other?),
        }
    }

    /// Creates a zeroed shared array of `shape` named `name` (collective,
    /// pydsm's `createShared`): one copy per node, which every rank of the
    /// node reads without copying ([`MpiShared`]). A name already used in
    /// this cluster, or names, shapes or element types that differ between
    /// the ranks, are the same error on every rank.
    pub fn create_shared<T: Element>(&mut self, name: &str, shape: &[usize]) -> Result<()> {
        self.agree_on_new_name(name)?;
        let array = MpiShared::<T>::with_topology(shape, Arc::clone(&self.topology))?;
        self.arrays.insert(name.to_string(), Box::new(array));
        Ok(())
    }

    /// Creates a lock named `name` (collective, pydsm's `createLock`): an
    /// [`MpiLock`] over the cluster's ranks, with its waiting list on rank
    /// 0. A name already used is the same error on every rank.
    pub fn create_lock(&mut self, name: &str) -> Result<()> {
        self.agree_on_new_name(name)?;
        let lock = MpiLock::new(self.comm.communicator())?;
        self.locks.insert(name.to_string(), lock);
        Ok(())
    }

    /// The shared array named `name`, whose elements are `T`
    /// ([`PoolError::NoSuchName`] if there is none).
    pub fn shared<T: Element>(&self, name: &str) -> Result<&MpiShared<T>> {
        self.arrays
            .get(name)
            .and_then(|a| a.as_any().downcast_ref())
            .ok_or_else(|| no_such(format!("shared array of {}", T::NAME), name))
    }

    /// The shared array named `name`, for the collective writes
    /// ([`MpiShared::set`], [`MpiShared::assign`], [`set_each`](Self::set_each)).
    pub fn shared_mut<T: Element>(&mut self, name: &str) -> Result<&mut MpiShared<T>> {
        self.arrays
            .get_mut(name)
            .and_then(|a| a.as_any_mut().downcast_mut())
            .ok_or_else(|| no_such(format!("shared array of {}", T::NAME), name))
    }

    /// The lock named `name` ([`PoolError::NoSuchName`] if there is none).
    /// pydsm's `lock.apply()` is [`MpiLock::lock`]; its `release()` is the
    /// guard's `unlock` (or its drop).
    pub fn lock(&self, name: &str) -> Result<&MpiLock> {
        self.locks
            .get(name)
            .ok_or_else(|| no_such("lock".to_string(), name))
    }

    /// `MPI_Barrier` over the cluster (pydsm's `Cluster.barrier()`).
    pub fn barrier(&self) -> Result<()> {
        Ok(self.comm.barrier()?)
    }

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

    /// Runs `work` on every rank with its [`Resources`] (collective,
    /// pydsm's `runProcesses`), and returns this rank's value once every
    /// rank has finished.
    ///
    /// When `work` returns an error on some rank, every rank returns
    /// [`PoolError::WorkerFailed`] naming the lowest failing rank and its
    /// error's text. A rank that fails *before* a collective call that the
    /// others then make (a [`set_each`](Self::set_each), a barrier) leaves
    /// them waiting in it, as in any MPI program: fail on all ranks or on
    /// none before such calls.
    pub fn run<R, E: Display>(
        &mut self,
        work: impl FnOnce(&mut Resources<'_>) -> std::result::Result<R, E>,
    ) -> Result<R> {
        let outcome = work(&mut Resources::new(self));
        let local = outcome.as_ref().map(|_| ()).map_err(|e| e.to_string());
        match self.comm.agree(local) {
            Ok(()) => {
                Ok(outcome.unwrap_or_else(|_| unreachable!("agreed that every rank succeeded")))
            }
            Err(shm_core::Error::Invalid {
                rank: Some(rank),
                message,
            }) => Err(PoolError::WorkerFailed { rank, message }),
            Err(e) => Err(e.into()),
        }
    }

    /// Frees every array and lock (collective), reporting the first error;
    /// dropping the cluster does the same but cannot report errors.
    pub fn close(mut self) -> Result<()> {
        let mut first = Ok(());
        // In name order, the same on every rank (each close is collective).
        for (_, array) in std::mem::take(&mut self.arrays) {
            let closed = array.close().map_err(PoolError::from);
            first = first.and(closed);
        }
        for (_, lock) in std::mem::take(&mut self.locks) {
            first = first.and(lock.close().map_err(PoolError::from));
        }
        first
    }
}

/// A digest of a name, the same on every rank (`DefaultHasher::new` has
/// fixed keys, and every rank runs the same executable).
fn name_digest(name: &str) -> i64 {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    name.hash(&mut hasher);
    hasher.finish() as i64
}
