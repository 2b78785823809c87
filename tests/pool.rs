//! `mpi-pool` on real MPI processes: pympipool's `Pool` (map, submit and
//! futures, tasks on several ranks) and its failure behaviour; pydsm's
//! model (`Cluster`: named shared arrays and locks, static splits).

mod common;

use mpi::collective::SystemOperation;
use mpi::topology::SimpleCommunicator;
use mpi::traits::*;
use mpi_pool::{wait_all, wait_any, Cluster, FailureKind, Pool, PoolError, PoolOptions, Registry};
use ndarray::{aview1, Array1};
use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::time::Duration;

/// Checks that every rank got the same error text.
fn same_error_everywhere(world: &SimpleCommunicator, err: &PoolError) {
    let mut h = DefaultHasher::new();
    err.to_string().hash(&mut h);
    let mine = h.finish() as i64;
    let mut all = vec![0i64; world.size() as usize];
    world.all_gather_into(&mine, &mut all[..]);
    assert!(
        all.iter().all(|&x| x == all[0]),
        "the ranks got different errors; this one: {err}"
    );
}

mpi_test!(fn map_of_1000_uneven_tasks_is_in_order_and_every_worker_works(world, 4) {
    let mut registry = Registry::new();
    // Every 10th task is slow: a static split would give one worker more.
    let uneven = registry.register("uneven", |i: u64| {
        if i % 10 == 0 {
            std::thread::sleep(Duration::from_millis(2));
        }
        Ok::<_, String>(3 * i + 1)
    });
    let pool = Pool::new(world, registry, PoolOptions::default()).unwrap();
    let out = pool
        .run(|driver| {
            let results = driver.map(&uneven, 0..1000u64)?;
            let expected: Vec<u64> = (0..1000).map(|i| 3 * i + 1).collect();
            assert_eq!(results, expected);
            // A second map on the same pool, in chunks of 1 still.
            assert_eq!(driver.map(&uneven, [5u64, 6])?, vec![16, 19]);
            Ok(driver.tasks_per_worker())
        })
        .unwrap();
    if let Some(per_worker) = out {
        assert_eq!(per_worker.iter().map(|&(r, _)| r).collect::<Vec<_>>(), vec![1, 2, 3]);
        assert_eq!(per_worker.iter().map(|&(_, n)| n).sum::<u64>(), 1002);
        assert!(
            per_worker.iter().all(|&(_, n)| n > 0),
            "a worker got no task: {per_worker:?}"
        );
        eprintln!("pool map: tasks per worker {per_worker:?}");
    }
});

mpi_test!(fn chunked_map_and_a_driver_other_than_rank_0(world, 4) {
    let mut registry = Registry::new();
    let negate = registry.register("negate", |i: i64| Ok::<_, String>(-i));
    let options = PoolOptions::default().driver(2).chunk_size(7);
    let pool = Pool::new(world, registry, options).unwrap();
    assert_eq!(pool.is_driver(), world.rank() == 2);
    let out = pool.run(|driver| driver.map(&negate, 0..100i64)).unwrap();
    if let Some(results) = out {
        assert_eq!(results, (0..100).map(|i| -i).collect::<Vec<_>>());
    }
});

mpi_test!(fn futures_with_interleaved_submits_and_waits(world, 4) {
    let mut registry = Registry::new();
    let slow_square = registry.register("slow_square", |(i, millis): (i64, u64)| {
        std::thread::sleep(Duration::from_millis(millis));
        Ok::<_, String>(i * i)
    });
    let pool = Pool::new(world, registry, PoolOptions::default()).unwrap();
    pool.run(|driver| {
        let first: Vec<_> = (0..6)
            .map(|i| driver.submit(&slow_square, (i, 20)))
            .collect::<Result<_, _>>()?;
        // Right after submitting, no task has had time to finish.
        assert!(first.iter().all(|f| !f.done()));
        // Waiting for the last does not need the others taken first.
        let mut first = first;
        let last = first.pop().unwrap();
        assert_eq!(last.result()?, 25);
        // Submit more while the rest of the first batch may still run.
        let second: Vec<_> = (10..14)
            .map(|i| driver.submit(&slow_square, (i, 0)))
            .collect::<Result<_, _>>()?;
        let any = wait_any(&second)?.expect("four futures");
        assert!(second[any].done());
        wait_all(&first)?;
        assert!(first.iter().all(|f| f.done()));
        let firsts: Vec<i64> = first.into_iter().map(|f| f.result()).collect::<Result<_, _>>()?;
        assert_eq!(firsts, vec![0, 1, 4, 9, 16]);
        let seconds: Vec<i64> = second.into_iter().map(|f| f.result()).collect::<Result<_, _>>()?;
        assert_eq!(seconds, vec![100, 121, 144, 169]);
        // A future dropped unread does not disturb the next ones.
        drop(driver.submit(&slow_square, (7, 5))?);
        assert_eq!(driver.submit(&slow_square, (8, 0))?.result()?, 64);
        assert_eq!(wait_any::<i64>(&[])?, None);
        Ok(())
    })
    .unwrap();
});

mpi_test!(fn cores_per_task_2_gives_each_task_a_2_rank_communicator(world, 5) {
    let mut registry = Registry::new();
    // pympipool's ranks.py, plus a collective inside the task.
    let calc = registry.register_with_comm("calc", |i: i32, comm: &SimpleCommunicator| {
        let mut sum = 0;
        comm.all_reduce_into(&(comm.rank() + 1), &mut sum, SystemOperation::sum());
        let mut ranks = vec![0; comm.size() as usize];
        comm.all_gather_into(&world_rank(), &mut ranks[..]);
        Ok::<_, String>((i, comm.size(), comm.rank(), sum, ranks))
    });
    // Fails on the group's second rank only (before any collective): the
    // error names that rank, not the leader.
    let second_fails = registry.register_with_comm("second_fails", |i: i32, comm: &SimpleCommunicator| {
        if comm.rank() == 1 {
            if i == 2 {
                panic!("the second rank breaks on {i}");
            }
            return Err(format!("the second rank refuses {i}"));
        }
        Ok(i)
    });
    let options = PoolOptions::default().cores_per_task(2);
    let pool = Pool::new(world, registry, options).unwrap();
    let out = pool
        .run(|driver| {
            assert_eq!(driver.groups(), 2);
            for (i, outcome) in driver.map_each(&second_fails, [1, 2])?.into_iter().enumerate() {
                match outcome {
                    Err(PoolError::Task { task, kind, rank, message, .. }) => {
                        assert_eq!(task, i as u64);
                        assert!(rank == 2 || rank == 4, "rank {rank} is no group's second");
                        if i == 1 {
                            assert_eq!(kind, FailureKind::Panicked);
                            assert!(message.starts_with("the second rank breaks on 2"), "{message}");
                        } else {
                            assert_eq!((kind, message.as_str()), (FailureKind::Returned, "the second rank refuses 1"));
                        }
                    }
                    other => panic!("task {i}: {other:?}"),
                }
            }
            driver.map(&calc, 1..=8)
        })
        .unwrap();
    if let Some(results) = out {
        for (n, (i, size, rank, sum, ranks)) in results.into_iter().enumerate() {
            assert_eq!((i, size, rank, sum), (n as i32 + 1, 2, 0, 3));
            // Groups are consecutive workers: ranks 1-2 and 3-4.
            assert!(ranks == [1, 2] || ranks == [3, 4], "group {ranks:?}");
        }
    }
});

/// This process's rank in `MPI_COMM_WORLD`.
fn world_rank() -> i32 {
    mpi::topology::SimpleCommunicator::world().rank()
}

mpi_test!(fn a_failing_task_is_an_error_naming_it_and_the_pool_goes_on(world, 4) {
    let mut registry = Registry::new();
    let fragile = registry.register("fragile", |i: u32| {
        if i == 7 {
            panic!("task seven breaks");
        }
        if i == 13 {
            return Err(format!("task {i} refuses"));
        }
        Ok(i + 100)
    });
    let pool = Pool::new(world, registry, PoolOptions::default()).unwrap();
    pool.run(|driver| {
        let outcomes = driver.map_each(&fragile, 0..20)?;
        for (i, outcome) in outcomes.into_iter().enumerate() {
            match (i, outcome) {
                (7, Err(PoolError::Task { task, function, kind, rank, message })) => {
                    assert_eq!((task, function.as_str(), kind), (7, "fragile", FailureKind::Panicked));
                    assert!((1..4).contains(&rank), "rank {rank}");
                    assert!(message.contains("task seven breaks"), "{message}");
                }
                (13, Err(PoolError::Task { task, kind, message, .. })) => {
                    assert_eq!((task, kind), (13, FailureKind::Returned));
                    assert_eq!(message, "task 13 refuses");
                }
                (i, Ok(v)) if i != 7 && i != 13 => assert_eq!(v, i as u32 + 100),
                (i, other) => panic!("task {i}: {other:?}"),
            }
        }
        // map reports the first failure, by index.
        let err = driver.map(&fragile, [1, 13, 7]).unwrap_err();
        assert!(matches!(err, PoolError::Task { task: 1, .. }), "{err}");
        // The pool is still usable, on every worker.
        assert_eq!(driver.map(&fragile, 0..6)?, vec![100, 101, 102, 103, 104, 105]);
        // A panic inside a submitted task, too.
        let err = driver.submit(&fragile, 7)?.result().unwrap_err();
        assert!(matches!(err, PoolError::Task { kind: FailureKind::Panicked, .. }), "{err}");
        Ok(())
    })
    .unwrap();
    // Outside the pool the toolkit's panic hook is back in place (not
    // tested by panicking: it would end the job).
});

mpi_test!(fn bad_input_is_an_error_on_every_rank(world, 4) {
    // cores_per_task must divide the 3 workers.
    let err = Pool::new(world, Registry::new(), PoolOptions::default().cores_per_task(2)).unwrap_err();
    assert!(err.to_string().contains("does not divide the 3 worker ranks"), "{err}");
    same_error_everywhere(world, &err);

    // A driver rank outside the communicator.
    let err = Pool::new(world, Registry::new(), PoolOptions::default().driver(4)).unwrap_err();
    assert!(err.to_string().contains("driver rank 4"), "{err}");
    same_error_everywhere(world, &err);

    // Options that differ between the ranks.
    let chunk = 1 + world.rank() as usize;
    let err = Pool::new(world, Registry::new(), PoolOptions::default().chunk_size(chunk)).unwrap_err();
    assert!(err.to_string().contains("differ between the ranks"), "{err}");
    same_error_everywhere(world, &err);

    // Registries that differ, and a name registered twice.
    let mut registry = Registry::new();
    registry.register("a", |x: i32| Ok::<_, String>(x));
    if world.rank() == 1 {
        registry.register("b", |x: i32| Ok::<_, String>(x));
    }
    let err = Pool::new(world, registry, PoolOptions::default()).unwrap_err();
    assert!(err.to_string().contains("registered function names differ"), "{err}");
    same_error_everywhere(world, &err);
    let mut registry = Registry::new();
    registry.register("a", |x: i32| Ok::<_, String>(x));
    registry.register("a", |x: i32| Ok::<_, String>(x + 1));
    let err = Pool::new(world, registry, PoolOptions::default()).unwrap_err();
    assert!(err.to_string().contains("registered twice"), "{err}");
    same_error_everywhere(world, &err);

    // A map on a closed pool: the driver's error, and every worker hears.
    let mut registry = Registry::new();
    let id = registry.register("id", |x: i32| Ok::<_, String>(x));
    let pool = Pool::new(world, registry, PoolOptions::default()).unwrap();
    let result = pool.run(|driver| {
        assert_eq!(driver.map(&id, [1, 2])?, vec![1, 2]);
        driver.close()?;
        assert!(driver.is_closed());
        driver.map(&id, [3])
    });
    match result {
        Err(PoolError::Closed) => assert_eq!(world.rank(), 0),
        Err(PoolError::Elsewhere { rank: 0, message }) => {
            assert_ne!(world.rank(), 0);
            assert_eq!(message, "the pool is closed");
        }
        other => panic!("rank {}: {other:?}", world.rank()),
    }

    // A function this pool does not know (a handle of another registry).
    let mut other = Registry::new();
    let stranger = other.register("stranger", |x: i32| Ok::<_, String>(x));
    let pool = Pool::new(world, Registry::new(), PoolOptions::default()).unwrap();
    match pool.run(|driver| driver.map(&stranger, [1])) {
        Err(PoolError::UnknownFunction(name)) => assert_eq!((world.rank(), name.as_str()), (0, "stranger")),
        Err(PoolError::Elsewhere { rank: 0, message }) => assert!(message.contains("stranger"), "{message}"),
        other => panic!("rank {}: {other:?}", world.rank()),
    }

    // The world is still usable: nobody was left waiting.
    world.barrier();
});

/// pympipool's experience: the examples started as plain programs (no
/// `mpirun`) spawn their workers. Debian's Open MPI 4.1 can (its singleton
/// starts its runtime) and must; MPICH 4.0 cannot here. Every MPI either
/// spawns and prints what the example prints under mpirun, or fails with a
/// message that says it cannot spawn: never a hang or a bare abort.
#[test]
fn examples_started_without_mpirun_spawn_their_workers() {
    if common::is_child() {
        return;
    }
    let must_spawn = common::leftovers::current_mpi() == "openmpi";
    for (name, args, expected) in [
        ("pool_map", &[][..], "[1, 4, 9, 16]\n"),
        (
            "pool_map",
            &["--workers", "4", "--cores-per-task", "2"][..],
            "[(1, 2, 0), (2, 2, 0), (3, 2, 0), (4, 2, 0)]\n",
        ),
        (
            "pool_submit",
            &[][..],
            "[false, false, false, false]\n[1, 4, 9, 16]\n",
        ),
    ] {
        let path = common::programs::example(name);
        let mut cmd = std::process::Command::new(&path);
        cmd.args(args).env("RUST_BACKTRACE", "0");
        // Not a rank of the test harness's job, nor of any launcher's.
        for var in mpi_cli::LAUNCHER_RANK_VARS
            .iter()
            .chain(&[common::CHILD_VAR])
        {
            cmd.env_remove(var);
        }
        cmd.env("OMPI_ALLOW_RUN_AS_ROOT", "1")
            .env("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1");
        let (status, stdout, output) = run_bounded(&mut cmd, Duration::from_secs(60));
        if status == Some(true) {
            assert_eq!(stdout, expected, "{name} {args:?} printed:\n{output}");
        } else {
            assert!(!must_spawn, "{name} {args:?} failed:\n{output}");
            assert_eq!(status, Some(false), "{name} {args:?} hung:\n{output}");
            assert!(
                output.contains("cannot spawn the workers") && output.contains("MPI_Comm_spawn"),
                "{name} {args:?}:\n{output}"
            );
        }
    }
}

/// Runs `cmd` in a process group of its own, killing the group after
/// `limit`; returns (success, or `None` when killed; its stdout; stdout and
/// stderr).
fn run_bounded(cmd: &mut std::process::Command, limit: Duration) -> (Option<bool>, String, String) {
    use std::os::unix::process::CommandExt;
    let dir = std::env::temp_dir();
    let token = common::unique_token();
    let (out_path, err_path) = (
        dir.join(format!("pool-{token}.out")),
        dir.join(format!("pool-{token}.err")),
    );
    cmd.process_group(0)
        .stdin(std::process::Stdio::null())
        .stdout(std::fs::File::create(&out_path).unwrap())
        .stderr(std::fs::File::create(&err_path).unwrap());
    let mut child = cmd.spawn().expect("start the example");
    let started = std::time::Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break Some(status.success());
        }
        if started.elapsed() > limit {
            // The whole group: the program and the workers it spawned.
            let _ = std::process::Command::new("kill")
                .args(["-KILL", "--", &format!("-{}", child.id())])
                .status();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let stdout = std::fs::read_to_string(&out_path).unwrap_or_default();
    let stderr = std::fs::read_to_string(&err_path).unwrap_or_default();
    let _ = (
        std::fs::remove_file(&out_path),
        std::fs::remove_file(&err_path),
    );
    let both = format!("{stdout}{stderr}");
    (status, stdout, both)
}

/// A wait of the pool past `RMA_WAIT_DEADLINE` (1 s here; a task takes 3 s)
/// is an error, the workers are still stopped, and every rank returns with
/// an error: none is left waiting.
#[test]
fn a_wait_past_the_deadline_is_an_error_and_no_rank_hangs() {
    const NAME: &str = "a_wait_past_the_deadline_is_an_error_and_no_rank_hangs";
    if common::is_child() {
        common::run_child(|world| {
            let mut registry = Registry::new();
            let slow = registry.register("slow", |i: u32| {
                std::thread::sleep(Duration::from_secs(3));
                Ok::<_, String>(i)
            });
            let pool = Pool::new(world, registry, PoolOptions::default()).unwrap();
            // The driver's wait for the slow task and the idle workers'
            // waits for an order both pass the deadline; the busy worker
            // finishes, is stopped, and hears of the driver's error.
            match pool.run(|driver| driver.map(&slow, [1])) {
                Err(PoolError::Core(shm_core::Error::Deadline { .. })) => {}
                Err(PoolError::Elsewhere { message, .. }) if world.rank() != 0 => {
                    assert!(
                        message.contains("deadline") || message.contains("RMA_WAIT_DEADLINE"),
                        "{message}"
                    )
                }
                other => panic!("rank {}: {other:?}", world.rank()),
            }
            world.barrier();
        });
        return;
    }
    let exe = std::env::current_exe().unwrap();
    let (ok, output) = common::mpirun(
        4,
        exe.to_str().unwrap(),
        &["--exact", NAME, "--nocapture", "--test-threads=1"],
        &[(common::CHILD_VAR, "1"), ("RMA_WAIT_DEADLINE", "1")],
    );
    assert!(ok, "the job failed:\n{output}");
}

// pydsm's vector add (`examples/pool_vector_add.rs`) on a length that the
// workers do not divide: every worker writes its own block of C with
// `set_each`, and every rank (on every node) then reads C = A + B.
mpi_test!(fn cluster_vector_add_as_pydsm(world, 4) {
    const N: usize = 103;
    let mut cluster = Cluster::new(world).unwrap();
    for name in ["A", "B", "C"] {
        cluster.create_shared::<i64>(name, &[N]).unwrap();
    }
    let a = Array1::from_iter(0..N as i64);
    let b = a.mapv(|x| 1000 - 2 * x);
    let root = world.rank() == 0;
    cluster.shared_mut::<i64>("A").unwrap().set(root.then_some(&a), &[0], 0).unwrap();
    cluster.shared_mut::<i64>("B").unwrap().set(root.then_some(&b), &[0], 0).unwrap();
    let mine = cluster
        .run(|res| {
            assert_eq!((res.id(), res.workers()), (world.rank() as usize, 4));
            let idxs = res.split_indices(N, None);
            let c: Vec<i64> = {
                let (a, b) = (res.shared::<i64>("A")?.view(), res.shared::<i64>("B")?.view());
                idxs.iter().map(|&i| a[i] + b[i]).collect()
            };
            res.set_each("C", &aview1(&c), &[idxs[0]])?;
            Ok::<_, PoolError>(idxs.len() as i64)
        })
        .unwrap();
    let mut total = 0i64;
    world.all_reduce_into(&mine, &mut total, SystemOperation::sum());
    assert_eq!(total, N as i64);
    let c = cluster.shared::<i64>("C").unwrap();
    let expected: Vec<i64> = (0..N as i64).map(|x| 1000 - x).collect();
    assert_eq!(c.view().iter().copied().collect::<Vec<_>>(), expected);
    cluster.close().unwrap();
});

// Named locks, per-cluster names, and every mistake the same error on
// every rank; the cluster stays usable after each.
mpi_test!(fn cluster_locks_names_and_errors(world, 4) {
    let mut cluster = Cluster::new(world).unwrap();
    cluster.create_shared::<i64>("A", &[4]).unwrap();
    cluster.create_lock("L").unwrap();
    // pydsm's lock.apply() / release(), 20 times per worker.
    let held = cluster
        .run(|res| {
            let lock = res.lock("L")?;
            for _ in 0..20 {
                let guard = lock.lock()?;
                assert!(lock.is_held());
                guard.unlock()?;
            }
            Ok::<_, PoolError>(lock.stats().acquisitions as i64)
        })
        .unwrap();
    let mut total = 0i64;
    world.all_reduce_into(&held, &mut total, SystemOperation::sum());
    assert_eq!(total, 80);

    // A name already used, for an array or a lock.
    let err = cluster.create_lock("A").unwrap_err();
    assert_eq!(err, PoolError::NameTaken("A".into()));
    let err = cluster.create_shared::<f64>("L", &[1]).unwrap_err();
    assert_eq!(err, PoolError::NameTaken("L".into()));
    // Names that differ between the ranks.
    let err = cluster.create_lock(&format!("L{}", world.rank())).unwrap_err();
    assert!(matches!(err, PoolError::Core(shm_core::Error::Invalid { .. })), "{err}");
    same_error_everywhere(world, &err);
    // Unknown names and wrong element types (local look-ups).
    assert!(matches!(cluster.lock("M"), Err(PoolError::NoSuchName { .. })));
    let err = cluster.shared::<f64>("A").unwrap_err();
    assert_eq!(err.to_string(), "this cluster has no shared array of float64 named \"A\"");
    // A slab of the wrong dimension, and one out of bounds.
    let err = cluster.set_each("A", &aview1(&[1i64]), &[0, 0]).unwrap_err();
    same_error_everywhere(world, &err);
    // Only rank 3's slab does not fit: nothing is written.
    let slab = vec![world.rank() as i64 + 1; if world.rank() == 3 { 2 } else { 1 }];
    let err = cluster
        .set_each("A", &aview1(&slab), &[world.rank() as usize])
        .unwrap_err();
    assert!(
        matches!(err, PoolError::Core(shm_core::Error::Invalid { rank: Some(3), .. })),
        "{err}"
    );
    same_error_everywhere(world, &err);
    let a = cluster.shared::<i64>("A").unwrap();
    assert!(a.view().iter().all(|&x| x == 0), "{}", a.view());
    // A worker's error reaches every rank, naming the lowest failing one.
    let err = cluster
        .run(|res| match res.id() {
            2 | 3 => Err(format!("boom on {}", res.id())),
            _ => Ok(()),
        })
        .unwrap_err();
    assert_eq!(err, PoolError::WorkerFailed { rank: 2, message: "boom on 2".into() });

    // Still usable; and a second cluster's "A" is another array.
    let mut other = Cluster::new(world).unwrap();
    other.create_shared::<i64>("A", &[4]).unwrap();
    let one = [7i64];
    let slab = if world.rank() == 3 { &one[..] } else { &[][..] };
    other.set_each("A", &aview1(slab), &[world.rank() as usize]).unwrap();
    assert_eq!(other.shared::<i64>("A").unwrap().view().iter().copied().collect::<Vec<_>>(), [0, 0, 0, 7]);
    let slab = [world.rank() as i64 + 1];
    cluster.set_each("A", &aview1(&slab), &[world.rank() as usize]).unwrap();
    assert_eq!(cluster.shared::<i64>("A").unwrap().view().iter().copied().collect::<Vec<_>>(), [1, 2, 3, 4]);
    other.close().unwrap();
    cluster.close().unwrap();
});

// The workers' slabs reach every node's copy: the cluster on two emulated
// nodes of two ranks each (on the multi-node bed, the test above does the
// same on real nodes).
mpi_test!(fn cluster_slabs_reach_every_node(world, 4) {
    let topology = common::two_emulated_nodes(world);
    assert_eq!(topology.nodes(), 2);
    let mut cluster = Cluster::with_topology(topology).unwrap();
    cluster.create_shared::<i64>("C", &[4, 3]).unwrap();
    cluster
        .run(|res| {
            // Row `id` of C, from worker `id`.
            let id = res.id();
            let row = ndarray::Array2::from_elem((1, 3), 10 * id as i64 + 1);
            res.set_each("C", &row, &[id, 0])
        })
        .unwrap();
    let c = cluster.shared::<i64>("C").unwrap().view();
    for r in 0..4 {
        for k in 0..3 {
            assert_eq!(c[[r, k]], 10 * r as i64 + 1, "rank {}: {c}", world.rank());
        }
    }
    cluster.close().unwrap();
});

// pydsm's recommended `splitIndices(n, id, random=True)`: each worker's
// indices are scattered, and `set_at` writes them; a bad index on one rank
// is the same error on every rank and writes nothing.
mpi_test!(fn cluster_set_at_with_a_shuffled_split(world, 4) {
    const N: usize = 50;
    let mut cluster = Cluster::new(world).unwrap();
    cluster.create_shared::<f64>("Y", &[N]).unwrap();
    cluster
        .run(|res| {
            let mine = res.split_indices(N, Some(2026));
            let values: Vec<f64> = mine.iter().map(|&i| i as f64 * 0.5).collect();
            res.set_at("Y", &mine, &values)
        })
        .unwrap();
    let y = cluster.shared::<f64>("Y").unwrap();
    let expected: Vec<f64> = (0..N).map(|i| i as f64 * 0.5).collect();
    assert_eq!(y.view().iter().copied().collect::<Vec<_>>(), expected);

    let bad = if world.rank() == 1 { N } else { 0 };
    let err = cluster.set_at("Y", &[bad], &[-1.0]).unwrap_err();
    assert!(
        matches!(err, PoolError::Core(shm_core::Error::Invalid { rank: Some(1), .. })),
        "{err}"
    );
    same_error_everywhere(world, &err);
    let y = cluster.shared::<f64>("Y").unwrap();
    assert_eq!(y.view().iter().copied().collect::<Vec<_>>(), expected);
    cluster.close().unwrap();
});
