//! `Counter` and `WorkQueue` (`mpi-lock`) on real MPI processes: mpi4py's
//! `test_util_sync.py` counter cases, ported, and the work queue built on
//! the counter.

mod common;

use common::sync::*;

use mpi::traits::*;
use mpi_lock::{Access, Counter, CounterValue, LockError, WorkQueue};
use shm_core::Error;
use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::time::Duration;

type World = mpi::topology::SimpleCommunicator;

/// `mine` from every rank, in rank order (every rank passes as many).
fn gather_slices(world: &World, mine: &[i64]) -> Vec<i64> {
    let mut all = vec![0i64; mine.len() * world.size() as usize];
    world.all_gather_into(mine, &mut all[..]);
    all
}

/// Checks that `err` is an `Invalid` whose message contains `needle`, and
/// that every rank got exactly the same error.
fn same_invalid_everywhere(world: &World, err: &LockError, needle: &str) {
    assert!(
        matches!(err, LockError::Core(Error::Invalid { message, .. }) if message.contains(needle)),
        "expected Invalid containing {needle:?}, got {err:?}"
    );
    let mut h = DefaultHasher::new();
    format!("{err:?}").hash(&mut h);
    let all = gather_slices(world, &[h.finish() as i64]);
    assert!(
        all.iter().all(|&x| x == all[0]),
        "the ranks got different errors; this one: {err:?}"
    );
}

/// Each rank calls `next` `its` times (if `take`); returns every value
/// taken anywhere, sorted, as the bits of an i64.
fn execute<T: CounterValue + Into<i128>>(
    world: &World,
    counter: &Counter<T>,
    its: usize,
    take: bool,
) -> Vec<i64> {
    // (taken, value) pairs: any i64 may be a value.
    let mut mine = vec![0i64; 2 * its];
    if take {
        for pair in mine.chunks_mut(2) {
            pair[0] = 1;
            pair[1] = counter.next().unwrap().into() as i64;
        }
    }
    let mut all: Vec<i64> = gather_slices(world, &mine)
        .chunks(2)
        .filter(|p| p[0] == 1)
        .map(|p| p[1])
        .collect();
    all.sort_unstable();
    all
}

/// `start + k * step` for `k` in `0..count`, wrapping in `T`, as i64 bits,
/// sorted.
fn expected<T: CounterValue + Into<i128>>(start: T, step: T, count: usize) -> Vec<i64> {
    let local = Counter::local(start, step);
    let mut values: Vec<i64> = (0..count)
        .map(|_| local.next().unwrap().into() as i64)
        .collect();
    values.sort_unstable();
    values
}

mpi_test!(fn counter_hands_out_each_value_once(world, 4) {
    let size = world.size() as usize;
    for access in ACCESSES {
        // mpi4py's testDefault: 5 next() per rank, no duplicates, no gaps,
        // checked on every rank.
        let counter = Counter::options().access(access).create::<i64>(world).unwrap();
        assert_eq!((counter.rank(), counter.size(), counter.root()), (world.rank(), 4, Some(0)));
        if access == Access::Mpi {
            assert!(!counter.uses_cpu_atomics());
        }
        let values = execute(world, &counter, 5, true);
        assert_eq!(values, (0..5 * size as i64).collect::<Vec<_>>(), "{access:?}");
        // Read back: the next value, on every rank, once all are done.
        world.barrier();
        assert_eq!(counter.value().unwrap(), 5 * size as i64);
        world.barrier();
        counter.close().unwrap();

        // Counter::new: i64 from 0 by 1 on rank 0, Access::Auto.
        let counter = Counter::new(world).unwrap();
        // mpi4py's testNext: take until the values reach size - 1.
        loop {
            let value = counter.next().unwrap();
            std::thread::sleep(Duration::from_micros(200 * (world.rank() as u64 + 1)));
            if value >= size as i64 - 1 {
                break;
            }
        }
        world.barrier();
        assert!(counter.value().unwrap() >= size as i64);
        drop(counter); // collective too
    }
});

mpi_test!(fn counter_start_step_and_root(world, 4) {
    let size = world.size() as usize;
    let rank = world.rank();
    for access in ACCESSES {
        // testStart, testStep, and a negative step.
        let counter = Counter::options().start(7).access(access).create::<i64>(world).unwrap();
        assert_eq!(execute(world, &counter, 5, true), (7..7 + 5 * size as i64).collect::<Vec<_>>());
        counter.close().unwrap();
        let counter = Counter::options().step(2).access(access).create::<i64>(world).unwrap();
        assert_eq!(execute(world, &counter, 5, true), (0..10 * size as i64).step_by(2).collect::<Vec<_>>());
        counter.close().unwrap();
        let counter = Counter::options().start(100).step(-3).access(access).create::<i32>(world).unwrap();
        assert_eq!(execute(world, &counter, 5, true), expected(100i32, -3, 5 * size));
        counter.close().unwrap();

        // testRoot: the counter on each rank in turn, the root not taking.
        for root in 0..size as i32 {
            let counter = Counter::options().root(root).access(access).create::<i64>(world).unwrap();
            assert_eq!(counter.root(), Some(root));
            let values = execute(world, &counter, 5, rank != root);
            assert_eq!(values, (0..5 * (size as i64 - 1)).collect::<Vec<_>>(), "root {root}");
            world.barrier();
            // Everyone reads the same value back, the root included.
            assert_eq!(counter.value().unwrap(), 5 * (size as i64 - 1));
            world.barrier();
            counter.close().unwrap();
        }
    }
});

mpi_test!(fn counter_types_wrap_like_their_words(world, 4) {
    let size = world.size() as usize;
    for access in ACCESSES {
        // testTypechar, for the four word types, from 0 and near the top.
        macro_rules! check {
            ($t:ty, $start:expr, $step:expr) => {{
                let (start, step): ($t, $t) = ($start, $step);
                let counter = Counter::options().start(start).step(step).access(access).create::<$t>(world).unwrap();
                assert_eq!(counter.start(), start);
                assert_eq!(counter.step(), step);
                let values = execute(world, &counter, 3, true);
                assert_eq!(values, expected(start, step, 3 * size), "{} from {start} by {step}", stringify!($t));
                world.barrier();
                let last = Counter::local(start, step);
                last.fetch_add((3 * size) as $t).unwrap();
                assert_eq!(counter.value().unwrap(), last.value().unwrap());
                world.barrier();
                counter.close().unwrap();
            }};
        }
        check!(i32, 0, 1);
        check!(i32, i32::MAX - 5, 1);
        check!(u32, u32::MAX - 4, 1);
        check!(i64, i64::MIN + 3, -1);
        check!(u64, 0, 1);
        check!(u64, u64::MAX - 6, 1);
        check!(u64, 1 << 40, 1 << 20);
    }
});

mpi_test!(fn counter_fetch_add_advances_by_steps(world, 4) {
    let size = world.size() as i64;
    let rank = world.rank() as i64;
    for access in ACCESSES {
        let counter = Counter::options().start(10).step(5).access(access).create::<i64>(world).unwrap();
        // Each rank takes 1 + rank steps, then 1, then 3: the (value, steps)
        // pairs tile the sequence with neither gaps nor overlaps.
        let mut mine = Vec::new();
        for n in [1 + rank, 1, 3] {
            let before = counter.fetch_add(n).unwrap();
            mine.extend([before, n]);
        }
        let all = gather_slices(world, &mine);
        let mut pairs: Vec<(i64, i64)> = all.chunks(2).map(|p| (p[0], p[1])).collect();
        pairs.sort_unstable();
        let mut next = 10;
        for (value, steps) in &pairs {
            assert_eq!(*value, next, "{pairs:?}");
            next += 5 * steps;
        }
        world.barrier();
        assert_eq!(counter.value().unwrap(), next);
        world.barrier();
        // And back: rank 0 undoes everything in one call.
        let total_steps: i64 = pairs.iter().map(|p| p.1).sum();
        if rank == 0 {
            assert_eq!(counter.fetch_add(-total_steps).unwrap(), next);
        }
        world.barrier();
        assert_eq!(counter.value().unwrap(), 10);
        world.barrier();
        counter.close().unwrap();
        assert_eq!(total_steps, size * (size + 1) / 2 + 4 * size);
    }
});

mpi_test!(fn counter_bad_options_are_the_same_error_everywhere(world, 4) {
    let rank = world.rank();
    for access in ACCESSES {
        let o = Counter::options().access(access);
        let err = o.root(4).create::<i64>(world).unwrap_err();
        same_invalid_everywhere(world, &err, "outside the communicator of 4 ranks");
        let err = o.root(-1).create::<i64>(world).unwrap_err();
        same_invalid_everywhere(world, &err, "outside the communicator");
        let err = o.root(rank % 2).create::<i64>(world).unwrap_err();
        same_invalid_everywhere(world, &err, "root ranks differ");
        let err = o.start(rank).create::<i64>(world).unwrap_err();
        same_invalid_everywhere(world, &err, "counter options differ");
        let err = o.step(if rank == 3 { 2 } else { 1 }).create::<i64>(world).unwrap_err();
        same_invalid_everywhere(world, &err, "counter options differ");
        // Different types on different ranks.
        let err = if rank == 0 {
            o.create::<i32>(world).map(drop).unwrap_err()
        } else {
            o.create::<i64>(world).map(drop).unwrap_err()
        };
        same_invalid_everywhere(world, &err, "counter options differ");
        // Values that do not fit the type, agreed everywhere.
        let err = o.start(-1).create::<u64>(world).unwrap_err();
        same_invalid_everywhere(world, &err, "start -1 does not fit in uint64");
        let err = o.step(1i64 << 40).create::<i32>(world).unwrap_err();
        same_invalid_everywhere(world, &err, "does not fit in int32");
        // And after all that, a good counter works.
        let counter = o.create::<u32>(world).unwrap();
        assert_eq!(execute(world, &counter, 2, true), (0..8).collect::<Vec<_>>());
        counter.close().unwrap();
    }
});

#[test]
fn local_counter_without_mpi() {
    // mpi4py's counter on COMM_SELF: the same sequence, in this process.
    let counter = Counter::local(7i64, 2);
    assert!(counter.is_local() && !counter.uses_cpu_atomics());
    assert_eq!(
        (counter.rank(), counter.size(), counter.root()),
        (0, 1, None)
    );
    let values: Vec<i64> = (0..5).map(|_| counter.next().unwrap()).collect();
    assert_eq!(values, [7, 9, 11, 13, 15]);
    assert_eq!(counter.fetch_add(10).unwrap(), 17);
    assert_eq!(counter.value().unwrap(), 37);
    counter.close().unwrap();
    let counter = Counter::options().start(3).step(3).local::<u32>().unwrap();
    assert_eq!(counter.next().unwrap(), 3u32);
    assert!(Counter::options().start(-3).local::<u32>().is_err());
    let queue = WorkQueue::local(10, 4).unwrap();
    let chunks: Vec<_> = queue.chunks().map(Result::unwrap).collect();
    assert_eq!(chunks, [0..4, 4..8, 8..10]);
}

// --- WorkQueue ---

/// Takes chunks from `queue` until it runs out (sleeping `pause` after each
/// one) and checks, on every rank, that every index of `0..n` was handed out
/// exactly once over all ranks. Returns the number of chunks this rank got.
fn drain_and_check(world: &World, queue: &WorkQueue, pause: Duration, use_for_each: bool) -> usize {
    let (n, chunk) = (queue.len(), queue.chunk());
    let mut mine = Vec::new();
    let mut take = |range: std::ops::Range<usize>| {
        assert!(
            !range.is_empty() && range.len() <= chunk && range.end <= n,
            "{range:?} of {n} by {chunk}"
        );
        assert_eq!(range.start % chunk, 0, "{range:?}");
        // Clipped only at the end.
        assert!(range.len() == chunk || range.end == n, "{range:?}");
        mine.push(range);
        std::thread::sleep(pause);
    };
    if use_for_each {
        queue
            .for_each(|range| {
                take(range);
                Ok::<(), LockError>(())
            })
            .unwrap();
    } else {
        for range in queue.chunks() {
            take(range.unwrap());
        }
    }
    // Past the end: None, again and again.
    for _ in 0..3 {
        assert_eq!(queue.next_chunk().unwrap(), None);
    }
    let mut counts = vec![0i64; n];
    for i in mine.iter().cloned().flatten() {
        counts[i] += 1;
    }
    let mut total = vec![0i64; n];
    if n > 0 {
        world.all_reduce_into(
            &counts[..],
            &mut total[..],
            mpi::collective::SystemOperation::sum(),
        );
    }
    if let Some(i) = total.iter().position(|&c| c != 1) {
        panic!(
            "index {i} of 0..{n} (chunk {chunk}) was handed out {} times",
            total[i]
        );
    }
    let chunks = sum(world, mine.len() as i64);
    assert_eq!(chunks as usize, queue.num_chunks());
    mine.len()
}

mpi_test!(fn work_queue_hands_out_every_index_once(world, 4) {
    for access in ACCESSES {
        for (i, &(n, chunk)) in [(0, 4), (3, 8), (10, 3), (64, 8), (97, 5), (1000, 1), (1, 1)].iter().enumerate() {
            let queue = WorkQueue::options(n, chunk).root(i as i32 % 4).access(access).create(world).unwrap();
            assert_eq!((queue.len(), queue.chunk(), queue.is_empty()), (n, chunk, n == 0));
            drain_and_check(world, &queue, Duration::ZERO, i % 2 == 1);
            world.barrier();
            // Every rank asked once past the end and then stopped asking:
            // the counter went num_chunks + size requests far, no further.
            assert_eq!(queue.counter().value().unwrap() as usize, queue.num_chunks() + world.size() as usize);
            world.barrier();
            queue.close().unwrap();
        }
    }
});

mpi_test!(fn work_queue_gives_a_slow_rank_less(world, 4) {
    const SLOW: i32 = 1;
    for access in ACCESSES {
        let queue = WorkQueue::options(240, 2).access(access).create(world).unwrap();
        let pause = if world.rank() == SLOW { Duration::from_millis(40) } else { Duration::from_millis(1) };
        let got = drain_and_check(world, &queue, pause, false) as i64;
        let all = gather_slices(world, &[got]);
        let others: Vec<i64> = all.iter().enumerate().filter(|(r, _)| *r as i32 != SLOW).map(|(_, &c)| c).collect();
        let average = others.iter().sum::<i64>() as f64 / others.len() as f64;
        assert!((all[SLOW as usize] as f64) < average, "the slow rank took {} chunks, the others {others:?}", all[SLOW as usize]);
        queue.close().unwrap();
    }
});

mpi_test!(fn work_queue_bad_options_are_the_same_error_everywhere(world, 4) {
    let rank = world.rank() as usize;
    let err = WorkQueue::new(world, 10, 0).unwrap_err();
    same_invalid_everywhere(world, &err, "at least one index");
    let err = WorkQueue::new(world, 10 + rank % 2, 3).unwrap_err();
    same_invalid_everywhere(world, &err, "work queue options differ");
    let err = WorkQueue::new(world, 10, 1 + rank).unwrap_err();
    same_invalid_everywhere(world, &err, "work queue options differ");
    let err = WorkQueue::options(10, 3).root(7).create(world).unwrap_err();
    same_invalid_everywhere(world, &err, "outside the communicator");
    let queue = WorkQueue::new(world, 10, 3).unwrap();
    drain_and_check(world, &queue, Duration::ZERO, true);
    queue.close().unwrap();
});
