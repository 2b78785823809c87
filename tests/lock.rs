//! The distributed FIFO mutex (`mpi-lock`) on real MPI processes.

mod common;

use mpi::traits::*;
use mpi_lock::{LockError, MpiLock};
use shm_core::window::{LockedWindow, Op, Rma, Window};
use shm_core::Error;
use std::time::{Duration, Instant};

/// A scratch window of `len` i64 words per rank, in a lock_all epoch.
fn scratch(world: &mpi::topology::SimpleCommunicator, len: usize) -> LockedWindow<i64> {
    Window::<i64>::allocate(world, len)
        .unwrap()
        .into_locked(true)
        .unwrap()
}

/// A non-atomic read-modify-write of `win[0]` on rank 0: only correct under
/// mutual exclusion.
fn unprotected_increment(win: &LockedWindow<i64>) {
    let mut value = [0i64];
    win.get(0, 0, &mut value).unwrap();
    value[0] += 1;
    win.put(0, 0, &value).unwrap();
    win.flush(0).unwrap();
}

fn read_word(win: &LockedWindow<i64>, rank: i32, disp: usize) -> i64 {
    win.fetch_and_op(rank, disp, 0, Op::NoOp).unwrap()
}

fn sum(world: &mpi::topology::SimpleCommunicator, value: i64) -> i64 {
    let mut total = 0i64;
    world.all_reduce_into(&value, &mut total, mpi::collective::SystemOperation::sum());
    total
}

mpi_test!(fn exclusion_gives_an_exact_counter(world, 4) {
    const ITERS: i64 = 150;
    let lock = MpiLock::new(world).unwrap();
    let counter = scratch(world, 2);
    for _ in 0..ITERS {
        let guard = lock.lock().unwrap();
        // Nobody else may be inside: occupancy goes 0 -> 1 -> 0.
        assert_eq!(counter.fetch_and_op(0, 1, 1, Op::Sum).unwrap(), 0, "two ranks inside the lock");
        unprotected_increment(&counter);
        assert_eq!(counter.fetch_and_op(0, 1, -1, Op::Sum).unwrap(), 1);
        counter.flush(0).unwrap();
        guard.unlock().unwrap();
    }
    world.barrier();
    assert_eq!(read_word(&counter, 0, 0), ITERS * world.size() as i64);
    // Constant cost: at most 2 remote operations to lock and 2 to unlock.
    let stats = lock.stats();
    assert_eq!(stats.acquisitions, ITERS as u64);
    assert!(stats.remote_ops >= 2 * ITERS as u64 && stats.remote_ops <= 4 * ITERS as u64, "{stats:?}");
    assert!(stats.remote_ops_per_acquisition() <= 4.0);
    drop(counter);
    lock.close().unwrap();
});

mpi_test!(fn uncontended_cost_is_one_remote_op_each_way(world, 4) {
    // Only one rank uses the lock: lock = tail swap, unlock = tail CAS.
    let lock = MpiLock::with_root(world, world.size() - 1).unwrap();
    assert_eq!(lock.root(), Some(world.size() - 1));
    if world.rank() == 1 {
        for i in 1..=50u64 {
            let guard = lock.lock().unwrap();
            assert_eq!(guard.ticket(), i);
        }
        let stats = lock.stats();
        assert_eq!(stats.remote_ops, 100, "{stats:?}");
        assert_eq!(stats.remote_flushes, 0);
        assert_eq!(stats.local_polls, 0);
    }
    world.barrier();
    lock.close().unwrap();
});

mpi_test!(fn fifo_rounds_grant_in_request_order(world, 4) {
    const ROUNDS: u64 = 25;
    let n = world.size() as u64;
    let lock = MpiLock::with_root(world, 1).unwrap();
    // Word 0 on rank 0: the number of grants so far.
    let grants = scratch(world, 1);
    for round in 0..ROUNDS {
        world.barrier();
        let guard = lock.lock().unwrap();
        let order = grants.fetch_and_op(0, 0, 1, Op::Sum).unwrap() as u64 + 1;
        grants.flush(0).unwrap();
        // The ticket is the position of our tail swap: FIFO means the k-th
        // grant goes to the k-th request.
        assert_eq!(order, guard.ticket(), "grant order differs from request order");
        let ticket = guard.ticket() as i64;
        drop(guard);
        // Every rank got the lock exactly once in this round.
        let mut tickets = vec![0i64; n as usize];
        world.all_gather_into(&ticket, &mut tickets[..]);
        tickets.sort_unstable();
        let expected: Vec<i64> = (round * n + 1..=round * n + n).map(|t| t as i64).collect();
        assert_eq!(tickets, expected, "round {round}");
    }
    world.barrier();
    assert_eq!(read_word(&grants, 0, 0) as u64, ROUNDS * n);
    drop(grants);
    lock.close().unwrap();
});

mpi_test!(fn try_lock_fails_while_held_and_one_wins_after(world, 4) {
    let lock = MpiLock::new(world).unwrap();
    let rank = world.rank();
    let held = if rank == 2 { Some(lock.lock().unwrap()) } else { None };
    world.barrier();
    if rank != 2 {
        for _ in 0..5 {
            assert!(lock.try_lock().unwrap().is_none(), "try_lock succeeded while rank 2 holds");
        }
    }
    world.barrier();
    drop(held);
    world.barrier();
    // The lock is free: exactly one of the contenders gets it.
    let mine = if rank != 2 { lock.try_lock().unwrap() } else { None };
    assert_eq!(sum(world, mine.is_some() as i64), 1);
    if rank != 2 {
        assert_eq!(lock.stats().failed_tries, if mine.is_some() { 5 } else { 6 });
    }
    world.barrier();
    drop(mine);
    world.barrier();
    // And try_lock and lock mix: everyone eventually gets it.
    let got = loop {
        if let Some(g) = lock.try_lock().unwrap() {
            break g;
        }
        std::thread::yield_now();
    };
    drop(got);
    let _g = lock.lock().unwrap();
    drop(_g);
    world.barrier();
    lock.close().unwrap();
});

mpi_test!(fn two_locks_in_opposite_orders_do_not_interfere(world, 4) {
    const ITERS: i64 = 60;
    let rank = world.rank();
    let a = MpiLock::with_root(world, 0).unwrap();
    let b = MpiLock::with_root(world, 3).unwrap();
    // Per lock: word 0 = counter, word 1 = occupancy, on rank 0 for `a` and
    // rank 3 for `b`.
    let words = scratch(world, 2);
    let (home_a, home_b) = (0, 3);
    let critical = |home: i32| {
        assert_eq!(words.fetch_and_op(home, 1, 1, Op::Sum).unwrap(), 0, "a token crossed over");
        let mut v = [0i64];
        words.get(home, 0, &mut v).unwrap();
        v[0] += 1;
        words.put(home, 0, &v).unwrap();
        words.flush(home).unwrap();
        assert_eq!(words.fetch_and_op(home, 1, -1, Op::Sum).unwrap(), 1);
        words.flush(home).unwrap();
    };
    for _ in 0..ITERS {
        // Ranks 0 and 1 take a then b, ranks 2 and 3 b then a (one at a time).
        if rank < 2 {
            let g = a.lock().unwrap();
            critical(home_a);
            drop(g);
            let g = b.lock().unwrap();
            critical(home_b);
            drop(g);
        } else {
            let g = b.lock().unwrap();
            critical(home_b);
            drop(g);
            let g = a.lock().unwrap();
            critical(home_a);
            drop(g);
        }
    }
    world.barrier();
    let n = world.size() as i64 * ITERS;
    assert_eq!(read_word(&words, home_a, 0), n);
    assert_eq!(read_word(&words, home_b, 0), n);
    // Tickets are per lock: each lock granted exactly n requests.
    world.barrier();
    let ta = a.lock().unwrap().ticket();
    let tb = b.lock().unwrap().ticket();
    let mut max = [0i64; 2];
    world.all_reduce_into(&[ta as i64, tb as i64][..], &mut max[..], mpi::collective::SystemOperation::max());
    assert_eq!(max, [n + world.size() as i64, n + world.size() as i64]);
    drop(words);
    b.close().unwrap();
    a.close().unwrap();
});

mpi_test!(fn misuse_gives_clear_errors(world, 4) {
    let rank = world.rank();
    // A root out of range is the same error on every rank.
    let err = MpiLock::with_root(world, 4).unwrap_err();
    match &err {
        LockError::Core(Error::Invalid { rank: found, message }) => {
            assert_eq!(*found, Some(0));
            assert!(message.contains("outside the communicator of 4 ranks"), "{message}");
        }
        other => panic!("unexpected error {other:?}"),
    }
    // A root that differs between ranks, too.
    let err = MpiLock::with_root(world, rank % 2).unwrap_err();
    assert!(matches!(&err, LockError::Core(Error::Invalid { message, .. }) if message.contains("differ")), "{err}");

    let lock = MpiLock::new(world).unwrap();
    // Locking again from the holding thread is an error, not a deadlock.
    if rank == 1 {
        let g = lock.lock().unwrap();
        assert_eq!(lock.lock().unwrap_err(), LockError::AlreadyHeld);
        assert_eq!(lock.try_lock().unwrap_err(), LockError::AlreadyHeld);
        g.unlock().unwrap();
        // Released: usable again.
        drop(lock.lock().unwrap());
    }
    world.barrier();

    // Closing while held: rank 3 leaks its guard while the others queue
    // behind it. Close releases it (nobody keeps waiting) and every rank
    // reports the leak.
    if rank == 3 {
        std::mem::forget(lock.lock().unwrap());
    }
    world.barrier();
    if rank != 3 {
        let g = lock.lock().unwrap();
        drop(g);
    }
    assert_eq!(lock.close().unwrap_err(), LockError::HeldAtClose { rank: 3 });

    // The Drop fallback is collective too and frees everything.
    let lock = MpiLock::new(world).unwrap();
    drop(lock.lock().unwrap());
    drop(lock);
    world.barrier();
});

mpi_test!(fn threads_of_one_rank_share_the_lock(world, 4) {
    const ITERS: i64 = 60;
    let rank = world.rank();
    let lock = MpiLock::new(world).unwrap();
    let counter = scratch(world, 1);
    let multiple = mpi::environment::threading_support() == mpi::Threading::Multiple;
    let threads: i64 = if rank == 0 || rank == 2 { 2 } else { 1 };
    if multiple {
        // Window ops of the test itself are made from several threads too:
        // wrap the window so that each thread only uses it inside the lock.
        struct Shared<'a>(&'a LockedWindow<i64>);
        // SAFETY: the threads only touch the window while holding the
        // MpiLock, so they use it one at a time, and MPI provides
        // MPI_THREAD_MULTIPLE (checked above).
        unsafe impl Sync for Shared<'_> {}
        let shared = Shared(&counter);
        std::thread::scope(|s| {
            for _ in 0..threads {
                s.spawn(|| {
                    let shared = &shared;
                    for _ in 0..ITERS {
                        let g = lock.lock().unwrap();
                        unprotected_increment(shared.0);
                        drop(g);
                    }
                });
            }
        });
        world.barrier();
        let total = sum(world, threads);
        assert_eq!(read_word(&counter, 0, 0), total * ITERS);
        assert_eq!(lock.stats().acquisitions as i64, threads * ITERS);
    } else {
        // Without MPI_THREAD_MULTIPLE, another thread is refused.
        std::thread::scope(|s| {
            s.spawn(|| assert!(matches!(lock.lock().unwrap_err(), LockError::ThreadLevel { .. })));
        });
    }
    drop(counter);
    lock.close().unwrap();
});

mpi_test!(fn sleeping_holder_does_not_hang_waiters(world, 4) {
    let rank = world.rank();
    let lock = MpiLock::new(world).unwrap();
    let counter = scratch(world, 1);
    let hold = Duration::from_millis(300);
    let start = if rank == 1 {
        let g = lock.lock().unwrap();
        world.barrier();
        let start = Instant::now();
        // Compute outside MPI while holding.
        std::thread::sleep(hold);
        unprotected_increment(&counter);
        drop(g);
        start
    } else {
        world.barrier();
        let start = Instant::now();
        let g = lock.lock().unwrap();
        assert!(start.elapsed() >= hold - Duration::from_millis(50), "got the lock while rank 1 held it");
        unprotected_increment(&counter);
        drop(g);
        start
    };
    world.barrier();
    assert_eq!(read_word(&counter, 0, 0), world.size() as i64);
    assert!(start.elapsed() < Duration::from_secs(20));
    drop(counter);
    lock.close().unwrap();
});
