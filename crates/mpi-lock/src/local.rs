//! [`Local`]: how the threads of one process take turns on a lock before
//! the distributed protocol, and the state only the holding thread touches.
//!
//! A thread holds the local turn while `owner` holds its token. Taking it is
//! one compare-and-swap, giving it back a plain release store, so that a
//! lock and unlock by one thread add a single locked instruction to the
//! distributed protocol (`parking_lot`'s mutex adds two: its unlock is a
//! compare-and-swap too). When MPI allows only the creating thread to use
//! the lock, nobody else can contend and taking the turn is a plain store.
//! Threads that wait for the turn back off with [`Backoff`] (spin, yield,
//! sleep) rather than park: the holder's critical section is usually short.

use shm_core::backoff::Backoff;
use std::cell::{Cell, UnsafeCell};
use std::sync::atomic::{AtomicU64, Ordering};

/// A small per-thread number (never 0), to recognise the holding thread.
#[inline]
pub(crate) fn thread_token() -> u64 {
    static NEXT_TOKEN: AtomicU64 = AtomicU64::new(1);
    thread_local! {
        // Const-initialised (no lazy-init check on each access); 0 until
        // the thread's first call.
        static TOKEN: Cell<u64> = const { Cell::new(0) };
    }
    TOKEN.with(|token| {
        if token.get() == 0 {
            token.set(NEXT_TOKEN.fetch_add(1, Ordering::Relaxed));
        }
        token.get()
    })
}

/// The local turn and the state it guards.
pub(crate) struct Local<S> {
    /// `thread_token()` of the thread holding the turn, 0 when free.
    owner: AtomicU64,
    /// Only one thread (the creator) ever takes the turn.
    one_thread: bool,
    state: UnsafeCell<S>,
}

// SAFETY: `state` is only reached through `state_mut`, whose contract is
// that the caller holds the turn, and the turn is held by one thread at a
// time (`owner` changes from 0 to a token only by compare-and-swap, or by a
// plain store when only one thread can ever try). The Acquire/Release pair
// on `owner` orders each holder's accesses after the previous holder's.
unsafe impl<S: Send> Sync for Local<S> {}

impl<S> Local<S> {
    /// A free turn over `state`; `one_thread` when only the creating thread
    /// will ever take it (the caller enforces that).
    pub(crate) fn new(state: S, one_thread: bool) -> Self {
        Local {
            owner: AtomicU64::new(0),
            one_thread,
            state: UnsafeCell::new(state),
        }
    }

    /// The token of the thread holding the turn (0 when free).
    #[inline]
    pub(crate) fn holder(&self) -> u64 {
        self.owner.load(Ordering::Acquire)
    }

    /// Takes the turn for thread `me` if it is free.
    #[inline]
    pub(crate) fn try_enter(&self, me: u64) -> bool {
        if self.one_thread {
            // Nobody else can hold it: the creator is the only thread that
            // gets here, and it does not hold it (checked by the caller).
            self.owner.store(me, Ordering::Relaxed);
            return true;
        }
        self.owner
            .compare_exchange(0, me, Ordering::Acquire, Ordering::Relaxed)
            .is_ok()
    }

    /// Takes the turn for thread `me`, waiting for the other threads.
    #[inline]
    pub(crate) fn enter(&self, me: u64) {
        let mut backoff = Backoff::new();
        while !self.try_enter(me) {
            backoff.snooze();
        }
    }

    /// Gives the turn back.
    #[inline]
    pub(crate) fn exit(&self) {
        self.owner.store(0, Ordering::Release);
    }

    /// The state.
    ///
    /// # Safety
    /// The calling thread holds the turn (`holder()` is its token) and keeps
    /// it while the reference lives; no other reference from this method is
    /// alive.
    #[allow(clippy::mut_from_ref)]
    #[inline]
    pub(crate) unsafe fn state_mut(&self) -> &mut S {
        // SAFETY: the caller holds the turn, so no other thread reaches the
        // state, and it holds no other reference to it (the contract).
        unsafe { &mut *self.state.get() }
    }

    /// The state, through exclusive access to the whole turn (no thread can
    /// hold it, whatever `owner` says: a guard leaked with `mem::forget`
    /// leaves it set).
    pub(crate) fn get_mut(&mut self) -> &mut S {
        self.state.get_mut()
    }
}
