//! `Semaphore` (`mpi-lock`) on real MPI processes: mpi4py's
//! `test_util_sync.py` semaphore cases, ported, and occupancy counted in a
//! scratch window under contention.

mod common;

use common::sync::*;

use mpi::traits::*;
use mpi_lock::{LockError, Semaphore};
use shm_core::window::{Op, Rma};
use shm_core::Error;
use std::time::Duration;

const NOT_HELD: LockError = LockError::NotHeld {
    what: "a semaphore permit",
};

/// A little sleep that differs between ranks and calls (mpi4py's
/// `random_sleep`, without a random generator).
fn jitter(rank: i32, i: u64) {
    let micros = (u64::from(rank as u32) * 7919 + i * 104_729) % 3000;
    std::thread::sleep(Duration::from_micros(micros));
}

mpi_test!(fn exactly_count_ranks_get_a_permit_without_waiting(world, 4) {
    // mpi4py's testAcquireNonblocking: count = size - 1.
    let rank = world.rank();
    let count = world.size() as u32 - 1;
    for access in ACCESSES {
        let sem = Semaphore::options(count).bounded(false).access(access).create(world).unwrap();
        assert_eq!((sem.count(), sem.is_bounded(), sem.root()), (count, false, Some(0)));
        for i in 0..10u64 {
            if i >= 5 {
                jitter(rank, i);
            }
            world.barrier();
            let permit = sem.try_acquire().unwrap();
            world.barrier();
            assert_eq!(sem.available().unwrap(), 0);
            world.barrier();
            let got = permit.is_some();
            drop(permit);
            world.barrier();
            let all = gather(world, i64::from(got));
            assert_eq!(all.iter().sum::<i64>(), i64::from(count), "{all:?}");
            assert_eq!(sem.available().unwrap(), i64::from(count));
            world.barrier();
            // Everyone gets one eventually by trying.
            let permit = loop {
                if let Some(p) = sem.try_acquire().unwrap() {
                    break p;
                }
                jitter(rank, i);
            };
            permit.release().unwrap();
            world.barrier();
            assert_eq!(sem.available().unwrap(), i64::from(count));
        }
        world.barrier();
        sem.close().unwrap();
    }
});

mpi_test!(fn occupancy_never_exceeds_count(world, 4) {
    const ITERS: i64 = 25;
    const COUNT: i64 = 2;
    let rank = world.rank();
    for access in ACCESSES {
        let sem = Semaphore::options(COUNT as u32).access(access).create(world).unwrap();
        // Words on rank 0: 0 = ranks inside now, 1 = the most ever inside,
        // 2 = entries.
        let log = scratch(world, 3);
        for i in 0..ITERS {
            // Blocking acquire mostly; a try_acquire (that may fail) now and then.
            let permit = if i % 5 == 4 {
                match sem.try_acquire().unwrap() {
                    Some(p) => p,
                    None => continue,
                }
            } else {
                sem.acquire().unwrap()
            };
            let inside = log.fetch_and_op(0, 0, 1, Op::Sum).unwrap() + 1;
            assert!(inside <= COUNT, "{inside} ranks hold permits of {COUNT}");
            log.fetch_and_op(0, 1, inside, Op::Max).unwrap();
            log.fetch_and_op(0, 2, 1, Op::Sum).unwrap();
            log.flush(0).unwrap();
            std::thread::sleep(Duration::from_micros(500 + 300 * rank as u64));
            log.fetch_and_op(0, 0, -1, Op::Sum).unwrap();
            log.flush(0).unwrap();
            drop(permit);
        }
        world.barrier();
        let most = log.fetch_and_op(0, 1, 0, Op::NoOp).unwrap();
        let entries = log.fetch_and_op(0, 2, 0, Op::NoOp).unwrap();
        let blocking = ITERS - ITERS / 5;
        assert!(entries >= blocking * world.size() as i64, "{entries} entries");
        // Never more than COUNT inside, and the semaphore did let COUNT in
        // at once (it is not a mutex).
        assert_eq!(most, COUNT, "{access:?}");
        assert_eq!(sem.available().unwrap(), COUNT);
        world.barrier();
        drop(log);
        sem.close().unwrap();
    }
});

mpi_test!(fn over_release_is_an_error_and_leaves_the_count(world, 4) {
    let rank = world.rank();
    let count = world.size() as u32 - 1;
    for access in ACCESSES {
        let sem = Semaphore::options(count).access(access).create(world).unwrap();
        assert!(sem.is_bounded());
        // Full: any release is one too many, on every rank.
        assert_eq!(sem.release_permit().unwrap_err(), NOT_HELD);
        world.barrier();
        assert_eq!(sem.available().unwrap(), i64::from(count));
        world.barrier();
        // A permit taken on rank 1 and given back on rank 2.
        if rank == 1 {
            sem.acquire_permit().unwrap();
        }
        world.barrier();
        assert_eq!(sem.available().unwrap(), i64::from(count) - 1);
        world.barrier();
        if rank == 2 {
            // Two at once is one too many: refused whole.
            assert_eq!(sem.release_permits(2).unwrap_err(), NOT_HELD);
            sem.release_permit().unwrap();
        }
        world.barrier();
        assert_eq!(sem.available().unwrap(), i64::from(count));
        world.barrier();
        // A guard's give-back after somebody else over-released for it.
        if rank == 3 {
            let permit = sem.acquire().unwrap();
            sem.release_permit().unwrap();
            assert_eq!(permit.release().unwrap_err(), NOT_HELD);
        }
        world.barrier();
        assert_eq!(sem.available().unwrap(), i64::from(count));
        // Bad numbers of permits.
        for n in [0, u32::MAX] {
            assert!(matches!(sem.release_permits(n).unwrap_err(), LockError::Core(Error::Invalid { .. })));
        }
        world.barrier();
        assert_eq!(sem.available().unwrap(), i64::from(count));
        world.barrier();
        sem.close().unwrap();

        // mpi4py's testBounded, unbounded: a release adds a permit.
        let sem = Semaphore::options(count).bounded(false).access(access).create(world).unwrap();
        if rank == 0 {
            sem.release_permit().unwrap();
        }
        world.barrier();
        assert_eq!(sem.available().unwrap(), i64::from(count) + 1);
        world.barrier();
        if rank == 0 {
            sem.acquire_permit().unwrap();
        }
        world.barrier();
        assert_eq!(sem.available().unwrap(), i64::from(count));
        world.barrier();
        sem.acquire().unwrap().release().unwrap();
        world.barrier();
        assert_eq!(sem.available().unwrap(), i64::from(count));
        world.barrier();
        sem.close().unwrap();
    }
});

mpi_test!(fn blocking_acquirers_are_served_in_request_order(world, 4) {
    let rank = world.rank();
    for access in ACCESSES {
        let sem = Semaphore::options(1).access(access).create(world).unwrap();
        // Word 0 on rank 0: grants so far.
        let log = scratch(world, 1);
        let held = (rank == 0).then(|| sem.acquire().unwrap());
        world.barrier();
        let position = if rank == 0 {
            // Let ranks 1, 2 and 3 line up (in that order), then let go.
            // The queue's tail is on this rank: across hosts their requests
            // reach it only while it calls MPI.
            common::sleep_with_progress(world, Duration::from_millis(600));
            drop(held);
            0
        } else {
            drop(held); // None here
            std::thread::sleep(Duration::from_millis(150 * rank as u64));
            let permit = sem.acquire().unwrap();
            let position = log.fetch_and_op(0, 0, 1, Op::Sum).unwrap() + 1;
            log.flush(0).unwrap();
            drop(permit);
            position
        };
        assert_eq!(gather(world, position), [0, 1, 2, 3], "{access:?}");
        world.barrier();
        drop(log);
        sem.close().unwrap();
    }
});

mpi_test!(fn acquire_release_rounds_and_close_with_permits_out(world, 4) {
    // mpi4py's testWith, testAcquireRelease and testAcquireFree.
    let rank = world.rank();
    let count = world.size() as u32 - 1;
    for access in ACCESSES {
        let sem = Semaphore::options(count).bounded(false).access(access).create(world).unwrap();
        for i in 0..10 {
            if i < 5 {
                world.barrier();
            } else {
                jitter(rank, i);
            }
            let permit = sem.acquire().unwrap();
            permit.release().unwrap();
            let _with = sem.acquire().unwrap();
        }
        world.barrier();
        assert_eq!(sem.available().unwrap(), i64::from(count));
        world.barrier();
        // Permits still out at close are dropped with the semaphore.
        if rank > 0 {
            sem.acquire_permit().unwrap();
        }
        sem.close().unwrap();
    }
});

mpi_test!(fn semaphore_bad_options_are_the_same_error_everywhere(world, 4) {
    let rank = world.rank() as u32;
    for (result, needle) in [
        (Semaphore::new(world, 1 + rank % 2).map(drop), "semaphore options differ"),
        (Semaphore::options(2).bounded(rank == 0).create(world).map(drop), "semaphore options differ"),
        (Semaphore::new(world, u32::MAX).map(drop), "exceeds i32::MAX"),
        (Semaphore::options(2).root(4).create(world).map(drop), "outside the communicator"),
    ] {
        let err = result.unwrap_err();
        assert!(matches!(&err, LockError::Core(Error::Invalid { message, .. }) if message.contains(needle)), "{err:?}");
        let mut text = err.to_string().into_bytes();
        text.resize(200, 0);
        let mut first = text.clone();
        world.process_at_rank(0).broadcast_into(&mut first[..]);
        assert_eq!(first, text, "the ranks got different errors");
    }
    // A semaphore of 0 permits starts empty; bounded, it can never be released.
    let sem = Semaphore::new(world, 0).unwrap();
    assert!(sem.try_acquire().unwrap().is_none());
    assert_eq!(sem.release_permit().unwrap_err(), NOT_HELD);
    sem.close().unwrap();
});

#[test]
fn local_semaphore_without_mpi() {
    // mpi4py's semaphore on COMM_SELF.
    let sem = Semaphore::local(1).unwrap();
    assert!(sem.is_local() && !sem.uses_cpu_atomics());
    assert_eq!((sem.rank(), sem.size(), sem.root()), (0, 1, None));
    for _ in 0..5 {
        let permit = sem.acquire().unwrap();
        assert!(sem.try_acquire().unwrap().is_none());
        // Waiting here would be forever: an error instead.
        assert!(matches!(
            sem.acquire().unwrap_err(),
            LockError::Core(Error::Invalid { .. })
        ));
        permit.release().unwrap();
    }
    assert_eq!(sem.release_permit().unwrap_err(), NOT_HELD);
    assert_eq!(sem.available().unwrap(), 1);
    let sem = Semaphore::options(1).bounded(false).local().unwrap();
    sem.release_permit().unwrap();
    assert_eq!(sem.available().unwrap(), 2);
    sem.close().unwrap();
}
