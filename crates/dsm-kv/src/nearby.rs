//! The data of co-located hosts on a memory that spans nodes
//! ([`Access::Mixed`](crate::Access::Mixed)): list elements and integer
//! values of the hosts whose segment of the memory's one window MPI maps
//! into this process move by loads, stores and copies; everything else, and
//! every protocol word, by RMA as on the RMA path.
//!
//! # The memory-model rule
//!
//! MPI-4.0 lets `MPI_Win_shared_query` give the address of any segment that
//! shares memory with the caller, whatever call created the window (§12.2.3).
//! The window is in the unified model (checked on this rank before any
//! segment is used), so the mapped memory is the segment's public copy,
//! which other ranks read and write by RMA. A process synchronises with the
//! others only through MPI atomics on the protocol words (a pin, the
//! exclusive `BUSY` flag, a drain, a publish), and MPI orders its loads and
//! stores of shared memory around such a synchronisation only with
//! `MPI_Win_sync` (MPI-4.0 §12.7, the rule for shared memory windows, and its
//! Example 12.21): so every run of loads and stores of mapped data is
//! bracketed by [`Hosts::bracketed`], after the protocol step that took
//! the variable and before the one that releases or checks it. A run that
//! mixes mapped and remote pieces does the copies when the RMA operations
//! start; the bracket covers the whole run.
//!
//! Every rank reaches the protocol words by MPI atomics, whether or not it
//! maps their host, so no word sees both CPU and MPI atomics (which is why
//! [`Mapped`] offers copies and stores only), and ranks need not agree on
//! which hosts they map: each rank decides for itself. One data word may
//! then be stored by one rank and put by another; the protocol orders them
//! as it orders two puts.

use crate::direct::Direct;
use crate::error::Result;
use crate::hosts::{HostWindows, Hosts};
use shm_core::window::LockedWindow;

/// The segments of a mixed memory that MPI maps into this process: their
/// data only (copies and a store), never an atomic.
pub(crate) struct Mapped(Direct);

impl Mapped {
    /// What MPI maps of `win` here; `None` when it maps no host's segment
    /// ([`Direct::mapped`]).
    pub(crate) fn of(win: &LockedWindow<i64>) -> Option<Mapped> {
        Direct::mapped(win).map(Mapped)
    }

    /// `true` when `host`'s segment is mapped here.
    pub(crate) fn maps(&self, host: i32) -> bool {
        self.0.maps(host)
    }

    /// [`Direct::copy_out`] from a mapped segment.
    pub(crate) fn copy_out(&self, host: i32, disp: usize, out: &mut [i64]) -> Result<()> {
        self.0.copy_out(host, disp, out)
    }

    /// [`Direct::copy_in`] into a mapped segment.
    pub(crate) fn copy_in(&self, host: i32, disp: usize, values: &[i64]) -> Result<()> {
        self.0.copy_in(host, disp, values)
    }

    /// [`Direct::store`] into a mapped segment.
    pub(crate) fn store(&self, host: i32, disp: usize, value: i64) -> Result<()> {
        self.0.store(host, disp, value)
    }
}

impl Hosts {
    /// The segments MPI maps here on a mixed memory.
    fn mapped(&self) -> Option<&Mapped> {
        match &self.win {
            HostWindows::Rma(_, mapped) => mapped.as_ref(),
            HostWindows::Shared(..) => None,
        }
    }

    /// `host`'s segment, when this rank reaches its data by loads and stores
    /// on a mixed memory.
    pub(crate) fn mapped_host(&self, host: i32) -> Option<&Mapped> {
        self.mapped().filter(|mapped| mapped.maps(host))
    }

    /// How many hosts this rank reaches by loads and stores: every one on a
    /// direct memory, the mapped ones on a mixed memory.
    pub(crate) fn hosts_mapped(&self) -> usize {
        match (self.direct(), self.mapped()) {
            (Some(_), _) => self.count(),
            (None, Some(mapped)) => self.ranks().filter(|&h| mapped.maps(h)).count(),
            (None, None) => 0,
        }
    }

    /// Runs `f`, a run of accesses to a variable's data, between two
    /// `MPI_Win_sync` when this rank maps a host of a mixed memory (see the
    /// module documentation); the closing one comes even when `f` fails.
    /// Called right after the protocol step that took the variable and
    /// before the one that releases or checks it: by the pin and the
    /// exclusive hold ([`crate::protocol`]), by `add` between allocating
    /// and publishing, and by the integer read.
    pub(crate) fn bracketed<R>(&self, f: impl FnOnce() -> Result<R>) -> Result<R> {
        let Some(_) = self.mapped() else {
            return f();
        };
        self.win.sync()?;
        let result = f();
        self.win.sync()?;
        result
    }

    /// Reads one data word (an integer's value), complete when this
    /// returns: a load on a mapped host (inside the caller's
    /// [`bracketed`](Self::bracketed) run), a copy inside the fence bracket
    /// on a direct memory, a completed get.
    pub(crate) fn read_word(&self, host: i32, disp: usize) -> Result<i64> {
        let mut word = [0i64];
        match self.mapped_host(host) {
            Some(mapped) => mapped.copy_out(host, disp, &mut word)?,
            None => self.get_words(host, disp, &mut word)?,
        }
        Ok(word[0])
    }
}
