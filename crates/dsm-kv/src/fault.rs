//! Fault-injection points: places in the protocol where a test can hold a
//! rank still, so that a race window that lasts nanoseconds in real runs
//! stays open long enough for another rank to go through it. A wrong order
//! of the protocol's steps (a read that trusts the state word it saw before
//! the value, a free that does not wait for pins) is then caught on every
//! run, instead of once in a while.
//!
//! Not part of the API (hidden from the documentation). Unarmed, a point
//! costs one relaxed atomic load.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::RwLock;

/// Where a test can hold a rank.
#[doc(hidden)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Point {
    /// Inside an integer read, between its two accesses (the value and the
    /// state word that proves the value was the variable's).
    BetweenIntReads,
    /// Right after a variable is pinned (`read`, `modify`, `reduce`), before
    /// the operation touches its data.
    Pinned,
}

static ARMED: AtomicBool = AtomicBool::new(false);
static HOOK: RwLock<Option<fn(Point)>> = RwLock::new(None);

/// Calls `hook` at every point this process reaches, until it is set to
/// `None`. For tests.
#[doc(hidden)]
pub fn set_hook(hook: Option<fn(Point)>) {
    *HOOK.write().unwrap_or_else(|e| e.into_inner()) = hook;
    ARMED.store(hook.is_some(), Ordering::Release);
}

/// A point of the protocol: runs the test's hook, if one is set.
pub(crate) fn at(point: Point) {
    if ARMED.load(Ordering::Relaxed) {
        let hook = *HOOK.read().unwrap_or_else(|e| e.into_inner());
        if let Some(hook) = hook {
            hook(point);
        }
    }
}
