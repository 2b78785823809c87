//! The distributed memory (`dsm-kv`) on real MPI processes, and `dsm-demo`.

mod common;

use dsm_kv::{init_memory, init_memory_with, Config, DistributedMemory, Error, Value, Var};
use mpi::topology::SimpleCommunicator;
use mpi::traits::*;
use std::collections::VecDeque;

/// Rank 0's handle, on every rank.
fn share(world: &SimpleCommunicator, var: Option<Var>) -> Var {
    let mut words = var.map_or([0, 0], Var::to_words);
    world.process_at_rank(0).broadcast_into(&mut words[..]);
    Var::from_words(words)
}

/// A small deterministic generator (xorshift).
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n.max(1)
    }
}

fn list(mem: &DistributedMemory, var: &Var) -> Vec<i64> {
    match mem.read(var).unwrap() {
        Value::List(v) => v,
        other => panic!("expected a list, got {other}"),
    }
}

mpi_test!(fn ints_and_small_lists(world, 4) {
    let mem = init_memory(world, 10).unwrap();
    assert_eq!((mem.hosts(), mem.capacity()), (3, 30));
    if mem.is_master() {
        let a = mem.add(42).unwrap();
        assert_eq!(mem.read(&a).unwrap(), Value::Int(42));
        assert!(mem.modify(&a, 1337, 0).unwrap());
        assert_eq!(mem.read(&a).unwrap().as_int(), Some(1337));
        assert_eq!(mem.modify(&a, 1, 1), Err(Error::IndexOutOfBounds { index: 1, len: 1 }));
        assert_eq!(mem.free_slots().unwrap(), 29, "an integer takes one slot");

        let l = mem.add(vec![1, 2, 3]).unwrap();
        assert_eq!(mem.read(&l).unwrap(), Value::List(vec![1, 2, 3]));
        assert!(mem.modify(&l, 42, 0).unwrap());
        assert_eq!(list(&mem, &l), [42, 2, 3]);
        assert_eq!(mem.modify(&l, 1, 3), Err(Error::IndexOutOfBounds { index: 3, len: 3 }));
        assert_eq!(mem.len(&l).unwrap(), 3);
        assert_eq!(mem.free_slots().unwrap(), 26);

        // Integers map and reduce like a list of one, but do not filter.
        mem.map(&a, |x| x + 1).unwrap();
        assert_eq!(mem.read(&a).unwrap(), Value::Int(1338));
        assert_eq!(mem.reduce(&a, |acc, x| acc + x, 2).unwrap(), 1340);
        assert_eq!(mem.filter(&a, |_| true), Err(Error::NotAList(a)));

        // The seed's example.
        let v = mem.add([1, 2, 3]).unwrap();
        mem.map(&v, |x| x + 1).unwrap();
        assert_eq!(mem.read(&v).unwrap().to_string(), "[2, 3, 4]");
        assert_eq!(mem.reduce(&v, |x, y| x + y, 0).unwrap(), 9);
        assert_eq!(mem.filter(&v, |x| x % 2 == 0).unwrap(), 2);
        assert_eq!(mem.read(&v).unwrap().to_string(), "[2, 4]");

        // Empty lists exist and take no slot.
        let e = mem.add(Vec::<i64>::new()).unwrap();
        assert_eq!(mem.read(&e).unwrap(), Value::List(vec![]));
        assert_eq!(mem.modify(&e, 1, 0), Err(Error::IndexOutOfBounds { index: 0, len: 0 }));
        assert_eq!(mem.reduce(&e, |x, y| x * y, 7).unwrap(), 7);

        for var in [a, l, v, e] {
            mem.free(var).unwrap();
        }
        assert_eq!(mem.free_slots().unwrap(), 30);
    }
    mem.quit().unwrap();
});

mpi_test!(fn lists_spanning_hosts_and_every_chunk_boundary(world, 5) {
    let mem = init_memory(world, 10).unwrap();
    assert_eq!(mem.capacity(), 40);
    if mem.is_master() {
        // Fragment the hosts a little first.
        let small: Vec<Var> = (0..4).map(|i| mem.add(vec![i; 3]).unwrap()).collect();
        mem.free(small[1]).unwrap();
        mem.free(small[3]).unwrap();
        let n = 34;
        let values: Vec<i64> = (0..n).map(|i| i * 10).collect();
        let big = mem.add(values.clone()).unwrap();
        assert_eq!(mem.free_slots().unwrap(), 0);
        let placement = mem.placement(&big).unwrap();
        let mut hosts: Vec<i32> = placement.iter().map(|e| e.host).collect();
        hosts.sort();
        hosts.dedup();
        assert!(hosts.len() >= 3, "a 34-element list on 10-slot hosts spans {placement:?}");
        assert_eq!(placement.iter().map(|e| e.len).sum::<usize>(), n as usize);
        assert_eq!(list(&mem, &big), values);

        // The first and last element of every extent.
        let mut expected = values.clone();
        let mut offset = 0;
        for e in &placement {
            for index in [offset, offset + e.len - 1] {
                assert!(mem.modify(&big, -(index as i64) - 1, index).unwrap());
                expected[index] = -(index as i64) - 1;
            }
            offset += e.len;
        }
        assert_eq!(list(&mem, &big), expected);
        assert_eq!(mem.reduce(&big, |a, x| a + x, 0).unwrap(), expected.iter().sum::<i64>());
        // Every range, across every extent boundary.
        for start in 0..=n as usize {
            for end in start..=n as usize {
                assert_eq!(mem.read_range(&big, start..end).unwrap(), expected[start..end]);
            }
        }
        let out = |index, len| Err(Error::IndexOutOfBounds { index, len });
        assert_eq!(mem.read_range(&big, 30..35), out(34, 34));
        assert_eq!(mem.read_range(&big, 40..41), out(40, 34));
        #[allow(clippy::reversed_empty_ranges)]
        let reversed = mem.read_range(&big, 5..3);
        assert_eq!(reversed, out(5, 34));
        // The small lists were not touched.
        assert_eq!(list(&mem, &small[0]), [0; 3]);
        assert_eq!(list(&mem, &small[2]), [2; 3]);
        for var in [big, small[0], small[2]] {
            mem.free(var).unwrap();
        }
        assert_eq!(mem.free_slots().unwrap(), 40);
    }
    mem.quit().unwrap();
});

mpi_test!(fn large_list_over_four_hosts(world, 5) {
    let per_host = 60_000;
    let mem = init_memory(world, per_host).unwrap();
    if mem.is_master() {
        let n = 4 * per_host - 5;
        let values: Vec<i64> = (0..n as i64).map(|i| i * 3 - 7).collect();
        let var = mem.add(values.clone()).unwrap();
        assert_eq!(mem.placement(&var).unwrap().len(), 4);
        assert_eq!(list(&mem, &var), values);
        mem.map(&var, |x| x + 1).unwrap();
        assert_eq!(mem.reduce(&var, |a, x| a + x, 0).unwrap(), values.iter().map(|x| x + 1).sum::<i64>());
        let kept = mem.filter(&var, |x| x % 4 == 0).unwrap();
        let expected: Vec<i64> = values.iter().map(|x| x + 1).filter(|x| x % 4 == 0).collect();
        assert_eq!(kept, expected.len());
        assert_eq!(list(&mem, &var), expected);
        assert_eq!(mem.free_slots().unwrap(), 4 * per_host - kept);
        mem.free(var).unwrap();
        assert_eq!(mem.free_slots().unwrap(), 4 * per_host);
        // map, filter and reduce work chunk by chunk (2^16 elements on the
        // RMA path): a filter that keeps a prefix longer than a chunk, then
        // every third element across chunk and extent boundaries, then keeps
        // everything.
        let var = mem.add((0..n as i64).collect::<Vec<i64>>()).unwrap();
        let keep = |x: i64| x < 70_000 || x % 3 == 0 || (140_000..210_000).contains(&x);
        let expected: Vec<i64> = (0..n as i64).filter(|&x| keep(x)).collect();
        assert_eq!(mem.filter(&var, keep).unwrap(), expected.len());
        assert_eq!(list(&mem, &var), expected);
        assert_eq!(mem.filter(&var, |_| true).unwrap(), expected.len());
        assert_eq!(list(&mem, &var), expected);
        assert_eq!(mem.reduce(&var, |a, x| a + x, 0).unwrap(), expected.iter().sum::<i64>());
        assert_eq!(mem.free_slots().unwrap(), 4 * per_host - expected.len());
        mem.free(var).unwrap();
        assert_eq!(mem.free_slots().unwrap(), 4 * per_host);
    }
    mem.quit().unwrap();
});

mpi_test!(fn free_of_many_random_sizes_restores_capacity(world, 4) {
    let mem = init_memory(world, 200).unwrap();
    if mem.is_master() {
        let descriptors = mem.free_descriptors().unwrap();
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        let mut live: Vec<(Var, Vec<i64>)> = Vec::new();
        let mut used = 0;
        for step in 0..300 {
            if live.is_empty() || rng.below(3) != 0 {
                let size = rng.below(90) as usize;
                let value: Value = if rng.below(5) == 0 {
                    Value::Int(step)
                } else {
                    Value::List((0..size as i64).map(|i| step * 1000 + i).collect())
                };
                let len = value.len();
                match mem.add(value.clone()) {
                    Ok(var) => {
                        used += len;
                        live.push((var, value.into_vec()));
                    }
                    Err(Error::OutOfMemory { requested, free, capacity }) => {
                        assert_eq!((requested, free, capacity), (len, 600 - used, 600));
                        assert!(len > free);
                    }
                    Err(e) => panic!("{e}"),
                }
            } else {
                let (var, values) = live.swap_remove(rng.below(live.len() as u64) as usize);
                assert_eq!(mem.read(&var).unwrap().into_vec(), values);
                mem.free(var).unwrap();
                used -= values.len();
            }
            assert_eq!(mem.free_slots().unwrap(), 600 - used, "after step {step}");
        }
        for (var, values) in live.drain(..) {
            assert_eq!(mem.read(&var).unwrap().into_vec(), values);
            mem.free(var).unwrap();
        }
        assert_eq!(mem.free_slots().unwrap(), mem.capacity());
        assert_eq!(mem.free_descriptors().unwrap(), descriptors);
    }
    mem.quit().unwrap();
});

mpi_test!(fn map_reduce_filter_and_filter_everything(world, 5) {
    let mem = init_memory(world, 8).unwrap();
    if mem.is_master() {
        let var = mem.add((0..30).collect::<Vec<i64>>()).unwrap();
        assert!(mem.placement(&var).unwrap().len() >= 3);
        mem.map(&var, |x| x * x).unwrap();
        mem.wait(&var).unwrap();
        let squares: Vec<i64> = (0..30).map(|x| x * x).collect();
        assert_eq!(list(&mem, &var), squares);
        assert_eq!(mem.reduce(&var, |a, x| a + x, 0).unwrap(), squares.iter().sum::<i64>());
        // Left fold in list order.
        assert_eq!(mem.reduce(&var, |a: Vec<i64>, x| [a, vec![x]].concat(), vec![]).unwrap(), squares);

        let before = mem.free_slots().unwrap();
        assert_eq!(mem.filter(&var, |x| x % 2 == 1).unwrap(), 15);
        let odd: Vec<i64> = squares.iter().copied().filter(|x| x % 2 == 1).collect();
        assert_eq!(list(&mem, &var), odd);
        assert_eq!(mem.free_slots().unwrap(), before + 15, "the filtered-out slots return");
        // Later indices are consistent: modify every element.
        for i in 0..15 {
            assert!(mem.modify(&var, i as i64, i).unwrap());
        }
        assert_eq!(list(&mem, &var), (0..15).collect::<Vec<i64>>());
        assert_eq!(mem.modify(&var, 0, 15), Err(Error::IndexOutOfBounds { index: 15, len: 15 }));

        assert_eq!(mem.filter(&var, |_| false).unwrap(), 0);
        assert_eq!(mem.read(&var).unwrap(), Value::List(vec![]));
        assert_eq!(mem.free_slots().unwrap(), mem.capacity());
        assert_eq!(mem.reduce(&var, |a, x| a + x, 5).unwrap(), 5);
        mem.map(&var, |x| x + 1).unwrap();
        assert_eq!(mem.filter(&var, |_| true).unwrap(), 0);
        mem.free(var).unwrap();
        assert_eq!(mem.free_slots().unwrap(), mem.capacity());
    }
    mem.quit().unwrap();
});

mpi_test!(fn out_of_memory_says_how_much_and_allocates_nothing(world, 4) {
    let mem = init_memory(world, 10).unwrap();
    if mem.is_master() {
        let a = mem.add(vec![1; 20]).unwrap();
        assert_eq!(mem.free_slots().unwrap(), 10);
        let err = mem.add(vec![2; 11]).unwrap_err();
        assert_eq!(err, Error::OutOfMemory { requested: 11, free: 10, capacity: 30 });
        let text = err.to_string();
        assert!(text.contains("out of memory") && text.contains("11") && text.contains("10"), "{text}");
        assert_eq!(mem.free_slots().unwrap(), 10);
        // Exactly the free space still fits, split as needed.
        let b = mem.add(vec![3; 10]).unwrap();
        assert_eq!(mem.free_slots().unwrap(), 0);
        assert_eq!(mem.add(5), Err(Error::OutOfMemory { requested: 1, free: 0, capacity: 30 }));
        assert_eq!(list(&mem, &a), [1; 20]);
        assert_eq!(list(&mem, &b), [3; 10]);
        mem.free(a).unwrap();
        mem.free(b).unwrap();
        assert_eq!(mem.free_slots().unwrap(), 30);
    }
    mem.quit().unwrap();
    // Running out of descriptors rolls back the slots too.
    let mem = init_memory_with(world, Config { max_per_slave: 10, vars_per_slave: Some(2) }).unwrap();
    if mem.is_master() {
        let vars: Vec<Var> = (0..6).map(|i| mem.add(i).unwrap()).collect();
        assert_eq!(mem.add(vec![1, 2]), Err(Error::TooManyVariables { capacity: 6 }));
        assert_eq!(mem.free_slots().unwrap(), 24);
        for var in vars {
            mem.free(var).unwrap();
        }
        assert_eq!((mem.free_slots().unwrap(), mem.free_descriptors().unwrap()), (30, 6));
    }
    mem.quit().unwrap();
});

mpi_test!(fn use_after_free_is_an_error_or_false(world, 4) {
    let mem = init_memory(world, 4).unwrap();
    if mem.is_master() {
        let a = mem.add(vec![1, 2, 3, 4]).unwrap();
        let i = mem.add(9).unwrap();
        mem.free(a).unwrap();
        assert_eq!(mem.free(a), Err(Error::Freed(a)), "double free");
        assert_eq!(mem.read(&a), Err(Error::Freed(a)));
        assert!(!mem.modify(&a, 0, 0).unwrap());
        assert_eq!(mem.map(&a, |x| x), Err(Error::Freed(a)));
        assert_eq!(mem.filter(&a, |_| true), Err(Error::Freed(a)));
        assert_eq!(mem.reduce(&a, |x, y| x + y, 0), Err(Error::Freed(a)));
        assert_eq!(mem.read_range(&a, 0..1), Err(Error::Freed(a)));
        // An integer is a list of one.
        assert_eq!(mem.read_range(&i, 0..1).unwrap(), [9]);
        assert_eq!(mem.read_range(&i, 1..1).unwrap(), []);
        assert_eq!(mem.read_range(&i, 0..2), Err(Error::IndexOutOfBounds { index: 1, len: 1 }));
        mem.free(i).unwrap();
        assert_eq!(mem.read_range(&i, 0..1), Err(Error::Freed(i)));
        assert_eq!(mem.read(&i), Err(Error::Freed(i)));
        assert!(!mem.modify(&i, 0, 0).unwrap());
        // New variables reuse the descriptors and slots; the stale handles
        // still never reach them.
        let b = mem.add(vec![5, 6, 7, 8]).unwrap();
        let j = mem.add(10).unwrap();
        for stale in [a, i] {
            assert_eq!(mem.read(&stale), Err(Error::Freed(stale)));
            assert!(!mem.modify(&stale, -1, 0).unwrap());
            assert_eq!(mem.free(stale), Err(Error::Freed(stale)));
        }
        assert_eq!(list(&mem, &b), [5, 6, 7, 8]);
        assert_eq!(mem.read(&j).unwrap(), Value::Int(10));
        // Handles travel as two words; garbage handles are refused.
        assert_eq!(Var::from_words(b.to_words()), b);
        let bogus = Var::from_words([0, 1]);
        assert_eq!(mem.read(&bogus), Err(Error::InvalidHandle(bogus)));
        let bogus = Var::from_words([(99 << 32) | 1, 1]);
        assert_eq!(mem.read(&bogus), Err(Error::InvalidHandle(bogus)));
        mem.free(b).unwrap();
        mem.free(j).unwrap();
        assert_eq!(mem.free_slots().unwrap(), mem.capacity());
    }
    mem.quit().unwrap();
});

mpi_test!(fn spmd_concurrent_modify_and_allocation(world, 5) {
    let (rank, size) = (world.rank() as i64, world.size() as i64);
    let mem = init_memory(world, 40).unwrap();
    let n = 120;
    let var = share(world, mem.is_master().then(|| mem.add(vec![0; n]).unwrap()));
    assert!(mem.placement(&var).unwrap().len() >= 3);
    // Every rank writes its own elements, all at once, while also
    // allocating and freeing lists of its own.
    let mut rng = Rng(17 + rank as u64);
    for i in (rank as usize..n).step_by(size as usize) {
        assert!(mem.modify(&var, rank * 1000 + i as i64, i).unwrap());
        if i % 3 == 0 {
            let mine: Vec<i64> = (0..rng.below(6) as i64 + 1).map(|k| rank * 100 + k).collect();
            let v = mem.add(mine.clone()).unwrap();
            assert_eq!(list(&mem, &v), mine);
            mem.free(v).unwrap();
        }
    }
    world.barrier();
    let expected: Vec<i64> = (0..n as i64).map(|i| (i % size) * 1000 + i).collect();
    assert_eq!(list(&mem, &var), expected);
    world.barrier();
    if mem.is_master() {
        mem.free(var).unwrap();
        assert_eq!(mem.free_slots().unwrap(), mem.capacity());
    }
    mem.quit().unwrap();
});

mpi_test!(fn free_racing_with_modify_never_corrupts_the_next_variable(world, 4) {
    // Ranks 1..4 modify and read the variable while rank 0 frees it and at
    // once reuses its slots for a new variable of negative values: a free
    // that did not wait for their pins lets a stale write land in the new
    // variable, or a stale read return its values.
    let rank = world.rank();
    let mem = init_memory(world, 12).unwrap();
    for round in 0..20 {
        let var = share(world, mem.is_master().then(|| mem.add(vec![0; 30]).unwrap()));
        world.barrier();
        if mem.is_master() {
            // Free only once every other rank is writing in its loop (its
            // element is no longer 0), and after a few more of their writes.
            let writing = |values: &[i64]| (1..world.size() as usize).all(|r| values[r * 7] > 0);
            while !writing(&list(&mem, &var)) {}
            for _ in 0..round % 4 {
                list(&mem, &var);
            }
            mem.free(var).unwrap();
            // The freed slots are reused at once.
            let next = mem.add(vec![-7; 30]).unwrap();
            world.barrier();
            assert_eq!(list(&mem, &next), [-7; 30], "a stale modify wrote into a new variable");
            mem.free(next).unwrap();
        } else {
            let mut writes = 0;
            let index = rank as usize * 7;
            while mem.modify(&var, 1 + writes, index).unwrap() {
                writes += 1;
                match mem.read(&var) {
                    Ok(Value::List(values)) => assert!(
                        values.len() == 30 && values.iter().all(|&x| x >= 0),
                        "a read of a freed variable returned the next one's values: {values:?}"
                    ),
                    Err(Error::Freed(v)) if v == var => {}
                    other => panic!("{other:?}"),
                }
            }
            assert_eq!(mem.read(&var), Err(Error::Freed(var)));
            world.barrier();
        }
        world.barrier();
    }
    // Racing frees: exactly one wins, the others find it freed.
    let var = share(world, mem.is_master().then(|| mem.add(vec![1; 5]).unwrap()));
    let won = match mem.free(var) {
        Ok(()) => 1,
        Err(Error::Freed(v)) if v == var => 0,
        Err(e) => panic!("{e}"),
    };
    let mut winners = 0;
    world.all_reduce_into(&won, &mut winners, mpi::collective::SystemOperation::sum());
    assert_eq!(winners, 1);
    world.barrier();
    assert_eq!(mem.free_slots().unwrap(), mem.capacity());
    mem.quit().unwrap();
});

mpi_test!(fn reads_are_snapshots_under_concurrent_map_and_filter(world, 4) {
    let rank = world.rank();
    let mem = init_memory(world, 50).unwrap();
    let var = share(world, mem.is_master().then(|| mem.add(vec![0; 140]).unwrap()));
    let maps = 20;
    if rank == 1 {
        for _ in 0..maps {
            mem.map(&var, |x| x + 1).unwrap();
        }
    } else if rank >= 2 {
        for _ in 0..maps {
            let values = list(&mem, &var);
            assert_eq!(values.len(), 140);
            assert!(values.iter().all(|&x| x == values[0]), "a read mixed two maps: {values:?}");
        }
    }
    world.barrier();
    // A finished map is visible to every rank.
    assert_eq!(list(&mem, &var), vec![maps; 140]);
    world.barrier();
    if rank == 1 {
        mem.map(&var, |x| x * 2).unwrap();
        assert_eq!(mem.filter(&var, |_| false).unwrap(), 0);
    } else if rank >= 2 {
        for _ in 0..maps {
            let values = list(&mem, &var);
            assert!(values.is_empty() || values.len() == 140, "{}", values.len());
            assert!(values.iter().all(|&x| x == values[0]));
        }
    }
    world.barrier();
    assert_eq!(list(&mem, &var), Vec::<i64>::new());
    world.barrier();
    if mem.is_master() {
        mem.free(var).unwrap();
    }
    mem.quit().unwrap();
});

mpi_test!(fn one_process_is_a_clear_error(world, 1) {
    let err = init_memory(world, 10).unwrap_err();
    assert_eq!(err, Error::TooFewProcesses { size: 1 });
    assert!(err.to_string().contains("at least 2"), "{err}");
});

mpi_test!(fn disagreeing_sizes_are_an_error_everywhere(world, 4) {
    let err = init_memory(world, 10 + (world.rank() == 2) as usize).unwrap_err();
    assert!(matches!(err, Error::Config(_)), "{err}");
    // Everyone is still in step.
    world.barrier();
});

#[test]
fn demo_prints_the_four_lines() {
    if common::is_child() {
        return;
    }
    let demo = common::programs::binary("dsm-demo", "dsm-demo");
    let demo = demo.to_str().unwrap();
    let (ok, out) = common::mpirun(5, demo, &["--size", "20", "--verbose"], &[]);
    assert!(ok, "{out}");
    for line in [
        "Initial value: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19]",
        "After squaring: [0, 1, 4, 9, 16, 25, 36, 49, 64, 81, 100, 121, 144, 169, 196, 225, 256, 289, 324, 361]",
        "After removing even integer: [1, 9, 25, 49, 81, 121, 169, 225, 289, 361]",
        "Multiplication of the remaining elements: 428670161650355625",
    ] {
        assert_eq!(out.lines().filter(|l| l.trim_end() == line).count(), 1, "missing {line:?} in:\n{out}");
    }

    // Without --verbose: a summary, and an overflow is said, not printed wrong.
    let (ok, out) = common::mpirun(5, demo, &["--size", "1000"], &[]);
    assert!(ok, "{out}");
    assert!(
        out.contains("Initial value: a list of 1000 elements, from 0 to 999"),
        "{out}"
    );
    assert!(
        out.contains("After removing even integer: a list of 500 elements"),
        "{out}"
    );
    assert!(
        out.contains("Multiplication of the remaining elements: overflow"),
        "{out}"
    );

    // Bad arguments: usage and a non-zero exit on every rank, no hang.
    let (ok, out) = common::mpirun(5, demo, &["--size", "ten"], &[]);
    assert!(!ok, "{out}");
    assert!(out.contains("Usage:") && out.contains("--size"), "{out}");
    assert_eq!(
        out.matches("Usage:").count(),
        1,
        "only rank 0 prints: {out}"
    );
}

/// A unique identity for the `seq`-th integer `rank` creates: what that
/// integer holds, so that a read returning another variable's value is seen.
fn identity(rank: i32, seq: i64) -> i64 {
    (i64::from(rank) << 40) | (seq + 1)
}

mpi_test!(fn int_reads_racing_free_and_reuse_never_see_another_variable(world, 4) {
    // Few descriptors, so that a freed integer's descriptor is reused at
    // once by the next integer any rank adds.
    let config = Config { vars_per_slave: Some(6), ..Config::new(8) };
    let mem = init_memory_with(world, config).unwrap();
    let rank = world.rank();
    let mut rng = Rng(0x9e37_79b9 ^ ((rank as u64 + 1) * 0x1234_5678_9abc));
    let mut seq = 0;
    let mut add = |mem: &DistributedMemory| {
        let value = identity(rank, seq);
        seq += 1;
        (mem.add(value).unwrap(), value)
    };
    let (mut values, mut freed) = (0u64, 0u64);
    for _round in 0..6 {
        // Every rank adds two integers and everyone learns their handles
        // and values.
        let mine: Vec<(Var, i64)> = (0..2).map(|_| add(&mem)).collect();
        let words: Vec<i64> = mine
            .iter()
            .flat_map(|(v, x)| v.to_words().into_iter().chain([*x]))
            .collect();
        let mut all = vec![0i64; words.len() * world.size() as usize];
        world.all_gather_into(&words[..], &mut all[..]);
        let table: Vec<(Var, i64)> = all
            .chunks(3)
            .map(|w| (Var::from_words([w[0], w[1]]), w[2]))
            .collect();
        world.barrier();
        // Read the others' integers while their owners free them and add
        // new ones, which reuse the freed descriptors.
        let mut live: Vec<Var> = Vec::new();
        let mut own = mine.iter().map(|(v, _)| *v).collect::<VecDeque<_>>();
        for op in 0..60 {
            if op % 20 == 7 {
                if let Some(var) = own.pop_front() {
                    mem.free(var).unwrap();
                    live.push(add(&mem).0);
                }
            }
            let (var, want) = table[rng.below(table.len() as u64) as usize];
            match mem.read(&var) {
                Ok(Value::Int(v)) => {
                    assert_eq!(v, want, "{var} read another variable's value");
                    values += 1;
                }
                Err(Error::Freed(v)) if v == var => freed += 1,
                other => panic!("{var}: {other:?}"),
            }
        }
        world.barrier();
        for var in own.into_iter().chain(live) {
            mem.free(var).unwrap();
        }
        world.barrier();
    }
    assert_eq!(mem.free_slots().unwrap(), mem.capacity());
    assert!(values > 0 && freed > 0, "values {values}, freed {freed}: no race");
    mem.quit().unwrap();
});

mpi_test!(fn co_located_hosts_by_loads_and_stores_the_others_by_rma(world, 5) {
    // The default path of a memory: direct on one node; across nodes (the
    // multi-node bed) each rank maps the hosts on its own node when the MPI
    // lets it (MPICH 5), and reaches the others by RMA, in one list.
    let mem = DistributedMemory::new(world, Config::new(100)).unwrap();
    let node = world.split_shared(world.rank());
    let mut on_node = vec![0i32; node.size() as usize];
    node.all_gather_into(&world.rank(), &mut on_node[..]);
    let co_located = on_node.iter().filter(|&&r| r != 0).count();
    let forced = std::env::var("DSM_KV_ACCESS");
    let expected = match (forced.as_deref(), std::env::var("RMA_MPI_NAME").as_deref()) {
        _ if mem.is_direct() => Some(mem.hosts()),
        (Ok("rma"), _) => Some(0),
        (_, Ok("mpich5")) => Some(co_located),
        (_, Ok("openmpi" | "openmpi5" | "mpich" | "impi")) => Some(0),
        _ => None,
    };
    if let Some(expected) = expected {
        assert_eq!(mem.mapped_hosts(), expected, "rank {}: {co_located} co-located hosts", world.rank());
    }
    // One list over all four hosts; every rank writes its own elements at
    // once, then reads everyone's.
    let n = 350;
    let var = share(world, mem.is_master().then(|| mem.add((0..n).collect::<Vec<i64>>()).unwrap()));
    assert!(mem.placement(&var).unwrap().len() >= 4);
    let (rank, size) = (world.rank() as usize, world.size() as usize);
    for i in (rank..n as usize).step_by(size) {
        assert!(mem.modify(&var, 10 * i as i64, i).unwrap());
    }
    world.barrier();
    let want: Vec<i64> = (0..n).map(|i| 10 * i).collect();
    assert_eq!(list(&mem, &var), want);
    assert_eq!(mem.read_range(&var, 95..205).unwrap(), want[95..205]);
    world.barrier();
    // The bulk operations from a rank that maps some hosts and not others.
    if rank == 2 {
        mem.map(&var, |x| x / 10).unwrap();
        assert_eq!(mem.filter(&var, |x| x % 7 == 1).unwrap(), 50);
    }
    world.barrier();
    let kept: Vec<i64> = (0..n).filter(|x| x % 7 == 1).collect();
    assert_eq!(list(&mem, &var), kept);
    assert_eq!(mem.reduce(&var, |a, x| a + x, 0i64).unwrap(), kept.iter().sum::<i64>());
    // Integers on every host, read by every rank.
    let ints: Vec<Var> = if mem.is_master() {
        (0..8).map(|k| mem.add(1000 + k).unwrap()).collect()
    } else {
        Vec::new()
    };
    for k in 0..8 {
        let v = share(world, ints.get(k).copied());
        assert_eq!(mem.read(&v).unwrap(), Value::Int(1000 + k as i64));
    }
    world.barrier();
    mem.close().unwrap();
});
