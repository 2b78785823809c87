//! The protocol on a descriptor's state word: pin, exclusive, free, drain,
//! publish (see "Concurrency contract" in the crate documentation).
//!
//! The state word is only ever read and changed atomically: with MPI atomics
//! (`MPI_Fetch_and_op`, `MPI_Accumulate`, atomic with respect to each other
//! on the same word), or, on a direct memory, with CPU atomics on every rank
//! ([`crate::direct::Direct::atomic`]); the bits are in [`crate::state`]. Flags are
//! set with fetch-or, whose old state says whether this rank set them;
//! `MPI_Compare_and_swap` is not used (Open MPI 4.1's osc/rdma crashes the
//! target on it).

use crate::error::Result;
use crate::fault::{self, Point};
use crate::hosts::Hosts;
use crate::layout::{INT_VALUE, STATE};
use crate::placement::Placement;
use crate::state::{Flags, State, Update};
use crate::value::Var;
use shm_core::sync::poll;
use std::rc::Rc;

/// What one look at a descriptor, without pinning it, found.
pub(crate) enum Peek {
    /// The variable no longer exists.
    Freed,
    /// An integer, and its value.
    Int(i64),
    /// A list: reading it needs a pin.
    List,
}

/// Takes back a pin when the pinned work unwinds (a panic in a closure).
struct PinGuard<'a> {
    hosts: &'a Hosts,
    host: i32,
    disp: usize,
}

impl Drop for PinGuard<'_> {
    fn drop(&mut self) {
        let _ = self.hosts.update(self.host, self.disp, Update::UNPIN);
    }
}

impl Hosts {
    /// Applies `update` to a state word; returns the old state.
    fn fetch_update(&self, host: i32, disp: usize, update: Update) -> Result<State> {
        let old = self.atomic(host, disp, update.op, update.operand)?;
        Ok(State::from_word(old))
    }

    /// Applies `update` to a state word, completed locally only: the target
    /// sees it when the library delivers it (at once on shared memory, and
    /// for CPU atomics).
    fn update(&self, host: i32, disp: usize, update: Update) -> Result<()> {
        self.accumulate(host, disp, update.op, update.operand)
    }

    /// Applies `update` to a state word and waits until the target has it.
    fn update_flush(&self, host: i32, disp: usize, update: Update) -> Result<()> {
        self.accumulate_flush(host, disp, update.op, update.operand)
    }

    /// The state of `var`'s descriptor, read atomically.
    fn state_of(&self, var: &Var) -> Result<State> {
        let (host, disp) = self.descriptor_of(var);
        self.fetch_update(host, disp, Update::READ)
    }

    /// Looks at a variable without pinning it: whether it exists, and an
    /// integer's value.
    ///
    /// The value word first (a get, or a load on a host mapped here), then one
    /// atomic read of the state: a live state of the handle's generation
    /// proves that the value word was the variable's when it was read (it
    /// is the variable's from its publish, which came before this rank had
    /// the handle, until `LIVE` is cleared, after which the generation never
    /// comes back), so a descriptor freed and reused meanwhile is `Freed`,
    /// never another variable's value. The read may race with a `modify` of
    /// the value (old or new value, see the crate documentation). For a list
    /// the value word means nothing and is ignored.
    pub(crate) fn peek(&self, var: &Var) -> Result<Peek> {
        let (host, disp) = self.descriptor_of(var);
        // Complete before the atomic read is issued: a flushed get, a copy
        // inside the fence bracket, or a load between two MPI_Win_sync.
        let value = self.bracketed(|| self.read_word(host, disp + INT_VALUE))?;
        fault::at(Point::BetweenIntReads);
        let state = self.state_of(var)?;
        Ok(if !state.is_live_generation(var.gen) {
            Peek::Freed
        } else if state.has(Flags::INT) {
            Peek::Int(value)
        } else {
            Peek::List
        })
    }

    /// Pins the variable, runs `f` with its placement and state, unpins.
    /// `None` when the variable no longer exists. Waits while an exclusive
    /// operation or a free holds the variable.
    ///
    /// The pin is one fetch-and-add that also returns the state: not this
    /// generation or not live → unpin, `None`; `BUSY` or `DEAD` → unpin and
    /// retry. While pinned, the placement cannot change and the slots
    /// cannot be freed, so the placement cached for this state key is valid.
    pub(crate) fn with_pinned<R>(
        &self,
        var: &Var,
        f: impl FnOnce(&Placement, State) -> Result<R>,
    ) -> Result<Option<R>> {
        self.check_handle(var)?;
        let (host, disp) = self.descriptor_of(var);
        // `Some(None)`: the variable is gone; `None`: busy, retry.
        let pinned = poll(Some(&self.comm), || -> Result<_> {
            let state = self.fetch_update(host, disp, Update::PIN)?;
            if !state.is_live_generation(var.gen) {
                self.update(host, disp, Update::UNPIN)?;
                return Ok(Some(None));
            }
            if !state.has(Flags::BUSY | Flags::DEAD) {
                return Ok(Some(Some(state)));
            }
            self.update(host, disp, Update::UNPIN)?;
            Ok(None)
        })?;
        let Some(state) = pinned else {
            return Ok(None);
        };
        fault::at(Point::Pinned);
        // `reduce` runs the caller's fold while pinned: a panic in it still
        // takes the pin back, so that no free or map waits for it forever.
        let on_panic = PinGuard {
            hosts: self,
            host,
            disp,
        };
        let result = self
            .placement(var, state.key())
            .and_then(|placement| self.bracketed(|| f(&placement, state)));
        std::mem::forget(on_panic);
        // `f` completed its operations remotely before we unpin.
        self.update(host, disp, Update::UNPIN)?;
        result.map(Some)
    }

    /// Waits until no operation pins the variable and none of `flags` is
    /// set; returns the state then.
    fn drain(&self, host: i32, disp: usize, flags: Flags) -> Result<State> {
        poll(Some(&self.comm), || -> Result<_> {
            let state = self.fetch_update(host, disp, Update::READ)?;
            Ok(state.is_drained(flags).then_some(state))
        })
    }

    /// Sets `flag` (one only) on `var`'s state word with a fetch-or. Returns
    /// the old state, in which `flag` is clear when this rank set it; `None`
    /// when the word is not the variable's live state any more, and then a
    /// flag this rank set (on a free or reused descriptor) is taken back at
    /// once, so that other ranks only ever see it as "busy, retry".
    fn set_flag(&self, var: &Var, flag: Flags) -> Result<Option<State>> {
        let (host, disp) = self.descriptor_of(var);
        let old = self.fetch_update(host, disp, Update::set(flag))?;
        if old.is_live_generation(var.gen) {
            return Ok(Some(old));
        }
        if !old.has(flag) {
            self.update_flush(host, disp, Update::clear(flag))?;
        }
        Ok(None)
    }

    /// Takes the variable exclusively (sets `BUSY`, then waits for the pins
    /// to drain), runs `f`, then releases it with a new version. `f` returns
    /// its result and the new placement. `None` when the variable no longer
    /// exists.
    ///
    /// A `BUSY` that another rank set (another exclusive operation, or a
    /// stale handle's for an instant) or a free in progress: back off and
    /// retry.
    pub(crate) fn with_exclusive<R>(
        &self,
        var: &Var,
        f: impl FnOnce(&Placement, State) -> Result<(R, Placement)>,
    ) -> Result<Option<R>> {
        let (host, disp) = self.descriptor_of(var);
        // `Some(false)`: the variable is gone; `None`: taken, retry.
        let taken = poll(Some(&self.comm), || -> Result<_> {
            let Some(old) = self.set_flag(var, Flags::BUSY)? else {
                return Ok(Some(false));
            };
            let ours = !old.has(Flags::BUSY);
            if ours && !old.has(Flags::DEAD) {
                return Ok(Some(true));
            }
            // Held by another rank, or being freed: back off.
            if ours {
                self.update_flush(host, disp, Update::clear(Flags::BUSY))?;
            }
            Ok(None)
        })?;
        if !taken {
            return Ok(None);
        }
        let state = self.drain(host, disp, Flags::NONE)?;
        let result = self
            .fetch_placement(var, state.has(Flags::INT))
            .and_then(|placement| self.bracketed(|| f(&placement, state)));
        // What `f` wrote completes at every target before the variable is
        // released, so that it is visible to whoever pins it next.
        let flushed = self.flush_all();
        let key = state.key();
        let release = key.end_exclusive();
        self.update_flush(host, disp, release)?;
        flushed?;
        let (r, placement) = result?;
        self.remember(var, release.apply(key), Rc::new(placement));
        Ok(Some(r))
    }

    /// Frees the variable's descriptor: sets `DEAD`, waits for the pins to
    /// drain and `BUSY` to clear, runs `release` with the placement (to
    /// return the slots), then clears the descriptor (`LIVE`, `INT`,
    /// `DEAD`), which the caller may then return to the allocator. `None`
    /// when the variable no longer exists (freed already, by any rank).
    ///
    /// From the moment `DEAD` is set no new operation can pin the variable
    /// or take it exclusively; a second free waits for the first and then
    /// finds it gone.
    pub(crate) fn with_freeing(
        &self,
        var: &Var,
        release: impl FnOnce(&Placement) -> Result<()>,
    ) -> Result<Option<()>> {
        let (host, disp) = self.descriptor_of(var);
        // `Some(false)`: freed already; `None`: another free is in progress
        // (or a stale handle's bit for an instant), wait for it.
        let marked = poll(Some(&self.comm), || -> Result<_> {
            Ok(match self.set_flag(var, Flags::DEAD)? {
                None => Some(false),
                Some(old) => (!old.has(Flags::DEAD)).then_some(true),
            })
        })?;
        if !marked {
            return Ok(None);
        }
        // From here no new operation can pin the variable or take it
        // exclusively; wait for those in progress.
        let state = self.drain(host, disp, Flags::BUSY)?;
        let placement = self.fetch_placement(var, state.has(Flags::INT))?;
        release(&placement)?;
        self.update_flush(
            host,
            disp,
            Update::clear(Flags::LIVE | Flags::INT | Flags::DEAD),
        )?;
        self.forget(var);
        Ok(Some(()))
    }

    /// Makes descriptor `index` of `host`, just taken from the allocator,
    /// hold a variable: writes its words (length and first extent, or length,
    /// value and reserved slot), then sets `LIVE` (and `INT`) with a new
    /// generation.
    pub(crate) fn publish(&self, host: i32, index: u32, words: [i64; 3], int: bool) -> Result<Var> {
        let disp = self.layout.descriptor(index as usize) + STATE;
        let state = self.fetch_update(host, disp, Update::READ)?;
        self.write_descriptor(host, index, words)?;
        // Data, chain and descriptor words complete before the variable
        // exists: whoever sees it live reads them after this flush.
        self.flush_all()?;
        let (update, generation) = state.publish(int);
        self.update_flush(host, disp, update)?;
        Ok(Var {
            host: host as u32,
            index,
            gen: generation,
        })
    }

    /// Waits until no exclusive operation (of any rank) holds the variable.
    /// `false` when it no longer exists.
    pub(crate) fn wait_not_busy(&self, var: &Var) -> Result<bool> {
        self.flush_all()?;
        poll(Some(&self.comm), || -> Result<_> {
            let state = self.state_of(var)?;
            if !state.is_live_generation(var.gen) {
                return Ok(Some(false));
            }
            Ok((!state.has(Flags::BUSY)).then_some(true))
        })
    }
}
