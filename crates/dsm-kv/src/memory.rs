//! The distributed memory: creation, queries and the end. The operations on
//! variables are in [`crate::ops`].

use crate::config::{Access, Config};
use crate::error::{Error, Result};
use crate::hosts::Hosts;
use crate::value::{Extent, Var};
use mpi::topology::Communicator;
use shm_core::OwnedComm;
use std::rc::Rc;

/// A distributed memory of `i64` and lists of `i64`.
///
/// Created on every rank by [`DistributedMemory::new`] (the seed's
/// [`init_memory`]); see the [crate documentation](crate) for the model.
/// Operations are one-sided: any rank may call any of them at any time, the
/// hosts need not take part. [`close`](Self::close) (the seed's
/// [`quit`](Self::quit)), or dropping the memory, is collective.
///
/// Not `Send` or `Sync` (it holds MPI windows).
pub struct DistributedMemory {
    // Field order matters: the windows are freed before the communicator
    // (which the hosts share, for MPI progress while they wait).
    pub(crate) hosts: Hosts,
    comm: Rc<OwnedComm>,
}

impl std::fmt::Debug for DistributedMemory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DistributedMemory")
            .field("rank", &self.comm.rank())
            .field("hosts", &self.hosts())
            .field("max_per_slave", &self.hosts.layout.slots)
            .field("vars_per_slave", &self.hosts.layout.descriptors)
            .finish()
    }
}

/// Creates the distributed memory (collective over `comm`): every rank but
/// rank 0 (the master) lends `max_per_slave` `i64` slots. The seed's name
/// for [`DistributedMemory::new`] with [`Config::new`]`(max_per_slave)`.
///
/// Needs at least two processes ([`Error::TooFewProcesses`] on every rank
/// otherwise). Every rank must pass the same value.
#[doc(alias = "new")]
pub fn init_memory<C: Communicator + ?Sized>(
    comm: &C,
    max_per_slave: usize,
) -> Result<DistributedMemory> {
    DistributedMemory::new(comm, Config::new(max_per_slave))
}

/// [`init_memory`] with every setting: the same as
/// [`DistributedMemory::new`].
#[doc(alias = "new")]
pub fn init_memory_with<C: Communicator + ?Sized>(
    comm: &C,
    config: Config,
) -> Result<DistributedMemory> {
    DistributedMemory::new(comm, config)
}

impl DistributedMemory {
    /// Creates the distributed memory (collective over `comm`): every rank
    /// but rank 0 (the master) lends `config.max_per_slave` `i64` slots.
    /// The seed calls it [`init_memory`].
    ///
    /// Needs at least two processes ([`Error::TooFewProcesses`] on every
    /// rank otherwise). Every rank must pass the same configuration
    /// ([`Error::Config`] on every rank otherwise, as for sizes too large).
    ///
    /// ```no_run
    /// use dsm_kv::{Config, DistributedMemory};
    /// let universe = mpi::initialize().unwrap();
    /// let mem = DistributedMemory::new(&universe.world(), Config::new(1000))?;
    /// if mem.is_master() {
    ///     let var = mem.add(vec![1, 2, 3])?;
    ///     assert_eq!(mem.len(&var)?, 3);
    /// }
    /// mem.close()?;
    /// # Ok::<(), dsm_kv::Error>(())
    /// ```
    #[doc(alias = "init_memory")]
    #[doc(alias = "init_memory_with")]
    pub fn new<C: Communicator + ?Sized>(comm: &C, config: Config) -> Result<DistributedMemory> {
        Self::create(comm, config, Access::from_env())
    }

    /// [`new`](Self::new) with the path to the hosts' data chosen by the
    /// caller instead of `DSM_KV_ACCESS`: [`Access::Mixed`] takes the path
    /// of a memory that spans nodes even when the ranks share one, and
    /// [`Access::Rma`] keeps every access on one-sided communication.
    /// Collective; when the ranks differ in `access`, none takes the direct
    /// path, and each rank maps hosts' data unless its own is
    /// [`Access::Rma`].
    ///
    /// ```no_run
    /// use dsm_kv::{Access, Config, DistributedMemory};
    /// let universe = mpi::initialize().unwrap();
    /// let mem = DistributedMemory::with_access(&universe.world(), Config::new(10), Access::Rma)?;
    /// assert!(!mem.is_direct());
    /// mem.close()?;
    /// # Ok::<(), dsm_kv::Error>(())
    /// ```
    pub fn with_access<C: Communicator + ?Sized>(
        comm: &C,
        config: Config,
        access: Access,
    ) -> Result<DistributedMemory> {
        Self::create(comm, config, Ok(access))
    }

    fn create<C: Communicator + ?Sized>(
        comm: &C,
        config: Config,
        access: std::result::Result<Access, String>,
    ) -> Result<DistributedMemory> {
        let comm = Rc::new(OwnedComm::duplicate(comm)?);
        let size = comm.size();
        if size < 2 {
            return Err(Error::TooFewProcesses { size });
        }
        let layout = config.layout(size);
        let checked = layout.clone().map(|_| ()).and(access.clone().map(|_| ()));
        comm.agree(checked).map_err(|e| match e {
            shm_core::Error::Invalid { message, .. } => Error::Config(message),
            other => Error::Core(other),
        })?;
        // Every rank must ask for the same sizes.
        let (s, d) = (config.max_per_slave as i64, config.descriptors() as i64);
        let mut minmax = [s, -s, d, -d];
        comm.all_reduce_min(&mut minmax)?;
        if minmax[0] != -minmax[1] || minmax[2] != -minmax[3] {
            return Err(Error::Config(format!(
                "the ranks disagree on the sizes: max_per_slave from {} to {}, vars_per_slave from {} to {}",
                minmax[0], -minmax[1], minmax[2], -minmax[3]
            )));
        }
        let layout = layout.expect("agreed above");
        let hosts = Hosts::allocate(&comm, layout, access.expect("agreed above"))?;
        Ok(DistributedMemory { hosts, comm })
    }

    /// `true` when this memory moves list elements and integer values to and
    /// from its hosts by loads and stores (every rank on one node, unified
    /// memory model, [`Access::Auto`]); `false` when it uses one-sided
    /// communication. The same on every rank.
    pub fn is_direct(&self) -> bool {
        self.hosts.is_direct()
    }

    /// How many hosts this rank reaches by loads and stores for list
    /// elements and integer values: every host on a direct memory
    /// ([`is_direct`](Self::is_direct)); on a memory that spans nodes
    /// ([`Access::Mixed`]), the co-located hosts whose memory MPI maps into
    /// this process, which may differ from rank to rank; `0` with
    /// [`Access::Rma`] or an MPI that maps no other process's window memory.
    ///
    /// ```no_run
    /// use dsm_kv::{Access, Config, DistributedMemory};
    /// let universe = mpi::initialize().unwrap();
    /// let mem = DistributedMemory::with_access(&universe.world(), Config::new(10), Access::Mixed)?;
    /// println!("rank {}: {} hosts by loads and stores", mem.rank(), mem.mapped_hosts());
    /// mem.close()?;
    /// # Ok::<(), dsm_kv::Error>(())
    /// ```
    pub fn mapped_hosts(&self) -> usize {
        self.hosts.hosts_mapped()
    }

    /// This process's rank (in the communicator the memory was created on).
    pub fn rank(&self) -> i32 {
        self.comm.rank()
    }

    /// `true` on rank 0, the master.
    pub fn is_master(&self) -> bool {
        self.rank() == 0
    }

    /// The number of hosts (every rank but the master).
    pub fn hosts(&self) -> usize {
        self.hosts.count()
    }

    /// The slots lent by each host ([`Config::max_per_slave`]).
    #[doc(alias = "max_per_slave")]
    pub fn slots_per_host(&self) -> usize {
        self.hosts.layout.slots
    }

    /// The slots lent by each host: the seed's name for
    /// [`slots_per_host`](Self::slots_per_host).
    #[doc(alias = "slots_per_host")]
    pub fn max_per_slave(&self) -> usize {
        self.slots_per_host()
    }

    /// The slots of the whole memory (`hosts() * slots_per_host()`).
    pub fn capacity(&self) -> usize {
        self.hosts() * self.slots_per_host()
    }

    /// The slots free now, in the whole memory. Exact when no allocation or
    /// free is in progress on another rank. An integer takes one slot, a list
    /// one per element.
    pub fn free_slots(&self) -> Result<usize> {
        self.hosts.free_slots()
    }

    /// The variables that can still be created on all hosts together (free
    /// descriptors).
    pub fn free_descriptors(&self) -> Result<usize> {
        let mut free = 0;
        for host in self.hosts.ranks() {
            free += self.hosts.free_descriptors_on(host)?;
        }
        Ok(free)
    }

    /// The number of elements of a variable (1 for an integer).
    ///
    /// [`Error::Freed`] when the variable was freed.
    pub fn len(&self, var: &Var) -> Result<usize> {
        self.hosts
            .with_pinned(var, |placement, _| Ok(placement.len))?
            .ok_or(Error::Freed(*var))
    }

    /// Where the elements of a list are: its extents in list order (for an
    /// integer, the slot it reserves).
    ///
    /// [`Error::Freed`] when the variable was freed.
    pub fn placement(&self, var: &Var) -> Result<Vec<Extent>> {
        self.hosts
            .with_pinned(var, |placement, _| Ok(placement.extents.clone()))?
            .ok_or(Error::Freed(*var))
    }

    /// Ends the memory (collective): waits for every rank, then frees the
    /// windows. The hosts of a master-driven program just call this and
    /// wait. The seed calls it [`quit`](Self::quit).
    ///
    /// On a direct memory nobody needs the hosts' MPI progress, so they
    /// wait asleep between checks
    /// ([`OwnedComm::barrier_idle`](shm_core::OwnedComm::barrier_idle)) and
    /// leave the cores to the master. On the RMA path they wait in
    /// `MPI_Barrier`, whose polling is the progress that some
    /// implementations need at a passive target (Open MPI's `osc/pt2pt`,
    /// MPICH over TCP).
    #[doc(alias = "quit")]
    pub fn close(self) -> Result<()> {
        self.hosts.win.flush_all()?;
        if self.is_direct() {
            self.comm.barrier_idle()?;
        } else {
            self.comm.barrier()?;
        }
        drop(self);
        Ok(())
    }

    /// Ends the memory (collective): the seed's name for
    /// [`close`](Self::close), which every program must call at the end.
    #[doc(alias = "close")]
    pub fn quit(self) -> Result<()> {
        self.close()
    }
}
