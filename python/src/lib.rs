//! `rma_toolkit._native`: the Rust toolkit for Python, on mpi4py's
//! communicators.
//!
//! The Python package (`python/rma_toolkit`) wraps these classes in
//! pshmem's API (`MPIShared`, `MPILock`, `MPIBatch`) and the seed's
//! distributed memory; this module is the thin, typed layer under them. MPI
//! belongs to mpi4py: nothing here initialises or finalises it, and a
//! communicator passed in is never freed (the toolkit duplicates it for its
//! own use).

mod comm;
mod errors;
mod memory;
mod shared;
mod sync;

use pyo3::prelude::*;

/// The first line of `MPI_Get_library_version` of the MPI library this
/// extension is loaded with: the package compares it with mpi4py's at import.
#[pyfunction]
fn library_version() -> String {
    shm_core::loaded_library()
}

/// The indices `rank` takes when `n` items are split among `size` ranks in
/// contiguous runs (shuffled with `seed` when given): pydsm's
/// `splitIndices`.
#[pyfunction]
#[pyo3(signature = (n, rank, size, seed=None))]
fn split_indices(n: usize, rank: usize, size: usize, seed: Option<u64>) -> PyResult<Vec<usize>> {
    if size == 0 || rank >= size {
        return Err(pyo3::exceptions::PyValueError::new_err(format!(
            "rank {rank} is not below size {size}"
        )));
    }
    Ok(shm_core::split_indices(n, rank, size, seed))
}

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(library_version, m)?)?;
    m.add_function(wrap_pyfunction!(split_indices, m)?)?;
    m.add_class::<shared::SharedArray>()?;
    m.add_class::<sync::Lock>()?;
    m.add_class::<sync::Counter>()?;
    m.add_class::<sync::Semaphore>()?;
    m.add_class::<sync::Words>()?;
    m.add_class::<memory::Memory>()?;
    m.add_class::<memory::Var>()?;
    Ok(())
}
