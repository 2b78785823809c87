//! The three paths of `dsm-kv` to its hosts' data in the same run: direct
//! loads and stores (co-located hosts, the default on one node), the path of
//! a memory that spans nodes (`Access::Mixed`: one RMA window, with the data
//! of the hosts MPI maps here by loads and stores) and one-sided
//! communication alone (`Access::Rma`), each checked against a plain model,
//! with lists split across hosts and operations from every rank at once.

mod common;

use dsm_kv::{Access, Config, DistributedMemory, Error, Value, Var};
use mpi::topology::SimpleCommunicator;
use mpi::traits::*;
use proptest::prelude::Rng as _;
use proptest::test_runner::{RngAlgorithm, TestRng};

/// A deterministic generator per seed (proptest's ChaCha).
struct Rng(TestRng);

impl Rng {
    fn new(seed: u64) -> Rng {
        let mut bytes = [0u8; 32];
        bytes[..8].copy_from_slice(&seed.to_le_bytes());
        Rng(TestRng::from_seed(RngAlgorithm::ChaCha, &bytes))
    }

    /// A number in `0..n` (0 when `n` is 0).
    fn below(&mut self, n: u64) -> u64 {
        self.0.random_range(0..n.max(1))
    }
}

/// How many hosts `Access::Mixed` maps on one node, by the MPI the test
/// runs on (`RMA_MPI_NAME`, set by scripts/mpi.sh): MPICH 5 maps the
/// segments of an `MPI_Win_allocate` window (MPI-4.0's
/// `MPI_Win_shared_query` on any window); the others answer with an error.
/// `None` for an MPI this table does not know.
fn mixed_maps(hosts: usize) -> Option<usize> {
    match std::env::var("RMA_MPI_NAME").as_deref() {
        Ok("mpich5") => Some(hosts),
        Ok("openmpi" | "openmpi5" | "mpich" | "impi") => Some(0),
        _ => None,
    }
}

/// The three memories of a test, RMA first, then mixed, then the default;
/// every host lends `slots`.
fn every_path(world: &SimpleCommunicator, slots: usize) -> [DistributedMemory; 3] {
    let with = |access| DistributedMemory::with_access(world, Config::new(slots), access).unwrap();
    let [rma, mixed, auto] = [Access::Rma, Access::Mixed, Access::Auto].map(with);
    let hosts = world.size() as usize - 1;
    assert!(!rma.is_direct() && !mixed.is_direct());
    assert_eq!(rma.mapped_hosts(), 0);
    if let Some(mapped) = mixed_maps(hosts) {
        assert_eq!(
            mixed.mapped_hosts(),
            mapped,
            "hosts mapped on the mixed path"
        );
    }
    // Every rank of a test shares this machine, and every MPI gives shared
    // windows the unified model.
    assert!(auto.is_direct(), "one node, unified model: direct access");
    assert_eq!(auto.mapped_hosts(), hosts);
    [rma, mixed, auto]
}

/// One rank's random sequence on its own variables, against its model.
/// Returns the variables left and their values.
fn own_sequence(mem: &DistributedMemory, seed: u64, steps: usize) -> Vec<(Var, Value)> {
    let mut rng = Rng::new(seed);
    let mut vars: Vec<(Var, Value)> = Vec::new();
    for step in 0..steps {
        let pick = |rng: &mut Rng, n: usize| rng.below(n as u64) as usize;
        match rng.below(8) {
            0 | 1 if vars.len() < 6 => {
                let value = if rng.below(4) == 0 {
                    Value::Int(rng.below(1000) as i64)
                } else {
                    let len = rng.below(30) as usize;
                    Value::List((0..len).map(|i| (step * 100 + i) as i64).collect())
                };
                match mem.add(value.clone()) {
                    Ok(var) => vars.push((var, value)),
                    Err(Error::OutOfMemory { .. } | Error::TooManyVariables { .. }) => {}
                    Err(e) => panic!("add: {e}"),
                }
            }
            _ if vars.is_empty() => {}
            2 => {
                let i = pick(&mut rng, vars.len());
                let (var, value) = &mut vars[i];
                let len = value.len();
                let index = pick(&mut rng, len + 1);
                let x = rng.below(1 << 20) as i64;
                match mem.modify(var, x, index) {
                    Ok(true) => match value {
                        Value::Int(v) => *v = x,
                        Value::List(l) => l[index] = x,
                    },
                    Err(Error::IndexOutOfBounds { .. }) => assert_eq!(index, len),
                    other => panic!("modify: {other:?}"),
                }
            }
            3 => {
                let i = pick(&mut rng, vars.len());
                let (var, value) = &mut vars[i];
                let k = rng.below(5) as i64;
                mem.map(var, |x| x * 3 + k).unwrap();
                *value = match value.clone() {
                    Value::Int(v) => Value::Int(v * 3 + k),
                    Value::List(l) => Value::List(l.into_iter().map(|x| x * 3 + k).collect()),
                };
            }
            4 => {
                let i = pick(&mut rng, vars.len());
                let (var, value) = &mut vars[i];
                let m = 2 + rng.below(3) as i64;
                match value {
                    Value::Int(_) => assert!(matches!(
                        mem.filter(var, |x| x % m != 0),
                        Err(Error::NotAList(_))
                    )),
                    Value::List(l) => {
                        l.retain(|x| x % m != 0);
                        assert_eq!(mem.filter(var, |x| x % m != 0).unwrap(), l.len());
                    }
                }
            }
            5 => {
                let i = pick(&mut rng, vars.len());
                let (var, value) = &vars[i];
                let hash = |a: i64, x: i64| a.wrapping_mul(31).wrapping_add(x);
                let want = value.clone().into_vec().into_iter().fold(7i64, hash);
                assert_eq!(mem.reduce(var, hash, 7i64).unwrap(), want);
            }
            6 => {
                let i = pick(&mut rng, vars.len());
                let (var, value) = vars.swap_remove(i);
                assert_eq!(mem.read(&var).unwrap(), value);
                mem.free(var).unwrap();
                assert!(matches!(mem.read(&var), Err(Error::Freed(_))));
                assert!(!mem.modify(&var, 1, 0).unwrap());
            }
            _ => {
                let i = pick(&mut rng, vars.len());
                let (var, value) = &vars[i];
                assert_eq!(&mem.read(var).unwrap(), value);
            }
        }
    }
    vars
}

mpi_test!(fn every_path_matches_the_model_from_every_rank_at_once(world, 4) {
    for mem in every_path(world, 48) {
        let seed = 0x9e37_79b9 + world.rank() as u64 * 7919;
        let mine = own_sequence(&mem, seed, 120);
        // Every rank reads every rank's variables (handles and values by
        // all-gather), then each frees its own.
        let words: Vec<i64> = mine.iter().flat_map(|(v, _)| v.to_words()).collect();
        let mut counts = vec![0i32; world.size() as usize];
        world.all_gather_into(&(words.len() as i32), &mut counts[..]);
        let mut all = vec![0i64; counts.iter().sum::<i32>() as usize];
        let displs: Vec<i32> = counts.iter().scan(0, |s, &c| { let d = *s; *s += c; Some(d) }).collect();
        let mut partition = mpi::datatype::PartitionMut::new(&mut all[..], &counts[..], &displs[..]);
        world.all_gather_varcount_into(&words[..], &mut partition);
        let mut values = Vec::new();
        for pair in all.chunks(2) {
            values.push(mem.read(&Var::from_words([pair[0], pair[1]])).unwrap());
        }
        world.barrier();
        // Each rank's own view must be in the gathered reads, in order.
        let offset = displs[world.rank() as usize] as usize / 2;
        for (i, (_, value)) in mine.iter().enumerate() {
            assert_eq!(&values[offset + i], value);
        }
        world.barrier();
        for (var, _) in mine {
            mem.free(var).unwrap();
        }
        world.barrier();
        assert_eq!(mem.free_slots().unwrap(), mem.capacity());
        mem.close().unwrap();
    }
});

mpi_test!(fn every_path_splits_lists_across_hosts(world, 4) {
    for mem in every_path(world, 16) {
        // 40 elements on 3 hosts of 16 slots: at least three extents.
        let var = if mem.is_master() { Some(mem.add((0..40).collect::<Vec<i64>>()).unwrap()) } else { None };
        let mut w = var.map_or([0, 0], Var::to_words);
        world.process_at_rank(0).broadcast_into(&mut w[..]);
        let var = Var::from_words(w);
        assert!(mem.placement(&var).unwrap().len() >= 3);
        // Every rank writes its own elements at once; all land.
        let (rank, size) = (world.rank() as usize, world.size() as usize);
        for i in (rank..40).step_by(size) {
            assert!(mem.modify(&var, 1000 + i as i64, i).unwrap());
        }
        world.barrier();
        let want: Vec<i64> = (1000..1040).collect();
        assert_eq!(mem.read(&var).unwrap(), Value::List(want.clone()));
        world.barrier();
        if mem.is_master() {
            mem.map(&var, |x| x - 1000).unwrap();
            // Keeps 0, 3, 6, ...: elements move across extents and hosts.
            assert_eq!(mem.filter(&var, |x| x % 3 == 0).unwrap(), 14);
            let kept: Vec<i64> = (0..40).filter(|x| x % 3 == 0).collect();
            assert_eq!(mem.read(&var).unwrap(), Value::List(kept.clone()));
            assert_eq!(mem.reduce(&var, |a, x| a + x, 0i64).unwrap(), kept.iter().sum::<i64>());
            mem.free(var).unwrap();
            assert_eq!(mem.free_slots().unwrap(), mem.capacity());
        }
        mem.close().unwrap();
    }
});

mpi_test!(fn a_bad_access_setting_is_an_error_on_every_rank(world, 3) {
    if world.rank() == 1 {
        std::env::set_var("DSM_KV_ACCESS", "fast");
    }
    match DistributedMemory::new(world, Config::new(4)) {
        Err(Error::Config(message)) => assert!(message.contains("DSM_KV_ACCESS"), "{message}"),
        other => panic!("expected a configuration error, got {other:?}"),
    }
    std::env::set_var("DSM_KV_ACCESS", "rma");
    let mem = DistributedMemory::new(world, Config::new(4)).unwrap();
    assert!(!mem.is_direct());
    assert_eq!(mem.mapped_hosts(), 0);
    mem.close().unwrap();
    std::env::set_var("DSM_KV_ACCESS", "mixed");
    let mem = DistributedMemory::new(world, Config::new(4)).unwrap();
    assert!(!mem.is_direct());
    if let Some(mapped) = mixed_maps(world.size() as usize - 1) {
        assert_eq!(mem.mapped_hosts(), mapped);
    }
    mem.close().unwrap();
    std::env::remove_var("DSM_KV_ACCESS");
});

mpi_test!(fn ranks_asking_for_different_paths_all_take_rma(world, 3) {
    let access = if world.rank() == 2 { Access::Rma } else { Access::Auto };
    let mem = DistributedMemory::with_access(world, Config::new(8), access).unwrap();
    assert!(!mem.is_direct());
    if mem.is_master() {
        let var = mem.add(vec![1, 2, 3]).unwrap();
        mem.map(&var, |x| x * 2).unwrap();
        assert_eq!(mem.read(&var).unwrap(), Value::List(vec![2, 4, 6]));
        mem.free(var).unwrap();
    }
    mem.close().unwrap();
});

mpi_test!(fn every_path_works_chunk_by_chunk_across_hosts(world, 4) {
    // The bulk operations work 2^16 elements at a time, on the RMA path
    // with the next chunk's gets in flight: a list over three hosts whose
    // extent edges fall inside chunks and whose length is no multiple of
    // one, checked against a model by an order-sensitive fold.
    const CHUNK: usize = 1 << 16;
    let per_host = 40_000;
    for mem in every_path(world, per_host) {
        if mem.is_master() {
            let small = mem.add(vec![5; 5]).unwrap();
            let n = 100_003;
            assert_ne!(n % CHUNK, 0);
            let mut model: Vec<i64> = (0..n as i64).collect();
            let var = mem.add(model.clone()).unwrap();
            let placement = mem.placement(&var).unwrap();
            assert_eq!(placement.len(), 3, "{placement:?}");
            assert!(placement.iter().any(|e| e.len % CHUNK != 0));
            let hash = |a: i64, x: i64| a.wrapping_mul(31).wrapping_add(x);
            let check = |model: &[i64]| {
                let got = mem.read(&var).unwrap().into_vec();
                assert_eq!(got.len(), model.len());
                let wrong: Vec<usize> = (0..got.len()).filter(|&i| got[i] != model[i]).collect();
                if let (Some(&first), Some(&last)) = (wrong.first(), wrong.last()) {
                    panic!(
                        "{} of {} elements differ, from {first} ({} for {}) to {last}",
                        wrong.len(), got.len(), got[first], model[first]
                    );
                }
                let want = model.iter().fold(7i64, |a, &x| hash(a, x));
                assert_eq!(mem.reduce(&var, hash, 7i64).unwrap(), want);
            };
            check(&model);
            mem.map(&var, |x| x * 3 + 1).unwrap();
            model.iter_mut().for_each(|x| *x = *x * 3 + 1);
            check(&model);
            // A kept prefix longer than a chunk (nothing moves), then every
            // seventh element, moved across chunk and extent edges.
            let keep = |x: i64| x < 210_000 || x % 7 == 1;
            model.retain(|&x| keep(x));
            assert_eq!(mem.filter(&var, keep).unwrap(), model.len());
            check(&model);
            // Every other element, from the first: every chunk writes.
            let keep = |x: i64| x % 2 == 1;
            model.retain(|&x| keep(x));
            assert_eq!(mem.filter(&var, keep).unwrap(), model.len());
            check(&model);
            assert_eq!(mem.filter(&var, |_| true).unwrap(), model.len());
            check(&model);
            assert_eq!(mem.free_slots().unwrap(), mem.capacity() - 5 - model.len());
            assert_eq!(mem.filter(&var, |_| false).unwrap(), 0);
            assert_eq!(mem.read(&var).unwrap(), Value::List(vec![]));
            assert_eq!(mem.reduce(&var, hash, 7i64).unwrap(), 7);
            mem.free(var).unwrap();
            assert_eq!(mem.read(&small).unwrap(), Value::List(vec![5; 5]));
            mem.free(small).unwrap();
            assert_eq!(mem.free_slots().unwrap(), mem.capacity());
        }
        mem.close().unwrap();
    }
});
