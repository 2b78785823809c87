//! The distributed memory itself: windows, allocation and the operations.

use crate::bitmap;
use crate::error::{Error, Result};
use crate::value::{Extent, Value, Var};
use mpi::topology::Communicator;
use shm_core::window::{LockedWindow, Op, Rma, Window};
use shm_core::OwnedComm;
use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};
use std::rc::Rc;
use std::time::Duration;

// --- The state word of a descriptor -------------------------------------
//
// bits  0..16  pins: operations in progress that need the layout to stay put
// bit  16      BUSY: an exclusive operation (map, filter) is in progress
// bit  17      DEAD: a free is in progress
// bit  18      LIVE: the descriptor holds a variable
// bit  19      INT: the variable is an integer (its value is in the descriptor)
// bits 20..40  version, bumped by every exclusive operation
// bits 40..63  generation, bumped by every allocation of the descriptor
const PIN_MASK: i64 = 0xFFFF;
const BUSY: i64 = 1 << 16;
const DEAD: i64 = 1 << 17;
const LIVE: i64 = 1 << 18;
const INT: i64 = 1 << 19;
const VER_SHIFT: u32 = 20;
const VER_MASK: i64 = (1 << 20) - 1;
const GEN_SHIFT: u32 = 40;
const GEN_MASK: i64 = (1 << 23) - 1;

/// "No extent" in a packed extent reference.
const NONE: i64 = -1;
/// A packed extent reference is `host << REF_SHIFT | start`.
const REF_SHIFT: u32 = 40;

// --- The window of a host (all offsets in i64 words) --------------------
/// Words 0 and 1: the allocation lock of the host, a ticket lock (next
/// ticket, ticket served), taken with fetch-and-add only: Open MPI 4.1's
/// default one-sided component crashes the target on `MPI_Compare_and_swap`
/// over shared memory, so this crate never uses it.
const LOCK_NEXT: usize = 0;
const LOCK_SERVING: usize = 1;
/// Word 2: data slots in use on the host.
const USED_DATA: usize = 2;
/// Word 3: descriptors in use on the host.
const USED_DESC: usize = 3;
/// Words before the bitmaps.
const HEADER: usize = 4;
/// Words of a descriptor: state, length, first extent (or the integer's
/// value), length of the first extent (or the integer's reserved slot).
const DESC_WORDS: usize = 4;

fn gen_of(state: i64) -> u32 {
    ((state >> GEN_SHIFT) & GEN_MASK) as u32
}

fn pack_ref(e: &Extent) -> i64 {
    ((e.host as i64) << REF_SHIFT) | e.start as i64
}

/// The configuration of [`init_memory_with`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Config {
    /// The number of `i64` slots every host (every rank but 0) lends.
    pub max_per_slave: usize,
    /// The number of variable descriptors per host; `None` gives
    /// `max_per_slave + 8`, enough for a memory full of integers plus a few
    /// empty lists. Each costs 32 bytes on its host.
    pub vars_per_slave: Option<usize>,
}

impl Config {
    /// `max_per_slave` slots per host and the default number of descriptors.
    pub fn new(max_per_slave: usize) -> Config {
        Config {
            max_per_slave,
            vars_per_slave: None,
        }
    }
}

/// Where each part of a host's window starts.
#[derive(Debug, Clone, Copy)]
struct Offsets {
    data_bits: usize,
    desc_bits: usize,
    desc: usize,
    meta: usize,
    data: usize,
    total: usize,
}

impl Offsets {
    fn new(slots: usize, descs: usize) -> Option<Offsets> {
        let data_bits = HEADER;
        let desc_bits = data_bits.checked_add(slots.div_ceil(64))?;
        let desc = desc_bits.checked_add(descs.div_ceil(64))?;
        let meta = desc.checked_add(descs.checked_mul(DESC_WORDS)?)?;
        let data = meta.checked_add(slots.checked_mul(2)?)?;
        let total = data.checked_add(slots)?;
        Some(Offsets {
            data_bits,
            desc_bits,
            desc,
            meta,
            data,
            total,
        })
    }
}

/// The layout of a variable: its length and its extents in list order. An
/// integer has one extent, the slot it reserves (its value lives in the
/// descriptor).
#[derive(Debug, Clone)]
struct Shape {
    len: usize,
    extents: Vec<Extent>,
}

/// Layouts by (host, descriptor), each with the state key it is valid for.
type ShapeCache = HashMap<(u32, u32), (i64, Rc<Shape>)>;

/// Spin-then-sleep waiting.
struct Backoff(u32);

impl Backoff {
    fn new() -> Backoff {
        Backoff(0)
    }

    fn snooze(&mut self) {
        self.0 = self.0.saturating_add(1);
        if self.0 < 8 {
            std::thread::yield_now();
        } else {
            std::thread::sleep(Duration::from_micros(20 * u64::from(self.0.min(50))));
        }
    }
}

/// A distributed memory of `i64` and lists of `i64`.
///
/// Created on every rank by [`init_memory`]; see the [crate documentation](crate)
/// for the model. Operations are one-sided: any rank may call any of them at
/// any time, the hosts need not take part. [`quit`](Self::quit) (or dropping
/// the handle) is collective.
///
/// Not `Send` or `Sync` (it holds MPI windows).
pub struct DistributedMemory {
    // Field order matters: the window is freed before the communicator.
    win: LockedWindow<i64>,
    comm: OwnedComm,
    slots: usize,
    descs: usize,
    off: Offsets,
    cache: RefCell<ShapeCache>,
}

impl std::fmt::Debug for DistributedMemory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DistributedMemory")
            .field("rank", &self.comm.rank())
            .field("hosts", &self.hosts())
            .field("max_per_slave", &self.slots)
            .field("vars_per_slave", &self.descs)
            .finish()
    }
}

/// Creates the distributed memory (collective over `comm`): every rank but
/// rank 0 (the master) lends `max_per_slave` `i64` slots.
///
/// Needs at least two processes ([`Error::TooFewProcesses`] on every rank
/// otherwise). Every rank must pass the same value.
pub fn init_memory<C: Communicator + ?Sized>(
    comm: &C,
    max_per_slave: usize,
) -> Result<DistributedMemory> {
    init_memory_with(comm, Config::new(max_per_slave))
}

/// [`init_memory`] with every setting (collective over `comm`; every rank
/// must pass the same configuration).
pub fn init_memory_with<C: Communicator + ?Sized>(
    comm: &C,
    config: Config,
) -> Result<DistributedMemory> {
    let comm = OwnedComm::duplicate(comm)?;
    let size = comm.size();
    if size < 2 {
        return Err(Error::TooFewProcesses { size });
    }
    let slots = config.max_per_slave;
    let descs = config
        .vars_per_slave
        .unwrap_or_else(|| slots.saturating_add(8));
    let offsets = Offsets::new(slots, descs);
    let local = if slots >= 1 << REF_SHIFT {
        Err(format!(
            "max_per_slave = {slots} is too large (at most 2^40 - 1)"
        ))
    } else if descs == 0 || descs > u32::MAX as usize {
        Err(format!(
            "vars_per_slave = {descs} must be between 1 and 2^32 - 1"
        ))
    } else if size as i64 >= 1 << 23 {
        Err(format!("{size} processes are too many (at most 2^23 - 1)"))
    } else if offsets.is_none() {
        Err(format!(
            "{slots} slots and {descs} descriptors per host do not fit in memory"
        ))
    } else {
        Ok(())
    };
    comm.agree(local).map_err(|e| match e {
        shm_core::Error::Invalid { message, .. } => Error::Config(message),
        other => Error::Core(other),
    })?;
    // Every rank must ask for the same sizes.
    let (s, d) = (slots as i64, descs as i64);
    let mut minmax = [s, -s, d, -d];
    comm.all_reduce_min(&mut minmax)?;
    if minmax[0] != -minmax[1] || minmax[2] != -minmax[3] {
        return Err(Error::Config(format!(
            "the ranks disagree on the sizes: max_per_slave from {} to {}, vars_per_slave from {} to {}",
            minmax[0], -minmax[1], minmax[2], -minmax[3]
        )));
    }
    let off = offsets.expect("agreed above");
    let len = if comm.rank() == 0 { 0 } else { off.total };
    let win = Window::<i64>::allocate(comm.communicator(), len)?.into_locked(true)?;
    Ok(DistributedMemory {
        win,
        comm,
        slots,
        descs,
        off,
        cache: RefCell::new(HashMap::new()),
    })
}

impl DistributedMemory {
    // ----- Queries ----------------------------------------------------------

    /// This process's rank (in the communicator given to [`init_memory`]).
    pub fn rank(&self) -> i32 {
        self.comm.rank()
    }

    /// `true` on rank 0, the master.
    pub fn is_master(&self) -> bool {
        self.rank() == 0
    }

    /// The number of hosts (every rank but the master).
    pub fn hosts(&self) -> usize {
        self.comm.size() as usize - 1
    }

    /// The slots lent by each host.
    pub fn max_per_slave(&self) -> usize {
        self.slots
    }

    /// The slots of the whole memory (`hosts() * max_per_slave()`).
    pub fn capacity(&self) -> usize {
        self.hosts() * self.slots
    }

    /// The slots free now, in the whole memory. Exact when no allocation or
    /// free is in progress on another rank. An integer takes one slot, a list
    /// one per element.
    pub fn free_slots(&self) -> Result<usize> {
        let mut free = 0;
        for host in self.host_ranks() {
            free += self.free_on(host)?;
        }
        Ok(free)
    }

    /// The variables that can still be created on all hosts together (free
    /// descriptors).
    pub fn free_descriptors(&self) -> Result<usize> {
        let mut free = 0;
        for host in self.host_ranks() {
            let used = self.atomic_read(host, USED_DESC)?;
            free += self.descs.saturating_sub(used.max(0) as usize);
        }
        Ok(free)
    }

    /// The number of elements of a variable (1 for an integer).
    pub fn len(&self, var: &Var) -> Result<usize> {
        self.with_pinned(var, |shape, _| Ok(shape.len))?
            .ok_or(Error::Freed(*var))
    }

    /// Where the elements of a list are: its extents in list order (for an
    /// integer, the slot it reserves).
    pub fn placement(&self, var: &Var) -> Result<Vec<Extent>> {
        self.with_pinned(var, |shape, _| Ok(shape.extents.clone()))?
            .ok_or(Error::Freed(*var))
    }

    // ----- Operations -------------------------------------------------------

    /// Stores a value and returns its handle.
    ///
    /// A list larger than any host's free space is split across hosts (the
    /// hosts with the most free space first). When the whole memory cannot
    /// hold it, returns [`Error::OutOfMemory`] and nothing stays allocated.
    pub fn add(&self, value: impl Into<Value>) -> Result<Var> {
        match value.into() {
            Value::Int(v) => {
                let extents = self.alloc_slots(1)?;
                let e = extents[0];
                let (host, index, state) = match self.alloc_desc(e.host) {
                    Ok(d) => d,
                    Err(err) => {
                        self.release_slots(&extents)?;
                        return Err(err);
                    }
                };
                self.publish(host, index, state, [1, v, pack_ref(&e)], true)
            }
            Value::List(values) => {
                let extents = self.alloc_slots(values.len())?;
                let shape = Shape {
                    len: values.len(),
                    extents,
                };
                self.write_values(&shape, &values)?;
                self.write_chain(&shape.extents)?;
                let prefer = shape
                    .extents
                    .first()
                    .map_or(1 + self.rank() % self.hosts() as i32, |e| e.host);
                let (host, index, state) = match self.alloc_desc(prefer) {
                    Ok(d) => d,
                    Err(err) => {
                        self.release_slots(&shape.extents)?;
                        return Err(err);
                    }
                };
                let (first, first_len) = shape
                    .extents
                    .first()
                    .map_or((NONE, 0), |e| (pack_ref(e), e.len as i64));
                self.publish(
                    host,
                    index,
                    state,
                    [values.len() as i64, first, first_len],
                    false,
                )
            }
        }
    }

    /// Reads a variable: a consistent snapshot with respect to `map`,
    /// `filter` and `free` (see the crate documentation).
    ///
    /// [`Error::Freed`] when the variable was freed.
    pub fn read(&self, var: &Var) -> Result<Value> {
        self.check_handle(var)?;
        let (host, disp) = self.desc_of(var);
        // Integers: one get of state, length and value, then an atomic
        // re-read of the state proves that the variable was not freed (and
        // its descriptor reused) while we read.
        let mut words = [0i64; 3];
        self.win.get(host, disp, &mut words)?;
        if !exists(var, words[0]) {
            return Err(Error::Freed(*var));
        }
        if words[0] & INT != 0 {
            let again = self.atomic_read(host, disp)?;
            return if exists(var, again) {
                Ok(Value::Int(words[2]))
            } else {
                Err(Error::Freed(*var))
            };
        }
        self.with_pinned(var, |shape, _| self.read_values(shape))?
            .map(Value::List)
            .ok_or(Error::Freed(*var))
    }

    /// Writes `value` at element `index` (0 for an integer).
    ///
    /// Returns `Ok(true)` once the write is visible to every rank, `Ok(false)`
    /// when the variable no longer exists (freed, by any rank).
    /// [`Error::IndexOutOfBounds`] when `index` is past the end.
    pub fn modify(&self, var: &Var, value: i64, index: usize) -> Result<bool> {
        self.check_handle(var)?;
        let done = self.with_pinned(var, |shape, state| {
            if index >= shape.len {
                return Err(Error::IndexOutOfBounds {
                    index,
                    len: shape.len,
                });
            }
            let (host, disp) = if state & INT != 0 {
                let (host, disp) = self.desc_of(var);
                (host, disp + 2)
            } else {
                let (host, slot) = locate(shape, index);
                (host, self.off.data + slot)
            };
            self.win.put_flush(host, disp, &[value])?;
            Ok(())
        })?;
        Ok(done.is_some())
    }

    /// Folds the elements in list order: `f(...f(f(init, x0), x1)..., xn)`.
    /// An integer is a list of one.
    pub fn reduce<T>(&self, var: &Var, f: impl FnMut(T, i64) -> T, init: T) -> Result<T> {
        Ok(self.read(var)?.into_vec().into_iter().fold(init, f))
    }

    /// Replaces every element `x` by `f(x)` (an integer too).
    ///
    /// The calling rank computes `f`; the new values are written back with
    /// one put per extent. When `map` returns, the new values are complete
    /// and visible to every later operation of any rank. (The seed API allows
    /// `map` to return earlier; this one never does, and [`wait`](Self::wait)
    /// waits for maps and filters that *other* ranks are running.)
    ///
    /// `f` must not call this memory on the same variable (it would wait for
    /// itself).
    pub fn map(&self, var: &Var, mut f: impl FnMut(i64) -> i64) -> Result<()> {
        self.check_handle(var)?;
        self.with_exclusive(var, |shape, state| {
            if state & INT != 0 {
                let (host, disp) = self.desc_of(var);
                let mut v = [0i64];
                self.win.get(host, disp + 2, &mut v)?;
                self.win.put(host, disp + 2, &[f(v[0])])?;
            } else {
                let mut values = self.read_values(shape)?;
                values.iter_mut().for_each(|x| *x = f(*x));
                self.write_values(shape, &values)?;
            }
            Ok(((), shape.clone()))
        })?
        .ok_or(Error::Freed(*var))
    }

    /// Keeps the elements for which `pred` is `true`, in order, and returns
    /// the new length. The list shrinks from its end: slots no longer needed
    /// return to their hosts, and indices `0..new_len` address the kept
    /// elements. [`Error::NotAList`] for an integer.
    pub fn filter(&self, var: &Var, mut pred: impl FnMut(i64) -> bool) -> Result<usize> {
        self.check_handle(var)?;
        self.with_exclusive(var, |shape, state| {
            if state & INT != 0 {
                return Err(Error::NotAList(*var));
            }
            let kept: Vec<i64> = self
                .read_values(shape)?
                .into_iter()
                .filter(|&x| pred(x))
                .collect();
            let k = kept.len();
            let mut extents = Vec::new();
            let mut released = Vec::new();
            let mut offset = 0;
            for e in &shape.extents {
                let keep = k.saturating_sub(offset).min(e.len);
                if keep > 0 {
                    extents.push(Extent { len: keep, ..*e });
                }
                if keep < e.len {
                    released.push(Extent {
                        host: e.host,
                        start: e.start + keep,
                        len: e.len - keep,
                    });
                }
                offset += e.len;
            }
            let new_shape = Shape { len: k, extents };
            self.write_values(&new_shape, &kept)?;
            self.write_chain(&new_shape.extents)?;
            let (first, first_len) = new_shape
                .extents
                .first()
                .map_or((NONE, 0), |e| (pack_ref(e), e.len as i64));
            let (host, disp) = self.desc_of(var);
            self.win
                .put(host, disp + 1, &[k as i64, first, first_len])?;
            // The metadata no longer names the released slots: give them back.
            self.win.flush_all()?;
            self.release_slots(&released)?;
            Ok((k, new_shape))
        })?
        .ok_or(Error::Freed(*var))
    }

    /// Waits until no `map` or `filter` (of any rank) is in progress on the
    /// variable. [`Error::Freed`] when it was freed.
    pub fn wait(&self, var: &Var) -> Result<()> {
        self.check_handle(var)?;
        self.win.flush_all()?;
        let (host, disp) = self.desc_of(var);
        let mut backoff = Backoff::new();
        loop {
            let state = self.atomic_read(host, disp)?;
            if !exists(var, state) {
                return Err(Error::Freed(*var));
            }
            if state & BUSY == 0 {
                return Ok(());
            }
            backoff.snooze();
        }
    }

    /// Frees a variable: its slots and descriptor return to their hosts.
    ///
    /// Returns `Ok(false)` when the variable was already freed (double free,
    /// or another rank freed it first). Waits for operations of other ranks
    /// in progress on the variable to finish first.
    pub fn free(&self, var: Var) -> Result<bool> {
        self.check_handle(&var)?;
        let (host, disp) = self.desc_of(&var);
        let mut backoff = Backoff::new();
        loop {
            let old = self.set_flag(host, disp, DEAD)?;
            let ours = old & DEAD == 0;
            if gen_of(old) != var.gen || old & LIVE == 0 {
                // Freed already (our DEAD bit, if any, landed on a free or
                // reused descriptor: take it back).
                if ours {
                    self.clear_flag(host, disp, DEAD)?;
                }
                return Ok(false);
            }
            if ours {
                break;
            }
            // Another free is in progress (or a stale handle's bit for an
            // instant): wait for it.
            backoff.snooze();
        }
        // From here no new operation can pin the variable or take it
        // exclusively; wait for those in progress.
        let state = self.drain(host, disp, BUSY)?;
        let shape = self.fetch_shape(&var, state & INT != 0)?;
        self.release_slots(&shape.extents)?;
        self.clear_flag(host, disp, LIVE | INT | DEAD)?;
        self.release_desc(host, var.index as usize)?;
        self.cache.borrow_mut().remove(&(var.host, var.index));
        Ok(true)
    }

    /// Ends the memory (collective): waits for every rank, then frees the
    /// windows. The hosts of a master-driven program just call this and wait.
    pub fn quit(self) -> Result<()> {
        self.win.flush_all()?;
        self.comm.barrier()?;
        drop(self);
        Ok(())
    }

    // ----- Internals ----------------------------------------------------------

    fn host_ranks(&self) -> std::ops::Range<i32> {
        1..self.comm.size()
    }

    fn check_handle(&self, var: &Var) -> Result<()> {
        if var.host == 0
            || var.host >= self.comm.size() as u32
            || var.index as usize >= self.descs
            || var.gen == 0
        {
            Err(Error::InvalidHandle(*var))
        } else {
            Ok(())
        }
    }

    fn desc_of(&self, var: &Var) -> (i32, usize) {
        (
            var.host as i32,
            self.off.desc + DESC_WORDS * var.index as usize,
        )
    }

    fn atomic_read(&self, host: i32, disp: usize) -> Result<i64> {
        Ok(self.win.fetch_and_op(host, disp, 0, Op::NoOp)?)
    }

    fn free_on(&self, host: i32) -> Result<usize> {
        let used = self.atomic_read(host, USED_DATA)?;
        Ok(self.slots.saturating_sub(used.max(0) as usize))
    }

    /// Runs `f` holding `host`'s allocation lock (a FIFO ticket lock in its
    /// window); the lock is released even when `f` fails.
    fn with_host_lock<R>(&self, host: i32, f: impl FnOnce() -> Result<R>) -> Result<R> {
        let ticket = self.win.fetch_and_op(host, LOCK_NEXT, 1, Op::Sum)?;
        let mut backoff = Backoff::new();
        while self.atomic_read(host, LOCK_SERVING)? != ticket {
            backoff.snooze();
        }
        let result = f();
        // Everything done under the lock completes before the release.
        let flushed = self.win.flush(host);
        self.win
            .accumulate_flush(host, LOCK_SERVING, &[1], Op::Sum)?;
        flushed?;
        result
    }

    /// Atomically sets `flag` in a state word; returns the old state.
    fn set_flag(&self, host: i32, disp: usize, flag: i64) -> Result<i64> {
        Ok(self.win.fetch_and_op(host, disp, flag, Op::BitOr)?)
    }

    /// Atomically clears `flag` in a state word (this rank set it).
    fn clear_flag(&self, host: i32, disp: usize, flag: i64) -> Result<()> {
        self.win
            .accumulate_flush(host, disp, &[!flag], Op::BitAnd)?;
        Ok(())
    }

    fn get_bits(&self, host: i32, disp: usize, words: usize) -> Result<Vec<u64>> {
        let mut raw = vec![0i64; words];
        self.win.get(host, disp, &mut raw)?;
        Ok(raw.into_iter().map(|w| w as u64).collect())
    }

    fn put_bits(
        &self,
        host: i32,
        disp: usize,
        bits: &[u64],
        first: usize,
        last: usize,
    ) -> Result<()> {
        let raw: Vec<i64> = bits[first..=last].iter().map(|&w| w as i64).collect();
        self.win.put(host, disp + first, &raw)?;
        Ok(())
    }

    /// Allocates `n` data slots, first fit, from the hosts with the most free
    /// space first. All or nothing.
    fn alloc_slots(&self, n: usize) -> Result<Vec<Extent>> {
        if n == 0 {
            return Ok(Vec::new());
        }
        let mut hosts = Vec::with_capacity(self.hosts());
        for host in self.host_ranks() {
            hosts.push((self.free_on(host)?, host));
        }
        let total: usize = hosts.iter().map(|h| h.0).sum();
        if total < n {
            return Err(Error::OutOfMemory {
                requested: n,
                free: total,
                capacity: self.capacity(),
            });
        }
        hosts.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
        let mut got = Vec::new();
        let mut need = n;
        for &(free, host) in &hosts {
            if need == 0 {
                break;
            }
            if free == 0 {
                continue;
            }
            let runs = self.with_host_lock(host, || {
                let mut bits = self.get_bits(host, self.off.data_bits, self.slots.div_ceil(64))?;
                let runs = bitmap::take_runs(&mut bits, self.slots, need);
                if let (Some(first), Some(last)) = (runs.first(), runs.last()) {
                    self.put_bits(
                        host,
                        self.off.data_bits,
                        &bits,
                        first.0 / 64,
                        (last.0 + last.1 - 1) / 64,
                    )?;
                    let taken: usize = runs.iter().map(|r| r.1).sum();
                    self.win
                        .accumulate(host, USED_DATA, &[taken as i64], Op::Sum)?;
                }
                Ok(runs)
            })?;
            for (start, len) in runs {
                need -= len;
                got.push(Extent { host, start, len });
            }
        }
        if need > 0 {
            // Other ranks took space in the meantime: roll back.
            self.release_slots(&got)?;
            return Err(Error::OutOfMemory {
                requested: n,
                free: self.free_slots()?,
                capacity: self.capacity(),
            });
        }
        Ok(got)
    }

    /// Returns data slots to their hosts.
    fn release_slots(&self, extents: &[Extent]) -> Result<()> {
        let mut by_host: BTreeMap<i32, Vec<Extent>> = BTreeMap::new();
        for e in extents.iter().filter(|e| e.len > 0) {
            by_host.entry(e.host).or_default().push(*e);
        }
        for (host, extents) in by_host {
            self.with_host_lock(host, || {
                let mut bits = self.get_bits(host, self.off.data_bits, self.slots.div_ceil(64))?;
                let (mut first, mut last, mut count) = (usize::MAX, 0, 0);
                for e in &extents {
                    if e.start + e.len > self.slots || !bitmap::clear_run(&mut bits, e.start, e.len)
                    {
                        return Err(Error::Corrupted(format!(
                            "slots {}..{} of host {host} are not allocated",
                            e.start,
                            e.start + e.len
                        )));
                    }
                    first = first.min(e.start / 64);
                    last = last.max((e.start + e.len - 1) / 64);
                    count += e.len;
                }
                self.put_bits(host, self.off.data_bits, &bits, first, last)?;
                self.win
                    .accumulate(host, USED_DATA, &[-(count as i64)], Op::Sum)?;
                Ok(())
            })?;
        }
        Ok(())
    }

    /// Takes a free descriptor, on `prefer` if it has one, else on the next
    /// hosts. Returns (host, index, current state word).
    fn alloc_desc(&self, prefer: i32) -> Result<(i32, u32, i64)> {
        let hosts = self.hosts() as i32;
        for k in 0..hosts {
            let host = 1 + (prefer - 1 + k) % hosts;
            if self.atomic_read(host, USED_DESC)? as usize >= self.descs {
                continue;
            }
            let index = self.with_host_lock(host, || {
                let mut bits = self.get_bits(host, self.off.desc_bits, self.descs.div_ceil(64))?;
                let index = bitmap::take_one(&mut bits, self.descs);
                if let Some(i) = index {
                    self.put_bits(host, self.off.desc_bits, &bits, i / 64, i / 64)?;
                    self.win.accumulate(host, USED_DESC, &[1], Op::Sum)?;
                }
                Ok(index)
            })?;
            if let Some(index) = index {
                let disp = self.off.desc + DESC_WORDS * index;
                let state = self.atomic_read(host, disp)?;
                return Ok((host, index as u32, state));
            }
        }
        Err(Error::TooManyVariables {
            capacity: self.descs * self.hosts(),
        })
    }

    fn release_desc(&self, host: i32, index: usize) -> Result<()> {
        self.with_host_lock(host, || {
            let mut bits = self.get_bits(host, self.off.desc_bits + index / 64, 1)?;
            bits[0] &= !(1u64 << (index % 64));
            self.put_bits(host, self.off.desc_bits + index / 64, &bits, 0, 0)?;
            self.win.accumulate(host, USED_DESC, &[-1], Op::Sum)?;
            Ok(())
        })
    }

    /// Writes the descriptor words and then makes it live with a new
    /// generation (an atomic add, which keeps the pins that stale handles may
    /// be holding for an instant).
    fn publish(
        &self,
        host: i32,
        index: u32,
        state: i64,
        words: [i64; 3],
        int: bool,
    ) -> Result<Var> {
        let disp = self.off.desc + DESC_WORDS * index as usize;
        self.win.put(host, disp + 1, &words)?;
        // Data, chain and descriptor words complete before the variable exists.
        self.win.flush_all()?;
        // Only the holder of the descriptor changes the generation, and LIVE
        // and INT are clear, so one atomic add sets them without disturbing
        // the pins or flags other ranks may be toggling for an instant.
        let old_gen = gen_of(state) as i64;
        let gen = match (old_gen + 1) & GEN_MASK {
            0 => 1,
            g => g,
        };
        let delta = ((gen - old_gen) << GEN_SHIFT) + LIVE + if int { INT } else { 0 };
        self.win.accumulate_flush(host, disp, &[delta], Op::Sum)?;
        Ok(Var {
            host: host as u32,
            index,
            gen: gen as u32,
        })
    }

    /// Writes `values` into the extents of `shape`, one put per extent.
    fn write_values(&self, shape: &Shape, values: &[i64]) -> Result<()> {
        let mut offset = 0;
        for e in &shape.extents {
            self.win.put(
                e.host,
                self.off.data + e.start,
                &values[offset..offset + e.len],
            )?;
            offset += e.len;
        }
        Ok(())
    }

    /// Reads the elements of `shape`, one get per extent.
    fn read_values(&self, shape: &Shape) -> Result<Vec<i64>> {
        let mut values = vec![0i64; shape.len];
        let mut offset = 0;
        for e in &shape.extents {
            self.win.get(
                e.host,
                self.off.data + e.start,
                &mut values[offset..offset + e.len],
            )?;
            offset += e.len;
        }
        Ok(values)
    }

    /// Links the extents: the metadata of each extent's first slot names the
    /// next extent (or none).
    fn write_chain(&self, extents: &[Extent]) -> Result<()> {
        for (j, e) in extents.iter().enumerate() {
            let next = extents
                .get(j + 1)
                .map_or([NONE, 0], |n| [pack_ref(n), n.len as i64]);
            self.win.put(e.host, self.off.meta + 2 * e.start, &next)?;
        }
        Ok(())
    }

    /// Reads the layout of a variable whose layout cannot change meanwhile
    /// (pinned, or held exclusively).
    fn fetch_shape(&self, var: &Var, int: bool) -> Result<Shape> {
        let (host, disp) = self.desc_of(var);
        let mut words = [0i64; 3];
        self.win.get(host, disp + 1, &mut words)?;
        let bad = |what: String| Error::Corrupted(format!("{var}: {what}"));
        let unpack = |r: i64, len: i64| -> Result<Extent> {
            let host = (r >> REF_SHIFT) as i32;
            let start = (r & ((1 << REF_SHIFT) - 1)) as usize;
            let len = usize::try_from(len).map_err(|_| bad(format!("extent length {len}")))?;
            if r < 0 || host < 1 || host >= self.comm.size() || len == 0 || start + len > self.slots
            {
                return Err(bad(format!(
                    "bad extent (host {host}, start {start}, len {len})"
                )));
            }
            Ok(Extent { host, start, len })
        };
        if int {
            return Ok(Shape {
                len: 1,
                extents: vec![unpack(words[2], 1)?],
            });
        }
        let len = usize::try_from(words[0]).map_err(|_| bad(format!("length {}", words[0])))?;
        let mut extents = Vec::new();
        let mut total = 0;
        let (mut next, mut next_len) = (words[1], words[2]);
        while total < len {
            let e = unpack(next, next_len)?;
            total += e.len;
            extents.push(e);
            if total < len {
                let mut link = [0i64; 2];
                self.win
                    .get(e.host, self.off.meta + 2 * e.start, &mut link)?;
                (next, next_len) = (link[0], link[1]);
            }
        }
        if total != len {
            return Err(bad(format!(
                "extents hold {total} elements, the length is {len}"
            )));
        }
        Ok(Shape { len, extents })
    }

    /// The layout for a pinned state (cached while the state key, which
    /// includes the generation and the version, does not change).
    fn shape(&self, var: &Var, key: i64) -> Result<Rc<Shape>> {
        if let Some((k, shape)) = self.cache.borrow().get(&(var.host, var.index)) {
            if *k == key {
                return Ok(shape.clone());
            }
        }
        let shape = Rc::new(self.fetch_shape(var, key & INT != 0)?);
        self.remember(var, key, shape.clone());
        Ok(shape)
    }

    fn remember(&self, var: &Var, key: i64, shape: Rc<Shape>) {
        let mut cache = self.cache.borrow_mut();
        if cache.len() >= 4096 {
            cache.clear();
        }
        cache.insert((var.host, var.index), (key, shape));
    }

    /// Pins the variable (atomic add on its state word), runs `f` with its
    /// layout, unpins. `None` when the variable no longer exists. Waits while
    /// an exclusive operation holds the variable.
    fn with_pinned<R>(
        &self,
        var: &Var,
        f: impl FnOnce(&Shape, i64) -> Result<R>,
    ) -> Result<Option<R>> {
        self.check_handle(var)?;
        let (host, disp) = self.desc_of(var);
        let mut backoff = Backoff::new();
        let state = loop {
            let state = self.win.fetch_and_op(host, disp, 1, Op::Sum)?;
            if !exists(var, state) {
                self.win.accumulate(host, disp, &[-1], Op::Sum)?;
                return Ok(None);
            }
            if state & (BUSY | DEAD) == 0 {
                break state;
            }
            self.win.accumulate(host, disp, &[-1], Op::Sum)?;
            backoff.snooze();
        };
        let result = self
            .shape(var, state & !PIN_MASK)
            .and_then(|shape| f(&shape, state));
        // `f` completed its operations remotely before we unpin.
        self.win.accumulate(host, disp, &[-1], Op::Sum)?;
        result.map(Some)
    }

    /// Waits until no operation pins the variable (and `also` is clear);
    /// returns the state then.
    fn drain(&self, host: i32, disp: usize, also: i64) -> Result<i64> {
        let mut backoff = Backoff::new();
        loop {
            let state = self.atomic_read(host, disp)?;
            if state & (PIN_MASK | also) == 0 {
                return Ok(state);
            }
            backoff.snooze();
        }
    }

    /// Takes the variable exclusively (BUSY, then waits for the pins to
    /// drain), runs `f`, then releases it with a new version. `f` returns its
    /// result and the new layout. `None` when the variable no longer exists.
    fn with_exclusive<R>(
        &self,
        var: &Var,
        f: impl FnOnce(&Shape, i64) -> Result<(R, Shape)>,
    ) -> Result<Option<R>> {
        let (host, disp) = self.desc_of(var);
        let mut backoff = Backoff::new();
        loop {
            let old = self.set_flag(host, disp, BUSY)?;
            let ours = old & BUSY == 0;
            if !exists(var, old) {
                if ours {
                    self.clear_flag(host, disp, BUSY)?;
                }
                return Ok(None);
            }
            if ours && old & DEAD == 0 {
                break;
            }
            // Held by another rank, or being freed: back off.
            if ours {
                self.clear_flag(host, disp, BUSY)?;
            }
            backoff.snooze();
        }
        let state = self.drain(host, disp, 0)?;
        let result = self
            .fetch_shape(var, state & INT != 0)
            .and_then(|shape| f(&shape, state));
        let flushed = self.win.flush_all();
        let key = state & !PIN_MASK;
        let version = (key >> VER_SHIFT) & VER_MASK;
        let bump = if version == VER_MASK {
            -(VER_MASK << VER_SHIFT)
        } else {
            1 << VER_SHIFT
        };
        let delta = bump - BUSY;
        self.win.accumulate_flush(host, disp, &[delta], Op::Sum)?;
        flushed?;
        let (r, shape) = result?;
        self.remember(var, key + delta, Rc::new(shape));
        Ok(Some(r))
    }
}

/// `true` when `state` is the live state of `var`'s generation (possibly
/// being freed, or for an instant marked so by a stale handle).
fn exists(var: &Var, state: i64) -> bool {
    gen_of(state) == var.gen && state & LIVE != 0
}

/// The (host, slot) of element `index` of a list.
fn locate(shape: &Shape, mut index: usize) -> (i32, usize) {
    for e in &shape.extents {
        if index < e.len {
            return (e.host, e.start + index);
        }
        index -= e.len;
    }
    unreachable!("index checked against the length")
}
