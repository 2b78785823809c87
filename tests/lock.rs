//! The distributed FIFO mutex (`mpi-lock`) on real MPI processes.

mod common;

use common::sync::*;

use mpi::traits::*;
use mpi_lock::{Access, LockError, MpiLock, MpiMutex, Order};
use shm_core::window::{LockedWindow, Op, Rma};
use shm_core::Error;
use std::time::{Duration, Instant};

/// A non-atomic read-modify-write of `win[0]` on rank 0: only correct under
/// mutual exclusion.
fn unprotected_increment(win: &LockedWindow<i64>) {
    let mut value = [0i64];
    win.get(0, 0, &mut value).unwrap();
    value[0] += 1;
    win.put(0, 0, &value).unwrap();
    win.flush(0).unwrap();
}

fn lock_on(world: &mpi::topology::SimpleCommunicator, root: i32, access: Access) -> MpiLock {
    MpiLock::options()
        .root(root)
        .access(access)
        .create(world)
        .unwrap()
}

mpi_test!(fn exclusion_gives_an_exact_counter(world, 4) {
    for access in ACCESSES {
        const ITERS: i64 = 150;
        let lock = lock_on(world, 0, access);
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
    }
});

mpi_test!(fn uncontended_cost_is_one_remote_op_each_way(world, 4) {
    for access in ACCESSES {
        // Only one rank uses the lock: lock = tail swap, unlock = tail CAS.
        let lock = lock_on(world, world.size() - 1, access);
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
    }
});

mpi_test!(fn fifo_rounds_grant_in_request_order(world, 4) {
    for access in ACCESSES {
        const ROUNDS: u64 = 25;
        let n = world.size() as u64;
        let lock = lock_on(world, 1, access);
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
    }
});

mpi_test!(fn try_lock_fails_while_held_and_one_wins_after(world, 4) {
    for access in ACCESSES {
        let lock = lock_on(world, 0, access);
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
    }
});

mpi_test!(fn two_locks_in_opposite_orders_do_not_interfere(world, 4) {
    for access in ACCESSES {
        const ITERS: i64 = 60;
        let rank = world.rank();
        let a = lock_on(world, 0, access);
        let b = lock_on(world, 3, access);
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
    }
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
    for access in ACCESSES {
        // Enough rounds, started together, that the threads of a rank truly
        // overlap: a lock whose local thread mutex did nothing would let two
        // threads of one rank in at once, and the occupancy count and the
        // exact total catch it.
        const ITERS: i64 = 200;
        let rank = world.rank();
        // The counter lives in a window on rank 0, guarded by the mutex's
        // lock: the threads of every rank share it with no `unsafe`.
        let counter = MpiMutex::<i64>::options().access(access).create(world, 1).unwrap();
        let lock = counter.mpi_lock();
        let multiple = mpi::environment::threading_support() == mpi::Threading::Multiple;
        let threads: i64 = if rank == 0 || rank == 2 { 2 } else { 1 };
        if multiple {
            let start = std::sync::Barrier::new(threads as usize);
            let inside_here = std::sync::atomic::AtomicUsize::new(0);
            world.barrier();
            std::thread::scope(|s| {
                for _ in 0..threads {
                    s.spawn(|| {
                        start.wait();
                        for _ in 0..ITERS {
                            let g = counter.lock().unwrap();
                            assert_eq!(inside_here.fetch_add(1, std::sync::atomic::Ordering::SeqCst), 0, "two threads of rank {rank} inside");
                            // Not atomic: a second holder anywhere loses counts.
                            let value = g.get_at(0).unwrap();
                            g.put(0, &[value + 1]).unwrap();
                            inside_here.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
                            g.unlock().unwrap();
                        }
                    });
                }
            });
            world.barrier();
            let total = sum(world, threads);
            assert_eq!(counter.lock().unwrap().get_at(0).unwrap(), total * ITERS);
            assert_eq!(lock.stats().acquisitions as i64, threads * ITERS + 1);
        } else {
            // Without MPI_THREAD_MULTIPLE, another thread is refused.
            std::thread::scope(|s| {
                s.spawn(|| assert!(matches!(counter.lock().unwrap_err(), LockError::ThreadLevel { .. })));
            });
        }
        world.barrier();
        counter.close().unwrap();
    }
});

mpi_test!(fn recursive_mode_and_lock_state(world, 4) {
    let one_node = shm_core::NodeTopology::of(world).unwrap().nodes() == 1;
    for access in ACCESSES {
        let rank = world.rank();
        let lock = MpiLock::options().access(access).recursive(true).create(world).unwrap();
        assert!(lock.is_recursive());
        // CPU atomics exactly when asked for and every rank shares a node.
        assert_eq!(lock.uses_cpu_atomics(), access == Access::Auto && one_node);
        assert!(!lock.is_held());
        world.barrier();
        assert!(!lock.is_locked().unwrap());
        world.barrier();
        if rank == 1 {
            let outer = lock.lock().unwrap();
            let inner = lock.lock().unwrap();
            let tried = lock.try_lock().unwrap().expect("re-entered");
            assert_eq!((inner.ticket(), tried.ticket()), (outer.ticket(), outer.ticket()));
            // The lock goes with the last guard, whatever the order.
            drop(outer);
            drop(tried);
            assert!(lock.is_held() && lock.is_locked().unwrap());
            world.barrier();
            world.barrier();
            inner.unlock().unwrap();
            assert!(!lock.is_held());
        } else {
            world.barrier();
            // Rank 1 holds it: seen from everywhere, and nobody else gets it.
            assert!(lock.is_locked().unwrap());
            assert!(!lock.is_held());
            assert!(lock.try_lock().unwrap().is_none());
            world.barrier();
        }
        // Every rank gets it once rank 1 lets go.
        drop(lock.lock().unwrap());
        world.barrier();
        assert!(!lock.is_locked().unwrap());
        lock.close().unwrap();
    }
    // The non-recursive default refuses re-entry.
    let lock = MpiLock::new(world).unwrap();
    assert!(!lock.is_recursive());
    let g = lock.lock().unwrap();
    assert_eq!(lock.lock().unwrap_err(), LockError::AlreadyHeld);
    drop(g);
    lock.close().unwrap();
});

mpi_test!(fn sleeping_holder_does_not_hang_waiters(world, 4) {
    for access in ACCESSES {
        let rank = world.rank();
        let lock = lock_on(world, 0, access);
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
    }
});

mpi_test!(fn node_batched_order_bounds_runs(world, 4) {
    // Every rank contends; each grant records the node of its holder at the
    // index of its ticket. Runs of one node never exceed the bound, tickets
    // stay one global sequence, and hand-offs through the waiting list (the
    // only ones that may cross nodes) are rare.
    const ITERS: usize = 100;
    const MAX_BATCH: u32 = 16;
    let topology = shm_core::NodeTopology::of(world).unwrap();
    let node = topology.my_place().node as i64;
    let n = world.size() as usize * ITERS;
    for access in ACCESSES {
        let lock = MpiLock::options()
            .access(access)
            .order(Order::NodeBatched { max_batch: MAX_BATCH })
            .create(world)
            .unwrap();
        assert_eq!(lock.order(), Order::NodeBatched { max_batch: MAX_BATCH });
        // Word 0: occupancy; words 1..=n: the node of grant t (1-based), + 1.
        let grants = scratch(world, n + 1);
        world.barrier();
        for _ in 0..ITERS {
            let guard = lock.lock().unwrap();
            assert_eq!(grants.fetch_and_op(0, 0, 1, Op::Sum).unwrap(), 0, "two holders inside");
            let ticket = guard.ticket() as usize;
            assert!((1..=n).contains(&ticket), "ticket {ticket} outside 1..={n}");
            assert_eq!(grants.fetch_and_op(0, ticket, node + 1, Op::Replace).unwrap(), 0, "ticket {ticket} granted twice");
            // Hold it a moment, so that the others (fewer cores than ranks)
            // get to run and queue up behind.
            std::thread::sleep(Duration::from_micros(20));
            assert_eq!(grants.fetch_and_op(0, 0, -1, Op::Sum).unwrap(), 1);
            grants.flush(0).unwrap();
            drop(guard);
        }
        world.barrier();
        let mut nodes = vec![0i64; n];
        grants.get(0, 1, &mut nodes).unwrap();
        grants.flush(0).unwrap();
        assert!(nodes.iter().all(|&v| v > 0), "a ticket was never granted: {nodes:?}");
        if topology.nodes() > 1 {
            // While another node has a rank waiting, no run goes beyond the
            // bound. The last run is the exception: once the other nodes'
            // ranks have done their iterations, the node left has the lock
            // to itself (seen on the bed: a last run of 17).
            let runs: Vec<usize> = nodes.chunk_by(|a, b| a == b).map(<[i64]>::len).collect();
            let longest = runs[..runs.len() - 1].iter().copied().max().unwrap_or(0);
            assert!(longest <= MAX_BATCH as usize, "a node held the lock {longest} times in a row: runs {runs:?}");
        }
        let stats = lock.stats();
        assert_eq!(stats.acquisitions as usize, ITERS);
        let handoffs = sum(world, stats.handoffs as i64);
        let local = sum(world, stats.local_handoffs as i64);
        assert!(local > 0, "no hand-off within a node: {stats:?}");
        // Each run of grants on a node (at most MAX_BATCH long) starts
        // without a local hand-off.
        let runs = n as i64 - local;
        assert!(runs >= (n / MAX_BATCH as usize) as i64, "{runs} runs for {n} grants");
        // At most one hand-off through the waiting list per 10 grants.
        assert!(handoffs * 10 <= n as i64, "{handoffs} hand-offs through the waiting list for {n} grants");
        world.barrier();
        drop(grants);
        lock.close().unwrap();
    }
    // A bound of 0 is refused on every rank.
    let err = MpiLock::options().order(Order::NodeBatched { max_batch: 0 }).create(world).unwrap_err();
    assert!(matches!(&err, LockError::Core(Error::Invalid { message, .. }) if message.contains("max_batch")), "{err}");
});
