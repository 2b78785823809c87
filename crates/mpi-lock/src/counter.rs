//! [`Counter`]: an atomic counter shared by the ranks of a communicator,
//! kept in one word on a root rank (Global Arrays' `NXTVAL`, mpi4py's
//! `mpi4py.util.sync.Counter`).

use crate::backing::Backing;
use crate::error::LockError;
use crate::words::Access;
use mpi::topology::Communicator;
use shm_core::sync::{AtomicWords, CpuAtomic};
use std::cell::Cell;

/// The word of the root's segment that holds the counter.
const COUNT: usize = 0;

mod sealed {
    pub trait Sealed {}
}

/// The integer types a [`Counter`] can count in: `i32`, `u32`, `i64` and
/// `u64` (the [`CpuAtomic`] types).
///
/// Arithmetic wraps around, as it does in the counter's word: a counter of
/// `i32` that passes `i32::MAX` goes on from `i32::MIN`.
pub trait CounterValue: CpuAtomic + Copy + sealed::Sealed {
    #[doc(hidden)]
    const ONE: Self;
    #[doc(hidden)]
    fn wrapping_add(self, other: Self) -> Self;
    #[doc(hidden)]
    fn wrapping_mul(self, other: Self) -> Self;
    #[doc(hidden)]
    fn to_i128(self) -> i128;
    #[doc(hidden)]
    fn from_i128(value: i128) -> Option<Self>;
    /// `value` modulo 2^bits.
    #[doc(hidden)]
    fn from_u64_wrapping(value: u64) -> Self;
}

macro_rules! counter_values {
    ($($t:ty),*) => {$(
        impl sealed::Sealed for $t {}
        impl CounterValue for $t {
            const ONE: Self = 1;
            fn wrapping_add(self, other: Self) -> Self {
                <$t>::wrapping_add(self, other)
            }
            fn wrapping_mul(self, other: Self) -> Self {
                <$t>::wrapping_mul(self, other)
            }
            fn to_i128(self) -> i128 {
                i128::from(self)
            }
            fn from_i128(value: i128) -> Option<Self> {
                <$t>::try_from(value).ok()
            }
            fn from_u64_wrapping(value: u64) -> Self {
                value as $t
            }
        }
    )*};
}

counter_values!(i32, u32, i64, u64);

/// An atomic counter shared by the ranks of a communicator: each call of
/// [`next`](Counter::next), on any rank, returns the next value of
/// `start, start + step, start + 2 * step, ...`, so that no two calls
/// anywhere get the same value and none is skipped (Global Arrays'
/// `NXTVAL`, mpi4py's `Counter`).
///
/// The counter is one word in the window of rank `root`, and `next` is a
/// single atomic fetch-and-add on it: `MPI_Fetch_and_op` (completed locally
/// with `MPI_Win_flush_local`) inside an epoch kept open for the counter's
/// life, or a CPU `lock xadd` when every rank shares one node (see
/// [`Access`]). The word holds the number of steps taken so far, so the
/// values are computed locally from `start` and `step` and the zeroed word
/// needs no initialisation.
///
/// ```no_run
/// use mpi_lock::Counter;
/// let universe = mpi::initialize().unwrap();
/// let world = universe.world();
/// let counter = Counter::options().start(100).step(10).create::<i64>(&world)?;
/// let mine = counter.next()?; // 100, 110, 120, ... in the order of the calls
/// counter.close()?; // collective
/// # Ok::<(), mpi_lock::LockError>(())
/// ```
///
/// Creating the counter and [`close`](Counter::close) (or dropping it) are
/// collective. A counter is used by one thread of each rank (it is neither
/// `Send` nor `Sync`).
pub struct Counter<T: CounterValue = i64> {
    place: Place<T>,
    start: T,
    step: T,
}

enum Place<T: CounterValue> {
    Shared {
        backing: Backing<T>,
        root: i32,
    },
    /// Steps taken so far, modulo 2^64 (only the low bits of `T` count).
    Local(Cell<u64>),
}

impl<T: CounterValue> std::fmt::Debug for Counter<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut s = f.debug_struct("Counter");
        s.field("type", &T::NAME)
            .field("start", &self.start)
            .field("step", &self.step);
        match &self.place {
            Place::Shared { backing, root } => s.field("root", root).field("backing", backing),
            Place::Local(_) => s.field("mode", &"local"),
        };
        s.finish()
    }
}

impl Counter<i64> {
    /// Creates a counter of `i64` starting at 0 with step 1, on rank 0
    /// (collective over `comm`). See [`Counter::options`] for the others.
    pub fn new<C: Communicator + ?Sized>(comm: &C) -> Result<Self, LockError> {
        Self::options().create(comm)
    }

    /// The options of a new counter: start, step, root rank, access, and
    /// (at [`CounterOptions::create`]) the integer type.
    pub fn options() -> CounterOptions {
        CounterOptions::default()
    }
}

impl<T: CounterValue> Counter<T> {
    /// An in-process counter with the same interface and no MPI at all
    /// (mpi4py's counter on `COMM_SELF`). Give the type if the literals
    /// do not: `Counter::local(0i64, 1)`.
    pub fn local(start: T, step: T) -> Self {
        Counter {
            place: Place::Local(Cell::new(0)),
            start,
            step,
        }
    }

    /// The value after `steps` steps.
    fn value_at(&self, steps: T) -> T {
        self.start.wrapping_add(self.step.wrapping_mul(steps))
    }

    /// Returns the counter's value and advances it by one step: the `k`-th
    /// call overall (over all ranks, from 0) returns `start + k * step`.
    /// One atomic fetch-and-add on the root's word.
    ///
    /// # Errors
    /// The MPI error of the fetch-and-add.
    #[inline]
    pub fn next(&self) -> Result<T, LockError> {
        self.fetch_add(T::ONE)
    }

    /// Advances the counter by `n` steps (`n * step`; a negative `n` moves
    /// it back) and returns the value before, in one atomic fetch-and-add.
    ///
    /// # Errors
    /// The MPI error of the fetch-and-add.
    #[inline]
    pub fn fetch_add(&self, n: T) -> Result<T, LockError> {
        let steps = match &self.place {
            Place::Shared { backing, root } => backing.words().fetch_add(*root, COUNT, n)?,
            Place::Local(steps) => {
                let before = steps.get();
                // Two's complement: adding the sign-extended `n` modulo 2^64
                // is adding `n` modulo 2^bits.
                steps.set(before.wrapping_add(n.to_i128() as u64));
                T::from_u64_wrapping(before)
            }
        };
        Ok(self.value_at(steps))
    }

    /// The counter's current value (the one the next [`next`](Self::next)
    /// anywhere would return, if nobody else gets there first), in one
    /// atomic read.
    ///
    /// # Errors
    /// The MPI error of the read.
    pub fn value(&self) -> Result<T, LockError> {
        let steps = match &self.place {
            Place::Shared { backing, root } => backing.words().load(*root, COUNT)?,
            Place::Local(steps) => T::from_u64_wrapping(steps.get()),
        };
        Ok(self.value_at(steps))
    }

    /// The first value.
    pub fn start(&self) -> T {
        self.start
    }

    /// The increment of one step.
    pub fn step(&self) -> T {
        self.step
    }

    /// The rank holding the counter's word (`None` in local mode).
    pub fn root(&self) -> Option<i32> {
        match &self.place {
            Place::Shared { root, .. } => Some(*root),
            Place::Local(_) => None,
        }
    }

    /// `true` for a counter made by [`Counter::local`].
    pub fn is_local(&self) -> bool {
        matches!(self.place, Place::Local(_))
    }

    /// `true` when the counter's word is reached with CPU atomics (every
    /// rank shares one node; see [`Access`]).
    pub fn uses_cpu_atomics(&self) -> bool {
        match &self.place {
            Place::Shared { backing, .. } => backing.is_node(),
            Place::Local(_) => false,
        }
    }

    /// This process's rank in the counter's communicator (0 in local mode).
    pub fn rank(&self) -> i32 {
        match &self.place {
            Place::Shared { backing, .. } => backing.rank(),
            Place::Local(_) => 0,
        }
    }

    /// The number of ranks of the counter's communicator (1 in local mode).
    pub fn size(&self) -> i32 {
        match &self.place {
            Place::Shared { backing, .. } => backing.size(),
            Place::Local(_) => 1,
        }
    }

    /// Frees the counter (collective over its communicator; dropping it
    /// does the same). Every `next` made before, on any rank, is complete.
    ///
    /// # Errors
    /// None today: freeing a window reports no error (MPI's are fatal
    /// there); the `Result` leaves room for one.
    pub fn close(self) -> Result<(), LockError> {
        drop(self);
        Ok(())
    }
}

/// The options of a new [`Counter`], from [`Counter::options`]; every rank
/// must pass the same ones (else the same [`shm_core::Error::Invalid`] on
/// every rank).
#[derive(Debug, Clone, Copy)]
#[must_use = "options do nothing until `create` is called"]
pub struct CounterOptions {
    start: i128,
    step: i128,
    root: i32,
    access: Access,
}

impl Default for CounterOptions {
    fn default() -> Self {
        CounterOptions {
            start: 0,
            step: 1,
            root: 0,
            access: Access::Auto,
        }
    }
}

impl CounterOptions {
    /// The first value (default 0). It must fit the counter's type.
    pub fn start(mut self, start: impl Into<i128>) -> Self {
        self.start = start.into();
        self
    }

    /// The increment of one step (default 1). It must fit the counter's
    /// type (so it is never negative for unsigned types).
    pub fn step(mut self, step: impl Into<i128>) -> Self {
        self.step = step.into();
        self
    }

    /// The rank holding the counter's word (default 0).
    pub fn root(mut self, root: i32) -> Self {
        self.root = root;
        self
    }

    /// How the counter's word is reached (default [`Access::Auto`]: CPU
    /// atomics when every rank shares one node).
    pub fn access(mut self, access: Access) -> Self {
        self.access = access;
        self
    }

    /// Creates a counter of `T` over `comm` (collective over `comm`).
    ///
    /// # Errors
    /// The same [`shm_core::Error::Invalid`] on every rank when the ranks
    /// passed different options or types, when `root` is not a rank of
    /// `comm`, or when `start` or `step` does not fit `T`; or an MPI error.
    pub fn create<T: CounterValue>(
        self,
        comm: &(impl Communicator + ?Sized),
    ) -> Result<Counter<T>, LockError> {
        self.create_agreeing(comm, "the counter options", &[])
    }

    /// An in-process counter of `T` with these `start` and `step` (the root
    /// and access do not matter): [`Counter::local`].
    ///
    /// # Errors
    /// [`shm_core::Error::Invalid`] when `start` or `step` does not fit `T`.
    pub fn local<T: CounterValue>(self) -> Result<Counter<T>, LockError> {
        let (start, step) = self.typed::<T>().map_err(|message| {
            LockError::Core(shm_core::Error::Invalid {
                rank: Some(0),
                message,
            })
        })?;
        Ok(Counter::local(start, step))
    }

    /// `start` and `step` as `T`, or what is wrong.
    fn typed<T: CounterValue>(&self) -> Result<(T, T), String> {
        let fit = |what: &str, value: i128| {
            T::from_i128(value)
                .ok_or_else(|| format!("the counter's {what} {value} does not fit in {}", T::NAME))
        };
        Ok((fit("start", self.start)?, fit("step", self.step)?))
    }

    /// [`create`](Self::create), also agreeing on `extra` values of the
    /// object built on the counter, with `what` naming them all.
    pub(crate) fn create_agreeing<T: CounterValue>(
        self,
        comm: &(impl Communicator + ?Sized),
        what: &str,
        extra: &[i64],
    ) -> Result<Counter<T>, LockError> {
        let halves = |v: i128| [(v >> 64) as i64, v as i64];
        let mut params = vec![T::CODE];
        params.extend(halves(self.start));
        params.extend(halves(self.step));
        params.extend_from_slice(extra);
        let backing = Backing::<T>::create(comm, 1, self.access, self.root, what, &params)?;
        // The options are the same everywhere now, and so is this verdict;
        // on an error every rank frees the words (collectively) and returns it.
        let typed = self.typed::<T>();
        backing.comm().agree(typed.clone().map(drop))?;
        let (start, step) = typed.expect("agreed above");
        Ok(Counter {
            place: Place::Shared {
                backing,
                root: self.root,
            },
            start,
            step,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_counter_counts_in_steps() {
        let c = Counter::local(7i64, 3);
        assert!(c.is_local());
        assert_eq!((c.rank(), c.size(), c.root()), (0, 1, None));
        assert_eq!(c.value().unwrap(), 7);
        assert_eq!(c.next().unwrap(), 7);
        assert_eq!(c.next().unwrap(), 10);
        assert_eq!(c.fetch_add(5).unwrap(), 13);
        assert_eq!(c.value().unwrap(), 28);
        // Back by two steps.
        assert_eq!(c.fetch_add(-2).unwrap(), 28);
        assert_eq!(c.next().unwrap(), 22);
        c.close().unwrap();
    }

    #[test]
    fn local_counters_wrap_like_their_words() {
        let c = Counter::local(i32::MAX - 1, 1);
        assert_eq!(c.next().unwrap(), i32::MAX - 1);
        assert_eq!(c.next().unwrap(), i32::MAX);
        assert_eq!(c.next().unwrap(), i32::MIN);
        let c = Counter::local(0u32, 1);
        assert_eq!(c.fetch_add(u32::MAX).unwrap(), 0);
        assert_eq!(c.value().unwrap(), u32::MAX);
        assert_eq!(c.next().unwrap(), u32::MAX);
        assert_eq!(c.value().unwrap(), 0);
        let c = Counter::local(u64::MAX, 2);
        assert_eq!(c.next().unwrap(), u64::MAX);
        assert_eq!(c.next().unwrap(), 1);
    }

    #[test]
    fn local_options_check_the_type() {
        let c = Counter::options()
            .start(u64::MAX)
            .step(1)
            .local::<u64>()
            .unwrap();
        assert_eq!(c.next().unwrap(), u64::MAX);
        for err in [
            Counter::options().start(-1).local::<u64>().unwrap_err(),
            Counter::options().step(-1).local::<u32>().unwrap_err(),
            Counter::options()
                .start(i64::MAX)
                .local::<i32>()
                .unwrap_err(),
        ] {
            assert!(
                matches!(&err, LockError::Core(shm_core::Error::Invalid { message, .. }) if message.contains("does not fit")),
                "{err}"
            );
        }
    }
}
