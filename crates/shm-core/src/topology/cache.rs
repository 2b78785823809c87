//! One [`NodeTopology`] per communicator, cached on the communicator itself
//! with MPI attribute caching (MPI-4.0 §7.7).
//!
//! The attribute holds a strong reference to the topology. Its delete
//! callback, which MPI runs when the communicator is freed, drops that
//! reference; arrays still alive keep the topology alive until they close.
//! Keying the cache on the communicator *object* (not on its handle value,
//! which MPI recycles) means a new communicator never finds a freed one's
//! topology, and `MPI_Comm_dup` does not copy the attribute.
//!
//! `MPI_Finalize` deletes the attributes of `MPI_COMM_SELF` first and then
//! those of `MPI_COMM_WORLD` (Open MPI and MPICH both do). Freeing our
//! windows and communicators at that point is not needed (finalising frees
//! every MPI object) and would run collectives inside `MPI_Finalize`, so an
//! attribute of our own on `MPI_COMM_SELF` marks the start of finalisation
//! and later delete callbacks leave their topology to MPI.

use super::NodeTopology;
use crate::error::{check, Error, Result};
use crate::sys;
use mpi::ffi::{self, MPI_Comm};
use std::os::raw::{c_int, c_void};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};

/// The attribute key of cached topologies (created once per process).
static KEY: OnceLock<std::result::Result<c_int, Error>> = OnceLock::new();

/// Set when `MPI_Finalize` has started (see the module documentation).
static FINALIZING: AtomicBool = AtomicBool::new(false);

/// The topology cached on `comm`, or the one `make` builds (collectively),
/// which is then cached.
///
/// Every rank finds the attribute, or none does: the attribute is set only
/// after a creation that succeeded everywhere.
pub(super) fn topology_of(
    comm: MPI_Comm,
    make: impl FnOnce() -> Result<NodeTopology>,
) -> Result<Arc<NodeTopology>> {
    let key = key()?;
    let mut value: *mut Arc<NodeTopology> = std::ptr::null_mut();
    let mut found: c_int = 0;
    // SAFETY: `comm` is live for the caller's borrow; `value` receives the
    // pointer we stored with MPI_Comm_set_attr, `found` whether there is one.
    check(
        unsafe {
            ffi::MPI_Comm_get_attr(
                comm,
                key,
                &mut value as *mut *mut Arc<NodeTopology> as *mut c_void,
                &mut found,
            )
        },
        "MPI_Comm_get_attr",
    )?;
    if found != 0 && !value.is_null() {
        // SAFETY: the value is a `Box<Arc<NodeTopology>>` leaked by the
        // branch below; it lives until the delete callback takes it back,
        // which cannot run while `comm` is borrowed by this call.
        return Ok(Arc::clone(unsafe { &*value }));
    }
    let topology = Arc::new(make()?);
    let boxed = Box::into_raw(Box::new(Arc::clone(&topology)));
    // SAFETY: `comm` is live; MPI keeps the pointer until the delete
    // callback hands it back.
    let set = check(
        unsafe { ffi::MPI_Comm_set_attr(comm, key, boxed as *mut c_void) },
        "MPI_Comm_set_attr",
    );
    if let Err(e) = set {
        // SAFETY: MPI did not take the pointer; we still own the box.
        drop(unsafe { Box::from_raw(boxed) });
        return Err(e);
    }
    Ok(topology)
}

/// The attribute key, created on first use together with the finalisation
/// marker on `MPI_COMM_SELF`.
fn key() -> Result<c_int> {
    KEY.get_or_init(|| {
        let mut key: c_int = 0;
        let mut marker: c_int = 0;
        // SAFETY: the callbacks have the C signatures MPI expects; the
        // extra-state pointers are unused (null); the outputs are locals.
        unsafe {
            check(
                ffi::MPI_Comm_create_keyval(
                    Some(never_copy),
                    Some(delete_topology),
                    &mut key,
                    std::ptr::null_mut(),
                ),
                "MPI_Comm_create_keyval",
            )?;
            check(
                ffi::MPI_Comm_create_keyval(
                    Some(never_copy),
                    Some(finalizing),
                    &mut marker,
                    std::ptr::null_mut(),
                ),
                "MPI_Comm_create_keyval",
            )?;
            check(
                ffi::MPI_Comm_set_attr(sys::COMM_SELF(), marker, std::ptr::null_mut()),
                "MPI_Comm_set_attr",
            )?;
        }
        Ok(key)
    })
    .clone()
}

/// Copy callback: duplicates of a communicator do not share its topology
/// (MPI's `MPI_COMM_NULL_COPY_FN`, which is a macro in `mpi.h`).
unsafe extern "C" fn never_copy(
    _old: MPI_Comm,
    _key: c_int,
    _extra: *mut c_void,
    _value_in: *mut c_void,
    _value_out: *mut c_void,
    flag: *mut c_int,
) -> c_int {
    // SAFETY: MPI passes a valid pointer to the flag.
    unsafe { *flag = 0 };
    sys::SUCCESS()
}

/// Delete callback of a cached topology: drops the attribute's reference.
unsafe extern "C" fn delete_topology(
    _comm: MPI_Comm,
    _key: c_int,
    value: *mut c_void,
    _extra: *mut c_void,
) -> c_int {
    if value.is_null() {
        return sys::SUCCESS();
    }
    // SAFETY: every value of this key is a `Box<Arc<NodeTopology>>` leaked
    // by `topology_of`, and MPI calls this callback once per value.
    let entry = unsafe { Box::from_raw(value as *mut Arc<NodeTopology>) };
    if FINALIZING.load(Ordering::Acquire) {
        // MPI_Finalize frees every MPI object itself.
        std::mem::forget(entry);
        return sys::SUCCESS();
    }
    // Dropping the last reference frees the topology's windows and
    // communicators: collective calls, made by every rank at this same
    // point (they all free the communicator). A panic must not cross the C
    // frame.
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || drop(entry))) {
        Ok(()) => sys::SUCCESS(),
        Err(_) => 1, // any non-success code
    }
}

/// Delete callback of the marker on `MPI_COMM_SELF`: `MPI_Finalize` began.
unsafe extern "C" fn finalizing(
    _comm: MPI_Comm,
    _key: c_int,
    _value: *mut c_void,
    _extra: *mut c_void,
) -> c_int {
    FINALIZING.store(true, Ordering::Release);
    sys::SUCCESS()
}
