//! # mpi-pool: a task pool over an MPI communicator
//!
//! pympipool's `Pool` for an SPMD Rust program: one rank, the *driver*,
//! runs the user's code and hands tasks to the other ranks, the *workers*,
//! which run them and send the results back.
//!
//! - Tasks are functions registered by name in a [`Registry`], built the
//!   same way on every rank: a task travels as the function's name and its
//!   argument serialised with serde (postcard); its result comes back the
//!   same way.
//! - [`Driver::map`] returns the results in the items' order; workers take
//!   the items a chunk at a time when they are free (dynamic scheduling: a
//!   slow task holds back only its own worker), with a progress bar when
//!   stderr is a terminal.
//! - [`Driver::submit`] returns a [`Future`] (`done`, `wait`, `result`,
//!   [`wait_all`], [`wait_any`]); the driver may submit while earlier
//!   tasks run.
//! - [`PoolOptions::cores_per_task`] groups the workers `k` at a time at
//!   creation (`MPI_Comm_split`); a group runs each task together, and a
//!   function registered with [`Registry::register_with_comm`] receives the
//!   group's communicator.
//! - [`Pool::spawn`] starts the workers from a program started without
//!   `mpirun` (`MPI_Comm_spawn` of the same executable), as pympipool
//!   does; [`Pool::new_or_spawn`] picks `new` or `spawn` by how the program
//!   was started.
//! - A task that panics or returns an error is a [`PoolError::Task`] naming
//!   the task and the worker rank; the pool stays usable.
//! - Bad input (options, registries that differ between the ranks, a
//!   worker count that `cores_per_task` does not divide) is the same error
//!   on every rank; an error of the driver's code reaches every worker as
//!   [`PoolError::Elsewhere`].
//!
//! ```no_run
//! use mpi_pool::{Pool, PoolOptions, Registry};
//! let universe = mpi::initialize().unwrap();
//! let world = universe.world();
//!
//! let mut registry = Registry::new();
//! let square = registry.register("square", |x: i64| Ok::<_, String>(x * x));
//! let pool = Pool::new(&world, registry, PoolOptions::default())?;
//! pool.run(|driver| {
//!     let futures = [1, 2, 3, 4]
//!         .into_iter()
//!         .map(|i| driver.submit(&square, i))
//!         .collect::<Result<Vec<_>, _>>()?;
//!     mpi_pool::wait_all(&futures)?;
//!     for future in futures {
//!         println!("{}", future.result()?);
//!     }
//!     Ok(())
//! })?;
//! # Ok::<(), mpi_pool::PoolError>(())
//! ```
//!
//! [`Cluster`] is pydsm's model beside the pool: named shared arrays and
//! locks made before a run, then every rank runs the same function with
//! its id ([`Resources`]) and splits the work statically.
//!
//! `docs/pool.md` in the repository describes the protocol, the failure
//! behaviour and the correspondence with pympipool and pydsm.

#![warn(missing_docs)]

mod catch;
mod cluster;
mod driver;
mod error;
mod future;
mod options;
mod pool;
mod progress;
mod registry;
mod resources;
mod scheduler;
mod spawn;
mod wire;
mod worker;

pub use cluster::Cluster;
pub use driver::Driver;
pub use error::{FailureKind, PoolError, Result};
pub use future::{wait_all, wait_any, Future};
pub use options::PoolOptions;
pub use pool::Pool;
pub use registry::{Registry, Task};
pub use resources::Resources;
