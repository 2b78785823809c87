//! The operations of the seed on variables: add, read, modify, reduce, map,
//! filter, free (and wait).
//!
//! A variable that was freed (by any rank) is [`Error::Freed`] for every
//! operation except [`modify`](DistributedMemory::modify), which keeps the
//! seed's boolean: `Ok(false)`, "the modification has not taken place".

use crate::error::{Error, Result};
use crate::layout::{pack_extent, INT_VALUE};
use crate::memory::DistributedMemory;
use crate::placement::Placement;
use crate::protocol::Peek;
use crate::state::Flags;
use crate::value::{Value, Var};
use std::ops::Range;

impl DistributedMemory {
    /// Stores a value and returns its handle.
    ///
    /// A list larger than any host's free space is split across hosts (the
    /// hosts with the most free space first). When the whole memory cannot
    /// hold it, returns [`Error::OutOfMemory`] (or
    /// [`Error::TooManyVariables`]) and nothing stays allocated.
    ///
    /// ```no_run
    /// # let universe = mpi::initialize().unwrap();
    /// # let mem = dsm_kv::init_memory(&universe.world(), 10)?;
    /// let n = mem.add(42)?;
    /// let list = mem.add(vec![1, 2, 3])?;
    /// let from_array = mem.add([4, 5])?;
    /// # Ok::<(), dsm_kv::Error>(())
    /// ```
    pub fn add(&self, value: impl Into<Value>) -> Result<Var> {
        let hosts = &self.hosts;
        match value.into() {
            Value::Int(v) => {
                let extents = hosts.alloc_slots(1)?;
                let e = extents[0];
                let (host, index) = match hosts.alloc_descriptor(e.host) {
                    Ok(d) => d,
                    Err(err) => {
                        hosts.release_slots(&extents)?;
                        return Err(err);
                    }
                };
                hosts.publish(host, index, [1, v, pack_extent(&e)], true)
            }
            Value::List(values) => {
                let placement = Placement {
                    len: values.len(),
                    extents: hosts.alloc_slots(values.len())?,
                };
                // The slots are this rank's from their allocation (under
                // the hosts' locks) until the publish.
                hosts.bracketed(|| hosts.write_values(&placement, &values))?;
                hosts.write_chain(&placement.extents)?;
                let prefer = placement
                    .extents
                    .first()
                    .map_or(1 + self.rank() % self.hosts() as i32, |e| e.host);
                let (host, index) = match hosts.alloc_descriptor(prefer) {
                    Ok(d) => d,
                    Err(err) => {
                        hosts.release_slots(&placement.extents)?;
                        return Err(err);
                    }
                };
                hosts.publish(host, index, placement.list_descriptor(), false)
            }
        }
    }

    /// Reads a variable: a consistent snapshot with respect to `map`,
    /// `filter` and `free` (see the crate documentation).
    ///
    /// [`Error::Freed`] when the variable was freed.
    pub fn read(&self, var: &Var) -> Result<Value> {
        self.hosts.check_handle(var)?;
        match self.hosts.peek(var)? {
            Peek::Freed => Err(Error::Freed(*var)),
            Peek::Int(v) => Ok(Value::Int(v)),
            Peek::List => self
                .hosts
                .with_pinned(var, |placement, _| {
                    self.hosts.read_values(placement, 0..placement.len)
                })?
                .map(Value::List)
                .ok_or(Error::Freed(*var)),
        }
    }

    /// Reads elements `range` of a variable (an integer is a list of one):
    /// a snapshot as [`read`](Self::read) is, which moves only those
    /// elements: a list's first and last elements cost two words, not the
    /// whole list.
    ///
    /// [`Error::IndexOutOfBounds`] unless `range.start <= range.end <= len`;
    /// [`Error::Freed`] when the variable was freed.
    ///
    /// ```no_run
    /// # let universe = mpi::initialize().unwrap();
    /// # let mem = dsm_kv::init_memory(&universe.world(), 10)?;
    /// let var = mem.add(vec![1, 2, 3, 4])?;
    /// assert_eq!(mem.read_range(&var, 1..3)?, [2, 3]);
    /// assert_eq!(mem.read_range(&var, 4..4)?, []);
    /// # Ok::<(), dsm_kv::Error>(())
    /// ```
    pub fn read_range(&self, var: &Var, range: Range<usize>) -> Result<Vec<i64>> {
        self.hosts.check_handle(var)?;
        let check = |len: usize| {
            if range.start <= range.end && range.end <= len {
                return Ok(());
            }
            // The first index asked for that the variable does not have.
            let index = if range.end > len {
                range.start.max(len)
            } else {
                range.start
            };
            Err(Error::IndexOutOfBounds { index, len })
        };
        match self.hosts.peek(var)? {
            Peek::Freed => Err(Error::Freed(*var)),
            Peek::Int(v) => check(1).map(|()| vec![v; range.len()]),
            Peek::List => self
                .hosts
                .with_pinned(var, |placement, _| {
                    check(placement.len)?;
                    self.hosts.read_values(placement, range.clone())
                })?
                .ok_or(Error::Freed(*var)),
        }
    }

    /// Writes `value` at element `index` (0 for an integer).
    ///
    /// Returns, as the seed does, whether the modification took place:
    /// `Ok(true)` once the write is visible to every rank, `Ok(false)` when
    /// the variable no longer exists (freed, by any rank) — the one
    /// operation for which a freed variable is not [`Error::Freed`].
    /// [`Error::IndexOutOfBounds`] when `index` is past the end.
    ///
    /// ```no_run
    /// # let universe = mpi::initialize().unwrap();
    /// # let mem = dsm_kv::init_memory(&universe.world(), 10)?;
    /// let var = mem.add(vec![1, 2, 3])?;
    /// assert!(mem.modify(&var, 42, 0)?);
    /// mem.free(var)?;
    /// assert!(!mem.modify(&var, 42, 0)?);
    /// # Ok::<(), dsm_kv::Error>(())
    /// ```
    pub fn modify(&self, var: &Var, value: i64, index: usize) -> Result<bool> {
        let done = self.hosts.with_pinned(var, |placement, state| {
            if index >= placement.len {
                return Err(Error::IndexOutOfBounds {
                    index,
                    len: placement.len,
                });
            }
            let (host, disp) = if state.has(Flags::INT) {
                let (host, disp) = self.hosts.descriptor_of(var);
                (host, disp + INT_VALUE)
            } else {
                let (host, slot) = placement.locate(index);
                (host, self.hosts.layout.data_slot(slot))
            };
            self.hosts.write_word(host, disp, value)
        })?;
        Ok(done.is_some())
    }

    /// Folds the elements in list order: `f(...f(f(init, x0), x1)..., xn)`.
    /// An integer is a list of one.
    ///
    /// [`Error::Freed`] when the variable was freed.
    ///
    /// It reads the list a chunk at a time (one pass, no copy of the whole
    /// list), pinned as a `read` is, so it folds a snapshot with respect to
    /// `map`, `filter` and `free`; `f` runs meanwhile and must not call this
    /// memory on the same variable.
    pub fn reduce<T>(&self, var: &Var, mut f: impl FnMut(T, i64) -> T, init: T) -> Result<T> {
        self.hosts.check_handle(var)?;
        match self.hosts.peek(var)? {
            Peek::Freed => Err(Error::Freed(*var)),
            Peek::Int(v) => Ok(f(init, v)),
            Peek::List => self
                .hosts
                .with_pinned(var, |placement, _| {
                    self.hosts.fold_values(placement, init, f)
                })?
                .ok_or(Error::Freed(*var)),
        }
    }

    /// Replaces every element `x` by `f(x)` (an integer too).
    ///
    /// The calling rank computes `f`; the new values are written back as it
    /// goes, chunk by chunk (in place, on the direct path). When `map`
    /// returns, the new values are complete and visible to every later
    /// operation of any rank. (The seed API allows
    /// `map` to return earlier; this one never does, and [`wait`](Self::wait)
    /// waits for maps and filters that *other* ranks are running.)
    ///
    /// `f` must not call this memory on the same variable (it would wait for
    /// itself). [`Error::Freed`] when the variable was freed.
    pub fn map(&self, var: &Var, mut f: impl FnMut(i64) -> i64) -> Result<()> {
        self.hosts.check_handle(var)?;
        self.hosts
            .with_exclusive(var, |placement, state| {
                if state.has(Flags::INT) {
                    let (host, disp) = self.hosts.descriptor_of(var);
                    let value = self.hosts.read_word(host, disp + INT_VALUE)?;
                    self.hosts.write_word(host, disp + INT_VALUE, f(value))?;
                } else {
                    self.hosts.map_values(placement, f)?;
                }
                Ok(((), placement.clone()))
            })?
            .ok_or(Error::Freed(*var))
    }

    /// Keeps the elements for which `pred` is `true`, in order, and returns
    /// the new length. The list shrinks from its end: slots no longer needed
    /// return to their hosts, and indices `0..new_len` address the kept
    /// elements. [`Error::NotAList`] for an integer, [`Error::Freed`] when
    /// the variable was freed.
    pub fn filter(&self, var: &Var, mut pred: impl FnMut(i64) -> bool) -> Result<usize> {
        self.hosts.check_handle(var)?;
        self.hosts
            .with_exclusive(var, |placement, state| {
                if state.has(Flags::INT) {
                    return Err(Error::NotAList(*var));
                }
                let kept = self.hosts.compact_values(placement, &mut pred)?;
                if kept == placement.len {
                    return Ok((kept, placement.clone()));
                }
                let (new_placement, released) = placement.truncate(kept);
                // Only two links change: the one naming the last kept extent
                // (its length), and that extent's own, which ends the chain.
                let from = new_placement.extents.len().saturating_sub(2);
                self.hosts.write_chain(&new_placement.extents[from..])?;
                let (host, index) = (var.host as i32, var.index);
                self.hosts
                    .write_descriptor(host, index, new_placement.list_descriptor())?;
                // The metadata no longer names the released slots: give them back.
                self.hosts.flush_all()?;
                self.hosts.release_slots(&released)?;
                Ok((kept, new_placement))
            })?
            .ok_or(Error::Freed(*var))
    }

    /// Waits until no `map` or `filter` (of any rank) is in progress on the
    /// variable. [`Error::Freed`] when it was freed.
    pub fn wait(&self, var: &Var) -> Result<()> {
        self.hosts.check_handle(var)?;
        if self.hosts.wait_not_busy(var)? {
            Ok(())
        } else {
            Err(Error::Freed(*var))
        }
    }

    /// Frees a variable: its slots and descriptor return to their hosts.
    ///
    /// Waits for operations of other ranks in progress on the variable to
    /// finish first. [`Error::Freed`] when the variable was freed already
    /// (a double free, or another rank freed it first: of several ranks
    /// freeing a variable at once, exactly one succeeds).
    pub fn free(&self, var: Var) -> Result<()> {
        self.hosts.check_handle(&var)?;
        self.hosts
            .with_freeing(&var, |placement| {
                self.hosts.release_slots(&placement.extents)
            })?
            .ok_or(Error::Freed(var))?;
        self.hosts
            .release_descriptor(var.host as i32, var.index as usize)
    }
}
