//! # dsm-kv
//!
//! A distributed memory of `i64` and lists of `i64`, lent by the ranks of an
//! MPI job and reached with one-sided communication (MPI-3 RMA). It is the
//! Rust version of a Python `mpi4py` project whose API it keeps:
//!
//! ```no_run
//! use mpi::traits::*;
//! let universe = mpi::initialize().unwrap();
//! let world = universe.world();
//! let mem = dsm_kv::init_memory(&world, 10)?; // collective; 10 slots per host
//! if mem.is_master() {
//!     let var = mem.add(vec![1, 2, 3])?;
//!     mem.map(&var, |x| x + 1)?;
//!     assert_eq!(mem.reduce(&var, |a, x| a + x, 0)?, 9);
//!     mem.filter(&var, |x| x % 2 == 0)?;
//!     println!("{}", mem.read(&var)?); // [2, 4]
//!     mem.free(var)?;
//! }
//! mem.quit()?; // collective: the hosts wait here
//! # Ok::<(), dsm_kv::Error>(())
//! ```
//!
//! ## Names
//!
//! The seed's names stay: [`init_memory`], [`Config::max_per_slave`],
//! [`DistributedMemory::max_per_slave`], [`DistributedMemory::quit`] and the
//! operations `add`, `read`, `modify`, `map`, `filter`, `reduce`, `free`.
//! Next to them are Rust ones, the same functions (each links to the other
//! and is found by searching for either):
//!
//! | the seed's | Rust |
//! |---|---|
//! | [`init_memory(&comm, n)`](init_memory), [`init_memory_with`] | [`DistributedMemory::new(&comm, Config::new(n))`](DistributedMemory::new) |
//! | [`max_per_slave()`](DistributedMemory::max_per_slave) | [`slots_per_host()`](DistributedMemory::slots_per_host) |
//! | [`quit()`](DistributedMemory::quit) | [`close()`](DistributedMemory::close) |
//!
//! ## A freed variable
//!
//! A variable freed by any rank is [`Error::Freed`] for every operation
//! (`read`, `len`, `placement`, `map`, `filter`, `reduce`, `wait` and a second
//! `free`), except [`modify`](DistributedMemory::modify), which returns
//! `Ok(false)`: the seed's boolean, "the modification has not taken place".
//!
//! ## Model
//!
//! Rank 0 is the *master*; every other rank is a *host* that lends
//! `max_per_slave` slots. Hosts are passive: there is no server loop, every
//! operation is one-sided from the rank that calls it, so both styles work:
//! the seed's master-driven style (rank 0 operates, the others wait in
//! [`DistributedMemory::close`]) and SPMD use, where any rank operates at any
//! time. A [`Var`] is a small `Copy` handle that any rank may use (send it as
//! two words with [`Var::to_words`]).
//!
//! ## Layout
//!
//! Each host has one segment of `i64` words, kept in a `MPI_Win_lock_all`
//! epoch for its life:
//!
//! | words | content |
//! |---|---|
//! | 0, 1 | allocation lock: a FIFO ticket lock (next ticket, ticket served) |
//! | 2, 3 | data slots and descriptors in use |
//! | bitmap | one bit per data slot |
//! | bitmap | one bit per descriptor |
//! | descriptors | 4 words each: state, length, first extent (or the integer's value), first extent's length (or the integer's reserved slot) |
//! | chain | 2 words per data slot: at the first slot of each extent, the next extent (host and start, length) |
//! | data | `max_per_slave` slots |
//!
//! A list is a chain of *extents* (contiguous runs of slots, possibly on
//! several hosts); its descriptor names the first one. An integer reserves one
//! data slot (so capacity counts it like the seed) but keeps its value in its
//! descriptor, right after the state word, so that reading it is one get.
//!
//! The *state word* of a descriptor packs a generation (bumped each time the
//! descriptor is allocated), a version (bumped by `map` and `filter`), flags
//! (`LIVE`, `INT`, `DEAD`: being freed, `BUSY`: map or filter in progress) and
//! a pin count. A [`Var`] is (host, descriptor index, generation); a handle
//! whose generation is not the live one is stale, so a freed variable is never
//! confused with a later one that reuses its descriptor or slots.
//!
//! ## Allocation
//!
//! Allocation metadata is updated under each host's allocation lock, taken
//! with `MPI_Fetch_and_op` (one host at a time, so no deadlock): first-fit
//! runs in the host's bitmap, hosts with the most free space first, so a list
//! larger than one host's free space is split across hosts. When the whole
//! memory cannot hold a value the allocation rolls back and returns
//! [`Error::OutOfMemory`] with the size asked and the free space. Freeing
//! clears the bits under the same lock, so [`DistributedMemory::free_slots`]
//! returns to the capacity exactly. The lock is passed on however its
//! holder leaves it (an error or a panic included), except when MPI fails on
//! the lock's own two words, which leaves it taken (the host is then
//! unreachable for every rank).
//!
//! ## Concurrency contract
//!
//! * **Pinned operations** (`read` and `reduce` of a list, `modify`, `len`,
//!   `placement`)
//!   add one to the pin count with one `MPI_Fetch_and_op`, which also returns
//!   the state: if the generation is not the handle's or the descriptor is
//!   not live, they unpin and report `Freed` (`false` for `modify`); if
//!   `BUSY` or `DEAD` (a map, filter or free in progress), they unpin and
//!   retry, so a free in progress ends in `Freed`. While pinned, the
//!   variable's placement (its extents) cannot change and its slots cannot
//!   be freed. The placement is cached per state key, so a `modify` is one
//!   fetch-and-op, one put and a flush (plus an unpin that is not waited
//!   for).
//! * **Exclusive operations** (`map`, `filter`) set `BUSY`, wait for
//!   the pins to drain, work, and clear `BUSY` with a new version. They, and
//!   `reduce`, make one pass over the list in chunks that stay in cache
//!   (`filter` compacts in place and returns the tail slots with one
//!   allocation-lock round per host).
//! * **`free`** sets `DEAD`, waits for the pins to drain and `BUSY` to clear,
//!   returns the slots, then clears the descriptor.
//! * Flags are set with an atomic fetch-or whose result says whether this
//!   rank set them; a rank whose stale handle set a flag on a reused
//!   descriptor takes it back at once, and other ranks treat such a flag as
//!   "busy, retry", never as "freed". `MPI_Compare_and_swap` is not used at
//!   all: Open MPI 4.1's default one-sided component (osc/rdma over the vader
//!   BTL) crashes the target process on it.
//! * **Integer reads** get the value word (on the direct path: load it),
//!   then read the state atomically: a live state of the handle's generation
//!   means the value was the variable's when it was read.
//!
//! Hence: concurrent `modify` of distinct elements from different ranks all
//! land; `read` returns a snapshot of one variable (never data of another
//! variable, never a half-mapped or half-filtered list; elements modified
//! concurrently may show their old or new value); `free` racing with `modify`
//! yields either a completed write followed by the free, or `false`; a second
//! `free` returns `Err(Freed)`; `map` and `filter` are complete and visible
//! to all ranks when they return.
//!
//! ## Paths to the data
//!
//! When every rank shares one node (and [`Access::Auto`], the default, is
//! asked), the segments are one `MPI_Win_allocate_shared` window; when its
//! memory model is unified on every rank, list elements and integer values
//! move by plain loads, stores and copies, and the protocol words (state
//! words, the allocator's lock and counters) are CPU atomics on every rank:
//! no operation makes an MPI call ([`DistributedMemory::is_direct`]).
//! Otherwise (several nodes, or [`Access::Mixed`] or [`Access::Rma`]) the
//! segments are one `MPI_Win_allocate` window and the protocol words are MPI
//! atomics on every rank; a rank moves the list elements and integer values
//! of the hosts whose memory MPI maps into it (co-located hosts, with an MPI
//! that answers `MPI_Win_shared_query` for such windows, such as MPICH 5) by
//! loads and stores between `MPI_Win_sync` calls, and every other word by
//! plain `MPI_Put`/`MPI_Get` ([`DistributedMemory::mapped_hosts`];
//! [`Access::Rma`] maps nothing). `docs/dsm-kv.md` gives the memory-model
//! rule of each access.
//!
//! On every path, the same element modified and read at the same moment by
//! two ranks gives the old or the new value on every platform we know,
//! though the MPI standard calls it undefined.
//! Closures given to `map`, `filter` and `reduce` run on the calling rank and
//! must not call the memory on the same variable.

#![warn(missing_docs)]
#![deny(unsafe_op_in_unsafe_fn)]

// The public API.
mod config;
mod error;
#[doc(hidden)]
pub mod fault;
mod memory;
mod ops;
mod value;

// The machinery, one job each.
mod alloc; // the host allocator: bitmaps, extents, the allocation lock
mod bulk; // map, filter and reduce in one pass, chunk by chunk
mod compact; // the kernel of filter: kept elements to the front, vectorised
mod direct; // loads and stores to co-located hosts' data
mod hosts; // the hosts' windows and the variables' words in them
mod in_place; // map, filter and reduce in place on co-located hosts
mod layout; // where everything is in a host's window
mod nearby; // loads and stores to mapped hosts' data on a memory spanning nodes
mod placement; // where a variable's elements are, and its cache
mod protocol; // pin, exclusive, free, drain, publish on the state word
mod state; // the state word of a descriptor
mod words; // the protocol and metadata words: MPI, or CPU on the direct path

pub use config::{Access, Config};
pub use error::{Error, Result};
pub use memory::{init_memory, init_memory_with, DistributedMemory};
pub use value::{Extent, Value, Var};
