//! Creating a pool and running it: the collective entry points.

use crate::driver::Driver;
use crate::error::{PoolError, Result};
use crate::options::PoolOptions;
use crate::registry::Registry;
use crate::scheduler::Scheduler;
use crate::worker;
use mpi::topology::Communicator;
use shm_core::OwnedComm;

/// A task pool over an MPI communicator: one driver rank, the others
/// workers, grouped `cores_per_task` at a time.
///
/// SPMD: every rank creates the pool ([`new`](Self::new), collective) and
/// calls [`run`](Self::run) with the driver's code. On the driver rank
/// `run` calls that code with a [`Driver`]; on every other rank it runs the
/// worker loop until the driver's code returns (or closes the pool).
///
/// ```no_run
/// use mpi_pool::{Pool, PoolOptions, Registry};
/// let universe = mpi::initialize().unwrap();
/// let world = universe.world();
///
/// let mut registry = Registry::new();
/// let square = registry.register("square", |x: i64| Ok::<_, String>(x * x));
/// let pool = Pool::new(&world, registry, PoolOptions::default())?;
/// if let Some(squares) = pool.run(|driver| driver.map(&square, [1, 2, 3, 4]))? {
///     println!("{squares:?}"); // [1, 4, 9, 16], on the driver only
/// }
/// # Ok::<(), mpi_pool::PoolError>(())
/// ```
pub struct Pool {
    comm: OwnedComm,
    group: Option<OwnedComm>,
    registry: Registry,
    options: PoolOptions,
    leaders: Vec<i32>,
}

impl std::fmt::Debug for Pool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pool")
            .field("rank", &self.comm.rank())
            .field("options", &self.options)
            .field("registry", &self.registry)
            .finish()
    }
}

impl Pool {
    /// Creates a pool over `comm` (collective; the pool talks on a
    /// duplicate of it). Every rank must pass the same options and register
    /// the same names; a communicator of one rank, a driver rank out of
    /// range, a chunk size of 0, a `cores_per_task` that does not divide
    /// the workers, a name registered twice, or registries or options that
    /// differ are the same [`PoolError::Core`] (an
    /// [`shm_core::Error::Invalid`]) on every rank.
    pub fn new<C: Communicator + ?Sized>(
        comm: &C,
        registry: Registry,
        options: PoolOptions,
    ) -> Result<Pool> {
        let comm = OwnedComm::duplicate(comm)?;
        let local = options.check(comm.size()).and_then(|()| registry.check());
        comm.agree(local)?;
        comm.agree_same(
            "the pool options (driver, chunk size, cores per task)",
            &[
                options.driver as i64,
                options.chunk_size as i64,
                options.cores_per_task as i64,
            ],
        )?;
        comm.agree_same("the registered function names", &[registry.fingerprint()])?;

        // Workers in rank order, skipping the driver; k consecutive ones
        // make a group, whose first is its leader.
        let worker_index = |rank: i32| (rank - i32::from(rank > options.driver)) as usize;
        let k = options.cores_per_task;
        let leaders = (0..comm.size())
            .filter(|&r| r != options.driver && worker_index(r) % k == 0)
            .collect();
        let color = (comm.rank() != options.driver).then(|| (worker_index(comm.rank()) / k) as i32);
        let group = comm.split(color, comm.rank())?;
        Ok(Pool {
            comm,
            group,
            registry,
            options,
            leaders,
        })
    }

    /// `true` on the driver rank.
    pub fn is_driver(&self) -> bool {
        self.comm.rank() == self.options.driver
    }

    /// The options the pool was made with.
    pub fn options(&self) -> PoolOptions {
        self.options
    }

    /// Runs the pool (collective): on the driver rank, calls `driver_code`
    /// with the [`Driver`], closes the pool when it returns and gives back
    /// `Some` of its value; on the workers, serves tasks until the driver
    /// closes the pool, then returns `None`.
    ///
    /// Then the ranks agree on how it went: when the driver's code returned
    /// an error (such as a [`PoolError::Closed`] from a map after
    /// [`Driver::close`]), the driver returns that error and every worker
    /// returns [`PoolError::Elsewhere`] with its text; no rank is left
    /// waiting. Task failures do not count: they are values that the
    /// driver's code handles.
    pub fn run<T>(self, driver_code: impl FnOnce(&Driver) -> Result<T>) -> Result<Option<T>> {
        let Pool {
            comm,
            group,
            registry,
            options,
            leaders,
        } = self;
        match group {
            Some(group) => {
                let served = worker::serve(&comm, &group, options.driver, &registry);
                let agreed = comm.agree(served.as_ref().map(|_| ()).map_err(|e| e.to_string()));
                served?;
                agreed.map_err(|e| elsewhere(e.into()))?;
                Ok(None)
            }
            None => {
                let groups = leaders.len();
                let scheduler = Scheduler::new(comm, leaders, options.chunk_size);
                let driver = Driver::new(scheduler, registry, groups, options.progress);
                let value = driver_code(&driver);
                let closed = driver.close();
                let value = value.and_then(|v| closed.map(|()| v));
                let agreed = driver.agree(value.as_ref().map(|_| ()).map_err(|e| e.to_string()));
                let value = value?;
                agreed.map_err(elsewhere)?;
                Ok(Some(value))
            }
        }
    }
}

/// The agreed error of another rank, as [`PoolError::Elsewhere`].
fn elsewhere(e: PoolError) -> PoolError {
    match e {
        PoolError::Core(shm_core::Error::Invalid {
            rank: Some(rank),
            message,
        }) => PoolError::Elsewhere { rank, message },
        other => other,
    }
}
