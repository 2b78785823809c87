//! [`Backoff`]: how every waiting loop of the toolkit waits.
//!
//! Ranks often outnumber cores (oversubscribed test machines, or a node
//! whose cores also run other work), so a waiter that only spins can keep
//! the very process it waits for off the CPU. A waiter spins a few times
//! (the answer is often a few hundred nanoseconds away), then yields its time
//! slice, then sleeps for doubling periods up to a small cap.

use std::time::{Duration, Instant};

/// Exponential back-off for waiting loops: spin, then yield, then sleep.
///
/// ```
/// use shm_core::backoff::Backoff;
/// use std::sync::atomic::{AtomicBool, Ordering};
///
/// let ready = AtomicBool::new(true);
/// let mut backoff = Backoff::new();
/// while !ready.load(Ordering::Acquire) {
///     backoff.snooze();
/// }
/// ```
#[derive(Debug, Clone)]
pub struct Backoff {
    step: u32,
    sleep: Duration,
    /// How long to go on yielding after the usual yields, before sleeping.
    yield_for: Duration,
    /// When that extra yielding started.
    yield_since: Option<Instant>,
}

impl Default for Backoff {
    fn default() -> Self {
        Self::new()
    }
}

impl Backoff {
    /// Rounds of spinning (1, 2, 4, … 32 pause instructions) before yielding.
    const SPINS: u32 = 8;
    /// Rounds (spins included) before the first sleep.
    const YIELDS: u32 = 24;
    const FIRST_SLEEP: Duration = Duration::from_micros(2);
    const MAX_SLEEP: Duration = Duration::from_micros(64);

    /// A back-off at its first, shortest step.
    pub fn new() -> Self {
        Self::yielding_for(Duration::ZERO)
    }

    /// A back-off that, after its usual yields, goes on yielding for
    /// `yield_for` before its first sleep.
    ///
    /// For a waiter that expects its answer within a round trip (a request
    /// just sent): a sleep costs at least the kernel's timer slack (about
    /// 50 µs), far more than the round trip, and once both sides of an
    /// exchange sleep, every exchange pays it. A yield gives the core away
    /// when another process wants it, so an oversubscribed node loses
    /// little; on a free core the waiter spins for at most `yield_for`.
    pub fn yielding_for(yield_for: Duration) -> Self {
        Backoff {
            step: 0,
            sleep: Self::FIRST_SLEEP,
            yield_for,
            yield_since: None,
        }
    }

    /// `true` once spinning is over: from then on a waiter may afford an
    /// extra call per round, such as an `MPI_Iprobe` that drives progress.
    pub fn patient(&self) -> bool {
        self.step >= Self::SPINS
    }

    /// Waits once, a little longer than the previous time.
    pub fn snooze(&mut self) {
        if self.step < Self::SPINS {
            for _ in 0..(1u32 << self.step.min(5)) {
                std::hint::spin_loop();
            }
        } else if self.step < Self::YIELDS || self.yields_longer() {
            std::thread::yield_now();
        } else {
            std::thread::sleep(self.sleep);
            self.sleep = (self.sleep * 2).min(Self::MAX_SLEEP);
        }
        self.step = self.step.saturating_add(1);
    }

    /// `true` while the extra yielding of [`yielding_for`](Self::yielding_for)
    /// lasts (its clock starts at the first call).
    fn yields_longer(&mut self) -> bool {
        !self.yield_for.is_zero()
            && self.yield_since.get_or_insert_with(Instant::now).elapsed() < self.yield_for
    }
}

/// How long [`wait_until`] yields before it starts to sleep.
const YIELD_FOR: Duration = Duration::from_millis(2);
/// Each sleep of [`wait_until`] after that.
const LONG_WAIT_SLEEP: Duration = Duration::from_micros(20);

/// Waits until `ready()` returns `true`: spins a little, then yields for up
/// to 2 ms, then sleeps 20 µs at a time.
///
/// It is for conditions that another process of the node establishes with a
/// store to shared memory after a bounded piece of work (a copy, a
/// broadcast), while the waiter has nothing else to progress; the loop makes
/// no MPI call. Unlike [`Backoff`], whose sleeps double (for waits of
/// unknown length, such as a lock held by user code), the waiter keeps its
/// lateness small: a reader of a 1 ms copy returns within a few µs of it.
pub fn wait_until(mut ready: impl FnMut() -> bool) {
    let mut backoff = Backoff::new();
    while !backoff.patient() {
        if ready() {
            return;
        }
        backoff.snooze();
    }
    let started = std::time::Instant::now();
    while !ready() {
        if started.elapsed() < YIELD_FOR {
            std::thread::yield_now();
        } else {
            std::thread::sleep(LONG_WAIT_SLEEP);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicBool, Ordering};

    #[test]
    fn becomes_patient_after_spinning() {
        let mut b = Backoff::new();
        assert!(!b.patient());
        for _ in 0..Backoff::SPINS {
            b.snooze();
        }
        assert!(b.patient());
    }

    #[test]
    fn sleeps_are_capped() {
        let mut b = Backoff::new();
        for _ in 0..40 {
            b.snooze();
        }
        assert_eq!(b.sleep, Backoff::MAX_SLEEP);
    }

    #[test]
    fn yields_for_the_asked_time_before_sleeping() {
        let mut b = Backoff::yielding_for(Duration::from_millis(5));
        let started = Instant::now();
        while b.sleep == Backoff::FIRST_SLEEP {
            b.snooze();
        }
        assert!(started.elapsed() >= Duration::from_millis(5));
    }

    #[test]
    fn wait_until_sees_another_thread() {
        let flag = AtomicBool::new(false);
        std::thread::scope(|s| {
            s.spawn(|| {
                std::thread::sleep(Duration::from_millis(5));
                flag.store(true, Ordering::Release);
            });
            wait_until(|| flag.load(Ordering::Acquire));
        });
    }
}
