//! The toolkit's errors as Python exceptions: the classes of
//! `rma_toolkit.errors`, which derive from the built-in ones pshmem raises
//! (`ValueError` for bad arguments, `RuntimeError` for the rest), so code
//! written for pshmem catches them unchanged.

use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::PyType;

/// The kind of a failure, naming its class in `rma_toolkit.errors`.
#[derive(Clone, Copy)]
pub(crate) enum Kind {
    /// Bad input (also a `ValueError`).
    Invalid,
    /// Out of node memory or MPI resources (also a `MemoryError`).
    Exhausted,
    /// A dsm-kv variable was freed (also a `KeyError`).
    Freed,
    /// Anything else (a `RuntimeError`).
    Other,
}

fn class(py: Python<'_>, kind: Kind) -> PyResult<Bound<'_, PyType>> {
    static CLASSES: PyOnceLock<[Py<PyType>; 4]> = PyOnceLock::new();
    let classes = CLASSES.get_or_try_init(py, || -> PyResult<_> {
        let module = py.import("rma_toolkit.errors")?;
        let get = |name: &str| -> PyResult<Py<PyType>> {
            Ok(module.getattr(name)?.cast_into::<PyType>()?.unbind())
        };
        Ok([
            get("InvalidArgumentError")?,
            get("ExhaustedError")?,
            get("FreedError")?,
            get("RmaError")?,
        ])
    })?;
    Ok(classes[kind as usize].bind(py).clone())
}

/// A Python exception of `kind` with `message`.
pub(crate) fn raise(kind: Kind, message: impl std::fmt::Display) -> PyErr {
    let message = message.to_string();
    Python::attach(|py| match class(py, kind) {
        Ok(cls) => PyErr::from_type(cls, message),
        Err(e) => e,
    })
}

/// The kind of a shm-core error.
pub(crate) fn core_kind(e: &shm_core::Error) -> Kind {
    use shm_core::Error as E;
    match e {
        E::Invalid { .. }
        | E::Usage(_)
        | E::NoSuchRank { .. }
        | E::OutOfRange { .. }
        | E::LengthMismatch { .. } => Kind::Invalid,
        E::Exhausted { .. } => Kind::Exhausted,
        _ => Kind::Other,
    }
}

/// Converts a shm-core error.
pub(crate) fn core(e: shm_core::Error) -> PyErr {
    raise(core_kind(&e), e)
}

/// Converts a mpi-lock error.
pub(crate) fn lock(e: mpi_lock::LockError) -> PyErr {
    match &e {
        mpi_lock::LockError::Core(c) => raise(core_kind(c), e),
        mpi_lock::LockError::AlreadyHeld
        | mpi_lock::LockError::NotHeld { .. }
        | mpi_lock::LockError::HeldAtClose { .. } => raise(Kind::Invalid, e),
        _ => raise(Kind::Other, e),
    }
}

/// Converts a dsm-kv error.
pub(crate) fn kv(e: dsm_kv::Error) -> PyErr {
    match &e {
        dsm_kv::Error::Core(c) => raise(core_kind(c), e),
        dsm_kv::Error::Freed(_) => raise(Kind::Freed, e),
        dsm_kv::Error::OutOfMemory { .. } | dsm_kv::Error::TooManyVariables { .. } => {
            raise(Kind::Exhausted, e)
        }
        _ => raise(Kind::Invalid, e),
    }
}
