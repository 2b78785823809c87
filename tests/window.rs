//! The RMA window layer on real MPI processes.

mod common;

use mpi::traits::*;
use shm_core::window::{LockKind, Op, Rma, SharedWindow, Window};
use shm_core::Error;

mpi_test!(fn put_get_accumulate_across_ranks(world, 4) {
    let (rank, size) = (world.rank(), world.size());
    let win = Window::<i64>::allocate(world, 4).unwrap();
    assert_eq!(win.len(), 4);
    {
        let epoch = win.lock_all().unwrap();
        // Each rank writes its rank into slot 0 of its right neighbour.
        let right = (rank + 1) % size;
        epoch.put(right, 0, &[rank as i64]).unwrap();
        // Everyone adds to slot 1 of rank 0.
        epoch.accumulate(0, 1, &[rank as i64 + 1], Op::Sum).unwrap();
        // Everyone takes a ticket on slot 2 of rank 0.
        let _ticket = epoch.fetch_and_op(0, 2, 1, Op::Sum).unwrap();
        epoch.flush_all().unwrap();
    }
    world.barrier();
    {
        let epoch = win.lock_all().unwrap();
        let mut got = [0i64; 4];
        epoch.get(rank, 0, &mut got).unwrap();
        assert_eq!(got[0], ((rank + size - 1) % size) as i64);
        let mut total = [0i64];
        epoch.get(0, 1, &mut total).unwrap();
        let n = size as i64;
        assert_eq!(total[0], n * (n + 1) / 2);
        assert_eq!(epoch.fetch_and_op(0, 2, 0, Op::NoOp).unwrap(), n);
    }
    world.barrier();
});

mpi_test!(fn compare_and_swap_elects_one_rank(world, 4) {
    let win = Window::<i32>::allocate(world, 1).unwrap();
    let won = {
        let epoch = win.lock(LockKind::Exclusive, 0).unwrap();
        let old = epoch.compare_and_swap(0, 0, 0, world.rank() + 1).unwrap();
        old == 0
    };
    let mut winners = 0i32;
    world.all_reduce_into(&(won as i32), &mut winners, mpi::collective::SystemOperation::sum());
    assert_eq!(winners, 1);
    // get_accumulate returns the old values and applies the op.
    world.barrier();
    if world.rank() == 1 {
        let epoch = win.lock(LockKind::Exclusive, 0).unwrap();
        let mut old = [0i32];
        epoch.get_accumulate(0, 0, &[100], &mut old, Op::Replace).unwrap();
        assert!(old[0] >= 1 && old[0] <= world.size());
        epoch.unlock().unwrap();
    }
    world.barrier();
});

mpi_test!(fn fence_epoch_and_zero_size_segments(world, 4) {
    let rank = world.rank();
    // Odd ranks expose nothing.
    let len = if rank % 2 == 0 { 2 } else { 0 };
    let win = Window::<f64>::allocate(world, len).unwrap();
    assert_eq!(win.len(), len);
    let data = [rank as f64, 0.5];
    let mut back = [0.0f64; 2];
    win.fence_scope(|epoch| {
        if rank % 2 == 0 {
            epoch.put(rank, 0, &data)?;
        }
        Ok(())
    })
    .unwrap();
    win.fence_scope(|epoch| epoch.get(0, 0, &mut back)).unwrap();
    assert_eq!(back, [0.0, 0.5]);
    // An error inside the scope still closes the epoch (collectively), and
    // the window takes another epoch afterwards.
    let failed = win.fence_scope(|epoch| epoch.get(world.size(), 0, &mut back));
    assert!(matches!(failed, Err(Error::NoSuchRank { .. })), "{failed:?}");
    let epoch = win.lock_all().unwrap();
    drop(epoch);
    world.barrier();
});

mpi_test!(fn every_flush_operation_completes_remotely(world, 4) {
    // On one node a put lands at once whatever completes it, so the data
    // cannot tell a remote completion from a local one: the counts can.
    let win = Window::<i64>::allocate(world, 2).unwrap().into_locked(false).unwrap();
    let target = (world.rank() + 1) % world.size();
    let counts = win.completions();
    let (remote, local) = (counts.remote(target), counts.local(target));
    win.put(target, 0, &[1]).unwrap();
    assert_eq!((counts.remote(target), counts.local(target)), (remote, local + 1), "put");
    win.put_flush(target, 0, &[2]).unwrap();
    assert_eq!(counts.remote(target), remote + 1, "put_flush completes remotely");
    win.accumulate_flush(target, 1, &[3], Op::Sum).unwrap();
    assert_eq!(counts.remote(target), remote + 2, "accumulate_flush completes remotely");
    win.flush_all().unwrap();
    assert_eq!(counts.remote(target), remote + 3, "flush_all counts for every target");
    let other = (world.rank() + 2) % world.size();
    assert_eq!(counts.local(other), 0, "nothing went to rank {other}");
    world.barrier();
});

mpi_test!(fn bad_targets_and_ops_are_errors_not_aborts(world, 4) {
    let win = Window::<f64>::allocate(world, 2).unwrap();
    let epoch = win.lock_all().unwrap();
    let mut out = [0.0; 3];
    assert_eq!(
        epoch.get(0, 0, &mut out),
        Err(Error::OutOfRange { target: 0, disp: 0, count: 3, len: 2 })
    );
    assert_eq!(
        epoch.put(world.size(), 0, &[1.0]),
        Err(Error::NoSuchRank { rank: world.size(), size: world.size() })
    );
    assert_eq!(
        epoch.compare_and_swap(0, 0, 1.0, 2.0),
        Err(Error::Unsupported { operation: "MPI_Compare_and_swap", element: "float64" })
    );
    assert_eq!(
        epoch.accumulate(0, 0, &[1.0], Op::BitOr),
        Err(Error::Unsupported { operation: "MPI_BOR", element: "float64" })
    );
    let mut short = [0.0; 1];
    assert!(matches!(
        epoch.get_accumulate(0, 0, &[1.0, 2.0], &mut short, Op::Sum),
        Err(Error::LengthMismatch { left: 2, right: 1, .. })
    ));
    // A second epoch while one is open is refused.
    assert!(matches!(win.lock(LockKind::Shared, 0), Err(Error::Epoch(_))));
    drop(epoch);
    world.barrier();
});

mpi_test!(fn shared_window_direct_load_store(world, 4) {
    let node = world.split_shared(world.rank());
    let win = SharedWindow::<u64>::allocate_shared(&node, 3).unwrap();
    let me = node.rank();
    let epoch = win.lock_all().unwrap();
    let mine = win.segment(me).unwrap();
    for i in 0..3 {
        // SAFETY: only this rank stores to its own segment before the barrier.
        unsafe { mine.write(i, (me as u64) * 10 + i as u64) };
    }
    epoch.sync().unwrap();
    node.barrier();
    epoch.sync().unwrap();
    for r in 0..node.size() {
        let seg = win.segment(r).unwrap();
        for i in 0..3 {
            // SAFETY: all stores happened before sync + barrier + sync.
            assert_eq!(unsafe { seg.read(i) }, (r as u64) * 10 + i as u64);
        }
    }
    drop(epoch);
    node.barrier();
});

mpi_test!(fn an_allocated_window_maps_what_the_mpi_offers(world, 4) {
    // MPI-4.0's MPI_Win_shared_query on a window from MPI_Win_allocate:
    // MPICH 5 gives every rank of this node's segment (all of them here);
    // Open MPI, Intel MPI and MPICH 4.0 answer with an error, `None`. Rank
    // 3's segment is empty: `Some` on every MPI (nothing to reach).
    let len = if world.rank() == 3 { 0 } else { 3 };
    let win = Window::<u64>::allocate(world, len).unwrap();
    let expect_mapped = match std::env::var("RMA_MPI_NAME").as_deref() {
        Ok("mpich5") => Some(true),
        Ok("openmpi" | "openmpi5" | "mpich" | "impi") => Some(false),
        _ => None,
    };
    let me = world.rank();
    let epoch = win.lock_all().unwrap();
    if let Some(mine) = win.mapped_segment(me).unwrap().filter(|s| !s.is_empty()) {
        for i in 0..3 {
            // SAFETY: only this rank stores to its own segment before the barrier.
            unsafe { mine.write(i, (me as u64) * 10 + i as u64) };
        }
    } else if len > 0 {
        epoch.put(me, 0, &[(me as u64) * 10, (me as u64) * 10 + 1, (me as u64) * 10 + 2]).unwrap();
        epoch.flush(me).unwrap();
    }
    epoch.sync().unwrap();
    world.barrier();
    epoch.sync().unwrap();
    for r in 0..world.size() {
        let segment = win.mapped_segment(r).unwrap();
        if r == 3 {
            assert!(segment.is_some_and(|s| s.is_empty()));
            continue;
        }
        if let Some(expected) = expect_mapped {
            assert_eq!(segment.is_some(), expected, "rank {r}'s segment");
        }
        if let Some(segment) = segment {
            assert_eq!(segment.len(), 3);
            for i in 0..3 {
                // SAFETY: all stores happened before sync + barrier + sync.
                assert_eq!(unsafe { segment.read(i) }, (r as u64) * 10 + i as u64);
            }
        }
    }
    assert!(matches!(win.mapped_segment(4), Err(Error::NoSuchRank { .. })));
    drop(epoch);
    world.barrier();
});

mpi_test!(fn compare_and_swap_i64_in_lock_all(world, 4) {
    let win = Window::<i64>::allocate(world, 1).unwrap();
    let mut won = 0i32;
    {
        let epoch = win.lock_all().unwrap();
        let old = epoch.compare_and_swap(0, 0, 0, world.rank() as i64 + 1).unwrap();
        if old == 0 {
            won = 1;
        }
        epoch.flush_all().unwrap();
    }
    let mut winners = 0i32;
    world.all_reduce_into(&won, &mut winners, mpi::collective::SystemOperation::sum());
    assert_eq!(winners, 1);
});

/// Every rank's segment of `len` elements holds `rank * 1000 + i`.
fn numbered_window(
    world: &mpi::topology::SimpleCommunicator,
    len: usize,
) -> shm_core::LockedWindow<i64> {
    let win = Window::<i64>::allocate(world, len)
        .unwrap()
        .into_locked(false)
        .unwrap();
    let me = world.rank();
    let mine: Vec<i64> = (0..len as i64).map(|i| me as i64 * 1000 + i).collect();
    win.put_flush(me, 0, &mine).unwrap();
    world.barrier();
    win
}

mpi_test!(fn a_batch_gets_from_every_target_with_one_completion(world, 4) {
    let size = world.size();
    let win = numbered_window(world, 8);
    let counts = win.completions();
    let completions = |counts: &shm_core::window::Completions| -> Vec<(u64, u64)> {
        (0..size).map(|t| (counts.remote(t), counts.local(t))).collect()
    };
    let before = completions(counts);
    // Two gets per target, into distinct parts of one buffer, all in flight.
    let mut out = vec![0i64; 4 * size as usize];
    win.batch(|batch| {
        for (j, piece) in out.chunks_mut(2).enumerate() {
            let target = (j / 2) as i32;
            batch.get(target, 3 * (j % 2), piece)?;
        }
        Ok::<(), Error>(())
    })
    .unwrap();
    for t in 0..size as usize {
        let base = t as i64 * 1000;
        assert_eq!(out[4 * t..4 * t + 4], [base, base + 1, base + 3, base + 4], "target {t}");
    }
    // One completion for the whole batch (MPI_Win_flush_all, which counts
    // as a remote completion of every target), none per operation.
    let once: Vec<(u64, u64)> = before.iter().map(|&(r, l)| (r + 1, l)).collect();
    assert_eq!(completions(counts), once);
    // A batch that starts nothing makes no MPI call.
    win.batch(|_| Ok::<(), Error>(())).unwrap();
    assert_eq!(completions(counts), once);
    world.barrier();
});

mpi_test!(fn puts_of_a_batch_are_there_for_the_gets_after_it(world, 4) {
    let (rank, size) = (world.rank(), world.size());
    let win = numbered_window(world, 8);
    // Each rank writes two pieces into each other rank's segment, at a
    // place of its own (elements 2*rank, 2*rank + 1 of an 8-element one).
    let mine: Vec<i64> = (0..2 * size as i64).map(|i| -(rank as i64 * 100 + i)).collect();
    // Through a trait object, as a caller holding `&dyn Rma` does.
    let rma: &dyn Rma<i64> = &win;
    shm_core::window::batch(rma, |batch| {
        for (t, piece) in mine.chunks(2).enumerate() {
            batch.put(t as i32, 2 * rank as usize, piece)?;
        }
        Ok::<(), Error>(())
    })
    .unwrap();
    // No flush of our own: the batch's completion must make the puts
    // visible at their targets.
    world.barrier();
    let mut back = vec![0i64; 8 * size as usize];
    let n = win.batch(|batch| {
        let mut n = 0;
        for (t, segment) in back.chunks_mut(8).enumerate() {
            batch.get(t as i32, 0, segment)?;
            n += 1;
        }
        Ok::<_, Error>(n)
    });
    assert_eq!(n, Ok(size));
    for t in 0..size as usize {
        for writer in 0..size as usize {
            let piece = &back[8 * t + 2 * writer..8 * t + 2 * writer + 2];
            let first = -(writer as i64 * 100 + 2 * t as i64);
            assert_eq!(piece, [first, first - 1], "target {t}, writer {writer}");
        }
    }
    world.barrier();
});

mpi_test!(fn an_error_inside_a_batch_still_completes_it(world, 4) {
    let size = world.size();
    let win = numbered_window(world, 4);
    let counts = win.completions();
    let remote = counts.remote(0);
    let mut first = [0i64; 4];
    let mut second = [0i64; 4];
    let failed = win.batch(|batch| {
        batch.get(0, 0, &mut first)?;
        batch.get(size, 0, &mut second)
    });
    assert_eq!(failed, Err(Error::NoSuchRank { rank: size, size }));
    // The get started before the error is complete: its data is there.
    assert_eq!(first, [0, 1, 2, 3]);
    assert_eq!(counts.remote(0), remote + 1);
    // The caller's own error type, from an error of its own.
    #[derive(Debug, PartialEq)]
    enum Mine {
        Core(Error),
        Refused,
    }
    impl From<Error> for Mine {
        fn from(e: Error) -> Self {
            Mine::Core(e)
        }
    }
    let refused = win.batch(|batch| {
        batch.get(size - 1, 0, &mut first)?;
        Err::<(), _>(Mine::Refused)
    });
    assert_eq!(refused, Err(Mine::Refused));
    assert_eq!(first[0], (size as i64 - 1) * 1000);
    assert_eq!(counts.remote(0), remote + 2);
    let out_of_range = win.batch(|batch| batch.put(0, 2, &second));
    assert!(matches!(out_of_range, Err(Error::OutOfRange { .. })), "{out_of_range:?}");
    world.barrier();
});

mpi_test!(fn a_get_then_a_put_to_the_same_target_in_one_batch(world, 4) {
    // MPICH 4.0 returned from MPI_Win_flush_local(_all) before the get
    // had landed here (and the get wrote into freed memory later): the
    // case that makes a batch complete with MPI_Win_flush_all.
    let (rank, size) = (world.rank(), world.size());
    let len = 40_000;
    let win = numbered_window(world, len);
    let target = (rank + 1) % size;
    let mut got = vec![0i64; 1699];
    let ours = vec![-1i64; 1000];
    win.batch(|batch| {
        batch.get(target, 18_304, &mut got)?;
        batch.put(target, 0, &ours)
    })
    .unwrap();
    let base = target as i64 * 1000 + 18_304;
    let wrong = (0..got.len()).filter(|&i| got[i] != base + i as i64).count();
    assert_eq!(wrong, 0, "elements of the get not there when the batch ended");
    world.barrier();
});

mpi_test!(fn accumulates_of_a_batch_add_up(world, 4) {
    let size = world.size();
    let win = Window::<i64>::allocate(world, 1).unwrap().into_locked(false).unwrap();
    win.put_flush(world.rank(), 0, &[0]).unwrap();
    world.barrier();
    // Every rank adds its rank + 1 to every rank's element, in one batch.
    let mine = [world.rank() as i64 + 1];
    win.batch(|batch| (0..size).try_for_each(|t| batch.accumulate(t, 0, &mine, Op::Sum)))
        .unwrap();
    world.barrier();
    let mut total = [0i64];
    win.get(world.rank(), 0, &mut total).unwrap();
    let n = size as i64;
    assert_eq!(total[0], n * (n + 1) / 2);
    world.barrier();
});
