//! Unit tests of the lock without MPI (local mode) and of its helpers.

use super::*;
use std::sync::atomic::{AtomicUsize, Ordering};

#[test]
fn local_lock_and_try_lock() {
    let lock = MpiLock::local();
    assert!(lock.is_local());
    assert_eq!((lock.rank(), lock.size(), lock.root()), (0, 1, None));
    assert!(!lock.is_held());
    let g = lock.lock().unwrap();
    assert!(lock.is_held() && lock.is_locked().unwrap());
    assert_eq!(g.ticket(), 1);
    // Not reentrant: an error, not a deadlock.
    assert_eq!(lock.lock().unwrap_err(), LockError::AlreadyHeld);
    assert_eq!(lock.try_lock().unwrap_err(), LockError::AlreadyHeld);
    std::thread::scope(|s| {
        s.spawn(|| assert!(lock.try_lock().unwrap().is_none()));
    });
    g.unlock().unwrap();
    assert!(!lock.is_held());
    let g = lock.try_lock().unwrap().expect("free");
    assert_eq!(g.ticket(), 2);
    drop(g);
    let stats = lock.stats();
    assert_eq!(stats.acquisitions, 2);
    assert_eq!(stats.failed_tries, 1);
    assert_eq!(stats.remote_ops, 0);
    lock.close().unwrap();
}

#[test]
fn recursive_local_lock_releases_with_its_last_guard() {
    let lock = MpiLock::local_recursive();
    assert!(lock.is_recursive());
    let outer = lock.lock().unwrap();
    let inner = lock.try_lock().unwrap().expect("re-entered");
    assert_eq!(inner.ticket(), outer.ticket());
    // Released in either order: the lock goes with the last guard.
    drop(outer);
    assert!(lock.is_held());
    std::thread::scope(|s| {
        s.spawn(|| assert!(lock.try_lock().unwrap().is_none()));
    });
    drop(inner);
    assert!(!lock.is_held());
    std::thread::scope(|s| {
        s.spawn(|| assert!(lock.try_lock().unwrap().is_some()));
    });
    assert_eq!(lock.stats().acquisitions, 2);
}

#[test]
fn local_lock_excludes_threads() {
    let lock = MpiLock::local();
    let inside = AtomicUsize::new(0);
    let mut counter = 0u64;
    let counter_ptr = std::sync::Mutex::new(&mut counter);
    std::thread::scope(|s| {
        for _ in 0..4 {
            s.spawn(|| {
                for _ in 0..500 {
                    let g = lock.lock().unwrap();
                    assert_eq!(inside.fetch_add(1, Ordering::SeqCst), 0);
                    **counter_ptr.try_lock().expect("the MpiLock excludes") += 1;
                    assert_eq!(inside.fetch_sub(1, Ordering::SeqCst), 1);
                    drop(g);
                }
            });
        }
    });
    assert_eq!(counter, 2000);
    assert_eq!(lock.stats().acquisitions, 2000);
}

#[test]
fn leaked_local_guard_is_reported_at_close() {
    let lock = MpiLock::local();
    std::mem::forget(lock.lock().unwrap());
    assert_eq!(
        lock.close().unwrap_err(),
        LockError::HeldAtClose { rank: 0 }
    );
}

#[test]
fn thread_tokens_differ() {
    let here = thread_token();
    assert_ne!(here, 0);
    assert_eq!(here, thread_token());
    let there = std::thread::spawn(thread_token).join().unwrap();
    assert_ne!(here, there);
}
