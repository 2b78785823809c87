//! [`Backoff`]: how every waiting loop of the toolkit waits.
//!
//! Ranks often outnumber cores (oversubscribed test machines, or a node
//! whose cores also run other work), so a waiter that only spins can keep
//! the very process it waits for off the CPU. A waiter spins a few times
//! (the answer is often a few hundred nanoseconds away), then yields its time
//! slice, then sleeps for doubling periods up to a small cap.

use std::time::Duration;

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
        Backoff {
            step: 0,
            sleep: Self::FIRST_SLEEP,
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
        } else if self.step < Self::YIELDS {
            std::thread::yield_now();
        } else {
            std::thread::sleep(self.sleep);
            self.sleep = (self.sleep * 2).min(Self::MAX_SLEEP);
        }
        self.step = self.step.saturating_add(1);
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
