//! `mpi_lock::MpiMutex` on real MPI processes, under both kinds of access:
//! data shared under a lock with no `unsafe` in the user's code.

mod common;

use common::sync::*;

use mpi::traits::*;
use mpi_lock::{LockError, MpiMutex};
use shm_core::Error;

mpi_test!(fn update_from_every_rank_gives_an_exact_counter(world, 4) {
    const ITERS: usize = 25;
    for access in ACCESSES {
        let counter = MpiMutex::<f64>::options().access(access).root(1).create(world, 2).unwrap();
        assert_eq!(counter.len(), 2);
        for _ in 0..ITERS {
            let guard = counter.lock().unwrap();
            let before = guard.update(|data| {
                data[0] += 1.0;
                data[1] += world.rank() as f64;
                data[0]
            });
            assert!(before.unwrap() >= 1.0);
            guard.unlock().unwrap();
        }
        world.barrier();
        let n = world.size() as f64;
        let all = counter.lock().unwrap().read_all().unwrap();
        assert_eq!(all, vec![n * ITERS as f64, ITERS as f64 * (n - 1.0) * n / 2.0]);
        world.barrier();
        counter.close().unwrap();
    }
});

mpi_test!(fn typed_get_and_put_of_ranges(world, 4) {
    let rank = world.rank() as i64;
    let size = world.size() as usize;
    for access in ACCESSES {
        let mutex = MpiMutex::<i64>::options().access(access).create(world, 2 * size).unwrap();
        {
            let guard = mutex.lock().unwrap();
            assert_eq!(guard.len(), 2 * size);
            guard.put(2 * rank as usize, &[rank, 10 * rank]).unwrap();
            // Our own write is seen by our next read, before the release.
            assert_eq!(guard.get(2 * rank as usize..2 * rank as usize + 2).unwrap(), vec![rank, 10 * rank]);
        }
        world.barrier();
        let guard = mutex.lock().unwrap();
        let expected: Vec<i64> = (0..size as i64).flat_map(|r| [r, 10 * r]).collect();
        assert_eq!(guard.read_all().unwrap(), expected);
        assert_eq!(guard.get(..).unwrap(), expected);
        assert_eq!(guard.get(2..4).unwrap(), vec![1, 10]);
        assert_eq!(guard.get(2..=4).unwrap(), vec![1, 10, 2]);
        assert_eq!(guard.get(6..).unwrap(), vec![3, 30]);
        assert_eq!(guard.get(3..3).unwrap(), Vec::<i64>::new());
        assert_eq!(guard.get_at(5).unwrap(), 20);
        let mut out = [0i64; 3];
        guard.get_into(1, &mut out).unwrap();
        assert_eq!(out, [0, 1, 10]);
        drop(guard);
        world.barrier();
        mutex.close().unwrap();
    }
});

mpi_test!(fn out_of_range_is_an_error_and_the_mutex_stays_usable(world, 4) {
    for access in ACCESSES {
        let mutex = MpiMutex::<u32>::options().access(access).create(world, 8).unwrap();
        let guard = mutex.lock().unwrap();
        let out_of_range = |e: LockError| matches!(e, LockError::Core(Error::OutOfRange { len: 8, .. }));
        assert!(out_of_range(guard.get(6..10).unwrap_err()));
        assert!(out_of_range(guard.get(9..).unwrap_err()));
        assert!(out_of_range(guard.get_at(8).unwrap_err()));
        assert!(out_of_range(guard.put(7, &[1, 2]).unwrap_err()));
        assert!(out_of_range(guard.put(usize::MAX, &[1]).unwrap_err()));
        let mut out = [0u32; 9];
        assert!(out_of_range(guard.get_into(0, &mut out).unwrap_err()));
        guard.put(7, &[7]).unwrap();
        drop(guard);
        world.barrier();
        assert_eq!(mutex.lock().unwrap().get_at(7).unwrap(), 7);
        world.barrier();
        mutex.close().unwrap();
    }
});

mpi_test!(fn the_next_holder_sees_the_data_written_before(world, 4) {
    // Word 0: the number of holds so far; word 1: the rank of the last
    // holder; words 2..: each hold's rank, in order. A hold that missed the
    // previous write would reuse a sequence number and the log would not add
    // up.
    const HOLDS: usize = 12;
    let rank = world.rank();
    let total = HOLDS * world.size() as usize;
    for access in ACCESSES {
        let mutex = MpiMutex::<i32>::options().access(access).root(3).create(world, 2 + total).unwrap();
        let mut seen_others = 0;
        for _ in 0..HOLDS {
            let guard = mutex.lock().unwrap();
            let head = guard.get(0..2).unwrap();
            let (holds, last) = (head[0] as usize, head[1]);
            if holds > 0 {
                assert_eq!(guard.get_at(2 + holds - 1).unwrap(), last, "the log and the last holder differ");
                seen_others += i64::from(last != rank);
            }
            guard.put(0, &[holds as i32 + 1, rank]).unwrap();
            guard.put(2 + holds, &[rank]).unwrap();
            drop(guard);
        }
        world.barrier();
        let log = mutex.lock().unwrap().read_all().unwrap();
        assert_eq!(log[0] as usize, total);
        for r in 0..world.size() {
            assert_eq!(log[2..].iter().filter(|&&x| x == r).count(), HOLDS, "rank {r}'s holds");
        }
        // Data did pass between ranks.
        assert!(sum(world, seen_others) > 0);
        world.barrier();
        mutex.close().unwrap();
    }
});

mpi_test!(fn initial_data_comes_from_the_root_and_options_are_checked(world, 4) {
    let rank = world.rank();
    for access in ACCESSES {
        // Only the root's initial data counts.
        let initial: Vec<f32> = if rank == 2 { vec![1.5, 2.5, 3.5] } else { Vec::new() };
        let mutex = MpiMutex::options().access(access).root(2).create_with(world, 3, &initial).unwrap();
        assert_eq!(mutex.lock().unwrap().read_all().unwrap(), vec![1.5, 2.5, 3.5]);
        world.barrier();
        // try_lock fails while another rank holds.
        let held = if rank == 0 { Some(mutex.lock().unwrap()) } else { None };
        world.barrier();
        if rank != 0 {
            assert!(mutex.try_lock().unwrap().is_none());
        }
        world.barrier();
        drop(held);
        world.barrier();
        mutex.close().unwrap();
    }
    // Lengths, element types or roots that differ: the same error everywhere.
    let err = MpiMutex::<f64>::new(world, rank as usize).unwrap_err();
    assert!(matches!(&err, LockError::Core(Error::Invalid { message, .. }) if message.contains("differ")), "{err}");
    let err = MpiMutex::<f64>::options().root(7).create(world, 1).unwrap_err();
    assert!(matches!(&err, LockError::Core(Error::Invalid { message, .. }) if message.contains("outside")), "{err}");
    let err = MpiMutex::<i64>::options().create_with(world, 4, &[1, 2]).unwrap_err();
    assert!(matches!(&err, LockError::Core(Error::Invalid { message, .. }) if message.contains("initial")), "{err}");
    // A leaked guard is reported at close on every rank.
    let mutex = MpiMutex::<i64>::new(world, 1).unwrap();
    if rank == 1 {
        std::mem::forget(mutex.lock().unwrap());
    }
    world.barrier();
    assert_eq!(mutex.close().unwrap_err(), LockError::HeldAtClose { rank: 1 });
});
