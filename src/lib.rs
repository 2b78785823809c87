//! One crate for the whole toolkit: re-exports [`shm_core`], [`mpi_lock`],
//! [`mpi_pool`] and [`dsm_kv`].

pub use dsm_kv;
pub use mpi_lock;
pub use mpi_pool;
pub use shm_core;
