//! `mpi_lock::Condition` on real MPI processes: mpi4py's Condition cases
//! (`test/test_util_sync.py`), under both kinds of access.

mod common;

use common::sync::*;

use mpi::traits::*;
use mpi_lock::{Access, Condition, LockError, MpiLock, MpiLockGuard};
use shm_core::window::Rma;
use shm_core::Error;

/// Takes the lock over and over until `ready` holds with the lock held.
fn lock_when<'a>(cv: &'a Condition<'_>, mut ready: impl FnMut() -> bool) -> MpiLockGuard<'a> {
    loop {
        let guard = cv.lock().unwrap();
        if ready() {
            return guard;
        }
        drop(guard);
        std::thread::yield_now();
    }
}

mpi_test!(fn notify_without_waiters_returns_zero(world, 4) {
    for access in ACCESSES {
        let cv = Condition::options().access(access).create(world).unwrap();
        for _ in 0..3 {
            let guard = cv.lock().unwrap();
            assert_eq!(cv.notify(&guard, 1).unwrap(), 0);
            assert_eq!(cv.notify_one(&guard).unwrap(), 0);
            assert_eq!(cv.notify_all(&guard).unwrap(), 0);
            assert_eq!(cv.notify(&guard, 0).unwrap(), 0);
            drop(guard);
        }
        world.barrier();
        cv.close().unwrap();
    }
});

mpi_test!(fn notify_all_wakes_every_waiting_rank(world, 4) {
    let size = world.size() as i64;
    for access in ACCESSES {
        let cv = Condition::options().access(access).root(world.size() - 1).create(world).unwrap();
        // Word 0: ranks that are about to wait (counted under the lock);
        // word 1: ranks that came back from their wait.
        let counts = scratch(world, 2);
        world.barrier();
        if world.rank() == 0 {
            // Once all the others counted themselves under the lock, they
            // are all in the FIFO: the lock is only released by their wait.
            let guard = lock_when(&cv, || read_word(&counts, 0, 0) == size - 1);
            assert_eq!(cv.notify_all(&guard).unwrap(), (size - 1) as usize);
            assert_eq!(cv.notify_all(&guard).unwrap(), 0);
            drop(guard);
        } else {
            let guard = cv.lock().unwrap();
            add_word(&counts, 0, 0, 1);
            let guard = cv.wait(guard).unwrap();
            // The lock is ours again.
            assert!(cv.mpi_lock().is_held());
            add_word(&counts, 0, 1, 1);
            drop(guard);
        }
        world.barrier();
        assert_eq!(read_word(&counts, 0, 1), size - 1);
        let guard = cv.lock().unwrap();
        assert_eq!(cv.notify_all(&guard).unwrap(), 0);
        drop(guard);
        drop(counts);
        cv.close().unwrap();
    }
});

mpi_test!(fn notify_all_skips_a_rank_that_does_not_wait(world, 4) {
    // mpi4py's testWaitNotifyAll: rank 1 never waits.
    let size = world.size() as i64;
    for access in ACCESSES {
        let cv = Condition::options().access(access).create(world).unwrap();
        let counts = scratch(world, 1);
        world.barrier();
        match world.rank() {
            0 => {
                let guard = lock_when(&cv, || read_word(&counts, 0, 0) == size - 2);
                assert_eq!(cv.notify_all(&guard).unwrap(), (size - 2) as usize);
                drop(guard);
            }
            1 => {}
            _ => {
                let guard = cv.lock().unwrap();
                add_word(&counts, 0, 0, 1);
                drop(cv.wait(guard).unwrap());
            }
        }
        world.barrier();
        let guard = cv.lock().unwrap();
        assert_eq!(cv.notify(&guard, 5).unwrap(), 0);
        drop(guard);
        drop(counts);
        cv.close().unwrap();
    }
});

mpi_test!(fn notify_one_wakes_one_at_a_time_in_wait_order(world, 4) {
    let size = world.size() as i64;
    for access in ACCESSES {
        let cv = Condition::options().access(access).create(world).unwrap();
        // Word 0: waits begun (each waiter's position); word 1: wake-ups.
        let counts = scratch(world, 2);
        world.barrier();
        if world.rank() == 0 {
            let guard = lock_when(&cv, || read_word(&counts, 0, 0) == size - 1);
            drop(guard);
            for woken in 0..size - 1 {
                let guard = cv.lock().unwrap();
                assert_eq!(cv.notify_one(&guard).unwrap(), 1);
                drop(guard);
                // The woken rank counts itself once it has the lock back.
                drop(lock_when(&cv, || read_word(&counts, 0, 1) == woken + 1));
            }
            let guard = cv.lock().unwrap();
            assert_eq!(cv.notify_one(&guard).unwrap(), 0);
            assert_eq!(read_word(&counts, 0, 1), size - 1);
            drop(guard);
        } else {
            let guard = cv.lock().unwrap();
            let position = add_word(&counts, 0, 0, 1);
            let guard = cv.wait(guard).unwrap();
            // FIFO: the k-th rank to wait is the k-th woken.
            assert_eq!(add_word(&counts, 0, 1, 1), position, "woken out of wait order");
            drop(guard);
        }
        world.barrier();
        drop(counts);
        cv.close().unwrap();
    }
});

mpi_test!(fn wait_for_rechecks_its_predicate(world, 4) {
    let rank = world.rank() as i64;
    for access in ACCESSES {
        let lock = MpiLock::options().access(access).create(world).unwrap();
        let cv = Condition::options().access(access).with_lock(&lock).unwrap();
        // Word 0: the shared value; word 1: waits begun by all ranks.
        let counts = scratch(world, 2);
        world.barrier();
        if rank == 0 {
            // Rank r waits until the value reaches r, so it waits r times:
            // before the value is 1, 2, ... r. Raise the value each time
            // every rank still waiting is in the FIFO.
            let mut waits = 3;
            for value in 1..world.size() as i64 {
                let guard = lock_when(&cv, || read_word(&counts, 0, 1) == waits);
                counts.put(0, 0, &[value]).unwrap();
                counts.flush(0).unwrap();
                let still_waiting = world.size() as i64 - value;
                assert_eq!(cv.notify_all(&guard).unwrap(), still_waiting as usize);
                waits += still_waiting - 1;
                drop(guard);
            }
        } else {
            let mut my_waits = 0;
            let guard = lock.lock().unwrap();
            let guard = cv
                .wait_for(guard, || {
                    let ready = read_word(&counts, 0, 0) >= rank;
                    if !ready {
                        my_waits += 1;
                        add_word(&counts, 0, 1, 1);
                    }
                    ready
                })
                .unwrap();
            assert!(read_word(&counts, 0, 0) >= rank);
            drop(guard);
            assert_eq!(my_waits, rank);
        }
        world.barrier();
        // A predicate that holds at once does not wait.
        let guard = cv.wait_while(lock.lock().unwrap(), || false).unwrap();
        drop(guard);
        world.barrier();
        drop(counts);
        cv.close().unwrap();
        lock.close().unwrap();
    }
});

mpi_test!(fn misuse_gives_typed_errors(world, 4) {
    for access in ACCESSES {
        let cv = Condition::options().access(access).create(world).unwrap();
        let other = MpiLock::options().access(access).create(world).unwrap();
        let guard = other.lock().unwrap();
        assert_eq!(cv.notify(&guard, 1).unwrap_err(), LockError::WrongObject { what: "lock" });
        assert_eq!(cv.notify_all(&guard).unwrap_err(), LockError::WrongObject { what: "lock" });
        assert_eq!(cv.wait(guard).unwrap_err(), LockError::WrongObject { what: "lock" });
        // The guard was released by the failed wait.
        assert!(!other.is_held());
        let guard = other.lock().unwrap();
        assert_eq!(
            cv.wait_for(guard, || true).unwrap_err(),
            LockError::WrongObject { what: "lock" }
        );

        // A recursive lock held twice would stay held while waiting.
        let recursive = MpiLock::options().recursive(true).access(access).create(world).unwrap();
        let rcv = Condition::options().access(access).with_lock(&recursive).unwrap();
        let outer = recursive.lock().unwrap();
        let inner = recursive.lock().unwrap();
        assert_eq!(rcv.wait(inner).unwrap_err(), LockError::WaitWhileRecursive { depth: 2 });
        drop(outer);
        world.barrier();
        rcv.close().unwrap();
        recursive.close().unwrap();
        other.close().unwrap();
        cv.close().unwrap();
    }
    // A local lock has nobody to notify.
    let local = MpiLock::local();
    assert!(matches!(Condition::with_lock(&local).unwrap_err(), LockError::Core(Error::Usage(_))));
    // Bad collective input: the same error on every rank.
    let err = Condition::options().root(4).create(world).unwrap_err();
    assert!(matches!(&err, LockError::Core(Error::Invalid { message, .. }) if message.contains("outside")), "{err}");
    let access = if world.rank() == 0 { Access::Mpi } else { Access::Auto };
    let err = Condition::options().access(access).create(world).unwrap_err();
    assert!(matches!(&err, LockError::Core(Error::Invalid { message, .. }) if message.contains("differ")), "{err}");
    world.barrier();
});
