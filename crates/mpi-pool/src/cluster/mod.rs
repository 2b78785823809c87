//! pydsm's model: named shared arrays and named locks made before a run,
//! then every rank runs the same function with its id.

mod writes;

use crate::error::{PoolError, Result};
use crate::resources::Resources;
use mpi::traits::Communicator;
use mpi_lock::MpiLock;
use shm_core::{Element, MpiShared, NodeTopology, OwnedComm};
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
