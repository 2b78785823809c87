//! One crate for the whole toolkit: re-exports [`shm_core`], [`mpi_lock`] and
//! [`dsm_kv`].

pub use dsm_kv;
pub use mpi_lock;
pub use shm_core;
