//! The windows the hosts lend, and the reads and writes of a variable's
//! descriptor, extent chain and data in them.
//!
//! The allocator ([`crate::alloc`]) and the pin / exclusive / free protocol
//! ([`crate::protocol`]) are the other methods of [`Hosts`].
//!
//! Every access goes through `shm_core`'s passive-target window, kept in one
//! `MPI_Win_lock_all` epoch for its life. Chain and descriptor words move
//! with plain `MPI_Put` / `MPI_Get`; data words too, unless the hosts are
//! co-located ([`crate::direct`]: loads and stores). They are only accessed
//! while the protocol keeps them from changing (a pin, the exclusive `BUSY`
//! flag, a free's `DEAD` flag, or a descriptor not yet published), except
//! for the concurrent `modify` of one element and the integer read, which
//! the crate documentation discusses. Protocol words (state words, the
//! allocator's) are only accessed atomically: MPI atomics, or CPU atomics on
//! a direct memory ([`crate::words`]).

use crate::bulk::pieces;
use crate::config::Access;
use crate::direct::Direct;
use crate::error::{Error, Result};
use crate::in_place::InPlace;
use crate::layout::{
    extent_link, unpack_extent, WindowLayout, FIRST, FIRST_LEN, INT_SLOT, LEN, STATE,
};
use crate::nearby::Mapped;
use crate::placement::{Placement, PlacementCache};
use crate::state::{Flags, State};
use crate::value::{Extent, Var};
use shm_core::window::{
    LockedSharedWindow, LockedWindow, MemoryModel, Op, Rma, SharedWindow, Window,
};
use shm_core::OwnedComm;
use std::cell::{Cell, RefCell};
use std::ops::Range;
use std::rc::Rc;

/// The hosts' windows: one-sided communication (with the data of the hosts
/// MPI maps here, on a mixed memory), or in shared memory with the
/// addresses of every host's segment.
pub(crate) enum HostWindows {
    /// `MPI_Win_allocate`: every access is RMA, but for the data of the
    /// hosts whose segments `Mapped` has on a mixed memory
    /// ([`crate::nearby`]).
    Rma(LockedWindow<i64>, Option<Mapped>),
    /// `MPI_Win_allocate_shared` over one node: RMA for the protocol words,
    /// and loads and stores for the data when `Direct` is there (the
    /// unified memory model).
    Shared(LockedSharedWindow<i64>, Option<Direct>),
}

impl std::ops::Deref for HostWindows {
    type Target = dyn Rma<i64>;
    fn deref(&self) -> &(dyn Rma<i64> + 'static) {
        match self {
            HostWindows::Rma(win, _) => win,
            HostWindows::Shared(win, _) => win,
        }
    }
}

/// The hosts' windows (rank 0's is empty) and this rank's cache of
/// placements.
pub(crate) struct Hosts {
    pub(crate) win: HostWindows,
    pub(crate) layout: WindowLayout,
    /// The size of the communicator: the hosts are ranks `1..size`.
    size: i32,
    cache: RefCell<PlacementCache>,
    /// The memory's communicator, whose progress engine a rank drives while
    /// it waits patiently (a busy variable, a drain): on the RMA path MPICH
    /// completes other ranks' RMA on this rank's window only when this rank
    /// calls MPI, and a wait must not depend on what its attempts call.
    pub(crate) comm: Rc<OwnedComm>,
    /// The RMA path's two chunk buffers, kept between bulk passes
    /// ([`crate::bulk`]): allocating them afresh for each pass cost a page
    /// fault per 4 KiB of them, a quarter of a `reduce`'s time on one node.
    pub(crate) spare: Cell<Vec<i64>>,
}

/// `true` on every rank when all of them do (collective).
fn all(comm: &OwnedComm, mine: bool) -> Result<bool> {
    let mut flag = [i64::from(mine)];
    comm.all_reduce_min(&mut flag)?;
    Ok(flag[0] == 1)
}

impl Hosts {
    /// Allocates the windows (collective over `comm`): in shared memory
    /// when `access` allows it and every rank of `comm` shares one node,
    /// with direct access to every word when, besides, every rank's window
    /// is in the unified memory model; all ranks take the same path.
    /// Otherwise one window from `MPI_Win_allocate`, where each rank reaches
    /// the data of the hosts MPI maps into it by loads and stores, unless
    /// `access` is [`Access::Rma`].
    pub(crate) fn allocate(
        comm: &Rc<OwnedComm>,
        layout: WindowLayout,
        access: Access,
    ) -> Result<Hosts> {
        let len = if comm.rank() == 0 { 0 } else { layout.total };
        // Every step below is collective or agreed, so that no rank takes a
        // path (or enters a collective call) alone.
        let node_size = comm.split_shared(0)?.size();
        let one_node = access == Access::Auto && node_size == comm.size();
        let win = if all(comm, one_node)? {
            let win = SharedWindow::<i64>::allocate_shared(comm.communicator(), len)?
                .into_locked(true)?;
            // A rank that cannot tell the model, or map a segment, keeps
            // every rank on RMA.
            let unified = matches!(win.memory_model(), Ok(MemoryModel::Unified));
            let direct = unified.then(|| Direct::of(&win).ok()).flatten();
            let direct = if all(comm, direct.is_some())? {
                direct
            } else {
                None
            };
            HostWindows::Shared(win, direct)
        } else {
            let win = Window::<i64>::allocate(comm.communicator(), len)?.into_locked(true)?;
            // Each rank maps what MPI lets it map, on its own: the protocol
            // words stay on MPI atomics for every rank ([`crate::nearby`]).
            let unified = matches!(win.memory_model(), Ok(MemoryModel::Unified));
            let mapped = (access != Access::Rma && unified)
                .then(|| Mapped::of(&win))
                .flatten();
            HostWindows::Rma(win, mapped)
        };
        Ok(Hosts {
            win,
            layout,
            size: comm.size(),
            cache: RefCell::new(PlacementCache::default()),
            comm: comm.clone(),
            spare: Cell::default(),
        })
    }

    /// The hosts' addresses, when the data moves by loads and stores.
    pub(crate) fn direct(&self) -> Option<&Direct> {
        match &self.win {
            HostWindows::Shared(_, Some(direct)) => Some(direct),
            _ => None,
        }
    }

    /// The direct path's view, for the bulk operations in place.
    pub(crate) fn in_place(&self) -> Option<InPlace<'_>> {
        self.direct().map(|direct| InPlace {
            direct,
            layout: &self.layout,
        })
    }

    /// `true` when the data moves by loads and stores.
    pub(crate) fn is_direct(&self) -> bool {
        self.direct().is_some()
    }

    /// The ranks of the hosts.
    pub(crate) fn ranks(&self) -> std::ops::Range<i32> {
        1..self.size
    }

    /// The number of hosts.
    pub(crate) fn count(&self) -> usize {
        self.size as usize - 1
    }

    /// [`Error::InvalidHandle`] unless `var` names a descriptor of this
    /// memory.
    pub(crate) fn check_handle(&self, var: &Var) -> Result<()> {
        if var.host == 0
            || var.host >= self.size as u32
            || var.index as usize >= self.layout.descriptors
            || var.gen == 0
        {
            Err(Error::InvalidHandle(*var))
        } else {
            Ok(())
        }
    }

    /// The host and address of `var`'s descriptor (its state word).
    pub(crate) fn descriptor_of(&self, var: &Var) -> (i32, usize) {
        (
            var.host as i32,
            self.layout.descriptor(var.index as usize) + STATE,
        )
    }

    /// An atomic read of one word (`MPI_Fetch_and_op` with `MPI_NO_OP`, or
    /// a CPU atomic load).
    pub(crate) fn atomic_read(&self, host: i32, disp: usize) -> Result<i64> {
        self.atomic(host, disp, Op::NoOp, 0)
    }

    /// Writes `values` into the extents of `placement`.
    pub(crate) fn write_values(&self, placement: &Placement, values: &[i64]) -> Result<()> {
        self.put_range(placement, 0, values)
    }

    /// Reads elements `range` of `placement` (inside it).
    pub(crate) fn read_values(
        &self,
        placement: &Placement,
        range: Range<usize>,
    ) -> Result<Vec<i64>> {
        let len = range.len();
        if let Some(direct) = self.direct() {
            // Straight into the new vector, without zeroing it first.
            let mut values = Vec::with_capacity(len);
            let out = values.spare_capacity_mut();
            Direct::begin();
            for (host, slot, at, n) in pieces(placement, range.start, len) {
                direct.copy_out_uninit(host, self.layout.data_slot(slot), &mut out[at..at + n])?;
            }
            Direct::end();
            // SAFETY: the pieces of a range inside the list cover it exactly
            // (a placement's extents add up to its length), so every element
            // was written.
            unsafe { values.set_len(len) };
            return Ok(values);
        }
        let mut values = vec![0i64; len];
        self.get_range(placement, range.start, &mut values)?;
        Ok(values)
    }

    /// Writes one data word (an element, or an integer's value) and
    /// completes it at its host: a direct store inside the fence bracket, a
    /// store on a mapped host (inside the caller's
    /// [`bracketed`](Self::bracketed) run), or a put and a flush.
    pub(crate) fn write_word(&self, host: i32, disp: usize, value: i64) -> Result<()> {
        match self.direct() {
            Some(direct) => {
                Direct::begin();
                direct.store(host, disp, value)?;
                Direct::end();
                Ok(())
            }
            None => match self.mapped_host(host) {
                Some(mapped) => mapped.store(host, disp, value),
                None => Ok(self.win.put_flush(host, disp, &[value])?),
            },
        }
    }

    /// Links the extents: the chain word pair of each extent's first slot
    /// names the next extent (or none).
    pub(crate) fn write_chain(&self, extents: &[Extent]) -> Result<()> {
        for (j, e) in extents.iter().enumerate() {
            let next = extent_link(extents.get(j + 1));
            self.put_words(e.host, self.layout.chain_link(e.start), &next)?;
        }
        Ok(())
    }

    /// Writes the words of descriptor `index` of `host` after its state
    /// word: length, then first extent and its length (a list) or value and
    /// reserved slot (an integer).
    pub(crate) fn write_descriptor(&self, host: i32, index: u32, words: [i64; 3]) -> Result<()> {
        let disp = self.layout.descriptor(index as usize) + LEN;
        self.put_words(host, disp, &words)
    }

    /// Reads the placement of a variable whose placement cannot change
    /// meanwhile (pinned, held exclusively, or being freed by this rank).
    pub(crate) fn fetch_placement(&self, var: &Var, int: bool) -> Result<Placement> {
        let (host, disp) = self.descriptor_of(var);
        let mut words = [0i64; 3];
        self.get_words(host, disp + LEN, &mut words)?;
        let word = |offset: usize| words[offset - LEN];
        let bad = |what: String| Error::Corrupted(format!("{var}: {what}"));
        let unpack = |r: i64, len: i64| -> Result<Extent> {
            let len = usize::try_from(len).map_err(|_| bad(format!("extent length {len}")))?;
            match unpack_extent(r) {
                Some((host, start))
                    if host >= 1
                        && host < self.size
                        && len > 0
                        && start + len <= self.layout.slots =>
                {
                    Ok(Extent { host, start, len })
                }
                Some((host, start)) => Err(bad(format!(
                    "bad extent (host {host}, start {start}, len {len})"
                ))),
                None => Err(bad(format!("bad extent reference {r} (len {len})"))),
            }
        };
        if int {
            return Ok(Placement {
                len: 1,
                extents: vec![unpack(word(INT_SLOT), 1)?],
            });
        }
        let len = usize::try_from(word(LEN)).map_err(|_| bad(format!("length {}", word(LEN))))?;
        let mut extents = Vec::new();
        let mut total = 0;
        let (mut next, mut next_len) = (word(FIRST), word(FIRST_LEN));
        while total < len {
            let e = unpack(next, next_len)?;
            total += e.len;
            extents.push(e);
            if total < len {
                let mut link = [0i64; 2];
                self.get_words(e.host, self.layout.chain_link(e.start), &mut link)?;
                (next, next_len) = (link[0], link[1]);
            }
        }
        if total != len {
            return Err(bad(format!(
                "extents hold {total} elements, the length is {len}"
            )));
        }
        Ok(Placement { len, extents })
    }

    /// The placement of a pinned variable whose state has key `key`, cached
    /// while the key (generation, version, kind) does not change.
    pub(crate) fn placement(&self, var: &Var, key: State) -> Result<Rc<Placement>> {
        if let Some(placement) = self.cache.borrow_mut().get(var, key) {
            return Ok(placement);
        }
        let placement = Rc::new(self.fetch_placement(var, key.has(Flags::INT))?);
        self.remember(var, key, placement.clone());
        Ok(placement)
    }

    /// Caches `placement` for `var` under state key `key`.
    pub(crate) fn remember(&self, var: &Var, key: State, placement: Rc<Placement>) {
        self.cache.borrow_mut().insert(var, key, placement);
    }

    /// Forgets the cached placement of `var`'s descriptor.
    pub(crate) fn forget(&self, var: &Var) {
        self.cache.borrow_mut().remove(var);
    }
}
