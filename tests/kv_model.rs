//! Model-based tests of `dsm-kv`: random sequences of add, read, modify,
//! map + wait, filter, reduce and free (with double frees, use after free and
//! bad indices) from several ranks at once, each checked against a plain
//! in-memory model.
//!
//! * Concurrent rounds: every rank runs its own random sequence on its own
//!   variables at the same time as the others (its model is exact); then the
//!   ranks exchange handles and models and read each other's variables; then
//!   each rank modifies, maps and filters the variables of the next rank
//!   while everybody also allocates and frees; at the end every variable is
//!   freed by two ranks at once (exactly one wins) and the memory must be
//!   back to its initial capacity.
//! * Exact capacity: one rank at a time runs a random sequence on a small
//!   memory, where the model also predicts every `OutOfMemory` and
//!   `TooManyVariables` error and the free slot and descriptor counts.
//!
//! The sequences come from `RMA_PROPTEST_SEED` (decimal or `0x` hex, printed
//! at the start) and the rank number.

mod common;

use dsm_kv::{init_memory, init_memory_with, Config, DistributedMemory, Error, Value, Var};
use mpi::collective::SystemOperation;
use mpi::topology::SimpleCommunicator;
use mpi::traits::*;
use std::collections::{BTreeMap, VecDeque};

const DEFAULT_SEED: u64 = 0x5eed_0006_0003;

fn base_seed(world: &SimpleCommunicator, test: &str) -> u64 {
    let seed = std::env::var("RMA_PROPTEST_SEED")
        .ok()
        .and_then(|text| {
            let text = text.trim();
            match text.strip_prefix("0x") {
                Some(hex) => u64::from_str_radix(hex, 16).ok(),
                None => text.parse().ok(),
            }
        })
        .unwrap_or(DEFAULT_SEED);
    if world.rank() == 0 {
        eprintln!("kv_model/{test}: seed {seed:#x} (set RMA_PROPTEST_SEED to change)");
    }
    seed
}

/// SplitMix64.
struct Rng(u64);

impl Rng {
    fn new(seed: u64, stream: u64) -> Rng {
        Rng(seed ^ stream.wrapping_mul(0xd1b5_4a32_d192_ed03))
    }

    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }

    fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }

    /// A value with small, negative and extreme numbers.
    fn value(&mut self) -> i64 {
        match self.below(8) {
            0 => i64::MIN,
            1 => i64::MAX,
            2 => -1,
            3 => 0,
            _ => self.next() as i64 >> self.below(63),
        }
    }

    fn list(&mut self, max_len: usize) -> Vec<i64> {
        let len = self.below(max_len + 1);
        (0..len).map(|_| self.value()).collect()
    }
}

/// The element functions `map` applies (chosen by number, so that the model
/// applies the same one).
fn map_fn(k: usize) -> impl Fn(i64) -> i64 {
    move |x: i64| match k % 4 {
        0 => x.wrapping_add(1),
        1 => x.wrapping_mul(-3),
        2 => x ^ 0x5555,
        _ => x.rotate_left(7),
    }
}

/// The predicates `filter` applies.
fn keep_fn(k: usize) -> impl Fn(i64) -> bool {
    move |x: i64| match k % 4 {
        0 => x % 2 == 0,
        1 => x >= 0,
        2 => x % 3 != 0,
        _ => false,
    }
}

/// A fold whose result depends on the order of the elements.
fn fold(acc: i64, x: i64) -> i64 {
    acc.wrapping_mul(31).wrapping_add(x)
}

/// Slots a value takes (an integer reserves one).
fn slots(value: &Value) -> usize {
    match value {
        Value::Int(_) => 1,
        Value::List(v) => v.len(),
    }
}

/// One rank's variables and the handles it has freed.
#[derive(Debug, Clone, Default, PartialEq)]
struct Model {
    vars: BTreeMap<Var, Value>,
    stale: Vec<Var>,
}

impl Model {
    fn used_slots(&self) -> usize {
        self.vars.values().map(slots).sum()
    }

    fn pick(&self, rng: &mut Rng) -> Option<Var> {
        let n = self.vars.len();
        (n > 0).then(|| *self.vars.keys().nth(rng.below(n)).unwrap())
    }

    /// As words: `[vars, (handle 2, kind, len, values..)*, stale, (handle 2)*]`.
    fn to_words(&self) -> Vec<i64> {
        let mut w = vec![self.vars.len() as i64];
        for (var, value) in &self.vars {
            w.extend(var.to_words());
            match value {
                Value::Int(v) => w.extend([0, 1, *v]),
                Value::List(v) => {
                    w.extend([1, v.len() as i64]);
                    w.extend(v);
                }
            }
        }
        w.push(self.stale.len() as i64);
        for var in &self.stale {
            w.extend(var.to_words());
        }
        w
    }

    fn from_words(w: &[i64]) -> Model {
        let mut at = 0;
        let mut take = |n: usize| {
            at += n;
            &w[at - n..at]
        };
        let mut model = Model::default();
        for _ in 0..take(1)[0] {
            let h = take(2);
            let var = Var::from_words([h[0], h[1]]);
            let kind = take(2);
            let values = take(kind[1] as usize).to_vec();
            let value = if kind[0] == 0 {
                Value::Int(values[0])
            } else {
                Value::List(values)
            };
            model.vars.insert(var, value);
        }
        for _ in 0..take(1)[0] {
            let h = take(2);
            model.stale.push(Var::from_words([h[0], h[1]]));
        }
        model
    }
}

/// The last operations of this rank, printed when a check fails.
struct Trace {
    rank: i32,
    phase: String,
    ops: VecDeque<String>,
}

impl Trace {
    fn new(rank: i32) -> Trace {
        Trace {
            rank,
            phase: String::new(),
            ops: VecDeque::new(),
        }
    }

    fn op(&mut self, text: String) {
        if self.ops.len() == 24 {
            self.ops.pop_front();
        }
        self.ops.push_back(text);
    }

    /// Panics (ending the job) unless `got == want`.
    #[track_caller]
    fn expect<T: PartialEq + std::fmt::Debug>(&self, got: T, want: T) {
        if got != want {
            let ops: Vec<&str> = self.ops.iter().map(String::as_str).collect();
            panic!(
                "rank {}, {}: got {got:?}, the model says {want:?}\nlast operations:\n  {}",
                self.rank,
                self.phase,
                ops.join("\n  ")
            );
        }
    }
}

/// What a concurrent round may accept beyond the model: `add` can fail with
/// `OutOfMemory` when the free space moved between hosts while it
/// allocated (documented: it gives back what it took).
#[derive(Default)]
struct Counts {
    ops: usize,
    spurious_oom: usize,
}

/// Checks every operation on a freed handle.
fn check_stale(mem: &DistributedMemory, var: Var, rng: &mut Rng, trace: &mut Trace) {
    let k = rng.below(8);
    trace.op(format!("stale op {k} on {var}"));
    match k {
        0 => trace.expect(mem.read(&var), Err(Error::Freed(var))),
        1 => trace.expect(mem.modify(&var, 1, 0), Ok(false)),
        2 => trace.expect(mem.free(var), Err(Error::Freed(var))),
        3 => trace.expect(mem.map(&var, |x| x), Err(Error::Freed(var))),
        4 => trace.expect(mem.filter(&var, |_| true), Err(Error::Freed(var))),
        5 => trace.expect(mem.reduce(&var, fold, 0), Err(Error::Freed(var))),
        6 => trace.expect(mem.len(&var), Err(Error::Freed(var))),
        _ => trace.expect(mem.wait(&var), Err(Error::Freed(var))),
    }
}

/// Reads a variable in every way, checking it against `want`.
fn check_read(mem: &DistributedMemory, var: Var, want: &Value, trace: &mut Trace) {
    trace.op(format!("read {var}"));
    trace.expect(mem.read(&var).as_ref(), Ok(want));
    let elements = want.clone().into_vec();
    trace.expect(mem.len(&var), Ok(elements.len()));
    trace.expect(
        mem.reduce(&var, fold, 7),
        Ok(elements.iter().copied().fold(7, fold)),
    );
    let placed: usize = mem.placement(&var).unwrap().iter().map(|e| e.len).sum();
    trace.expect(placed, slots(want));
}

/// One random operation that changes an existing variable, checked against
/// `model` (which only this rank changes meanwhile).
fn mutate(mem: &DistributedMemory, model: &mut Model, rng: &mut Rng, trace: &mut Trace) {
    let Some(var) = model.pick(rng) else {
        return;
    };
    let len = slots(&model.vars[&var]);
    match rng.below(4) {
        0 | 1 => {
            let (value, index) = (rng.value(), rng.below(len + 2));
            trace.op(format!("modify {var} [{index}] = {value} (len {len})"));
            let got = mem.modify(&var, value, index);
            if index < len {
                trace.expect(got, Ok(true));
                match model.vars.get_mut(&var).unwrap() {
                    Value::Int(v) => *v = value,
                    Value::List(v) => v[index] = value,
                }
            } else {
                trace.expect(got, Err(Error::IndexOutOfBounds { index, len }));
            }
        }
        2 => {
            let k = rng.below(4);
            trace.op(format!("map {var} with f{k}, wait"));
            trace.expect(mem.map(&var, map_fn(k)), Ok(()));
            trace.expect(mem.wait(&var), Ok(()));
            let f = map_fn(k);
            match model.vars.get_mut(&var).unwrap() {
                Value::Int(v) => *v = f(*v),
                Value::List(v) => v.iter_mut().for_each(|x| *x = f(*x)),
            }
        }
        _ => {
            let k = rng.below(4);
            trace.op(format!("filter {var} with p{k}"));
            let got = mem.filter(&var, keep_fn(k));
            match model.vars.get_mut(&var).unwrap() {
                Value::Int(_) => trace.expect(got, Err(Error::NotAList(var))),
                Value::List(v) => {
                    v.retain(|&x| keep_fn(k)(x));
                    trace.expect(got, Ok(v.len()));
                }
            }
        }
    }
}

/// Adds a random value; `Ok(None)` when a concurrent round's `add` ran out
/// of memory (allowed there, see [`Counts`]).
fn add_random(
    mem: &DistributedMemory,
    model: &mut Model,
    rng: &mut Rng,
    max_len: usize,
    trace: &mut Trace,
    counts: &mut Counts,
) {
    let value = if rng.chance(30) {
        Value::Int(rng.value())
    } else {
        Value::List(rng.list(max_len))
    };
    trace.op(format!("add {} slots", slots(&value)));
    match mem.add(value.clone()) {
        Ok(var) => {
            trace.expect(model.vars.contains_key(&var), false);
            trace.expect(mem.read(&var), Ok(value.clone()));
            model.vars.insert(var, value);
        }
        Err(Error::OutOfMemory { .. }) => counts.spurious_oom += 1,
        Err(e) => trace.expect(Err(e), Ok(())),
    }
}

/// One rank's random sequence on its own variables, at the same time as the
/// other ranks'. Stays within `budget` slots and `max_vars` variables, so
/// that the ranks together never exceed the memory.
fn own_sequence(
    mem: &DistributedMemory,
    model: &mut Model,
    rng: &mut Rng,
    steps: usize,
    (budget, max_vars): (usize, usize),
    trace: &mut Trace,
    counts: &mut Counts,
) {
    for _ in 0..steps {
        counts.ops += 1;
        let room = budget.saturating_sub(model.used_slots());
        match rng.below(10) {
            0..=2 if room > 0 && model.vars.len() < max_vars => {
                add_random(mem, model, rng, room.min(24), trace, counts)
            }
            3 | 4 => {
                if let Some(var) = model.pick(rng) {
                    let want = model.vars[&var].clone();
                    check_read(mem, var, &want, trace);
                }
            }
            5 => {
                if let Some(var) = model.pick(rng) {
                    trace.op(format!("free {var}"));
                    trace.expect(mem.free(var), Ok(()));
                    model.vars.remove(&var);
                    model.stale.push(var);
                }
            }
            6 if !model.stale.is_empty() => {
                let var = model.stale[rng.below(model.stale.len())];
                check_stale(mem, var, rng, trace);
            }
            _ => mutate(mem, model, rng, trace),
        }
    }
}

/// Every rank's model, on every rank (one broadcast per rank).
fn exchange(world: &SimpleCommunicator, mine: &Model) -> Vec<Model> {
    let words = mine.to_words();
    (0..world.size())
        .map(|root| {
            let process = world.process_at_rank(root);
            let mut len = words.len() as u64;
            process.broadcast_into(&mut len);
            let mut buf = if root == world.rank() {
                words.clone()
            } else {
                vec![0i64; len as usize]
            };
            process.broadcast_into(&mut buf[..]);
            Model::from_words(&buf)
        })
        .collect()
}

fn sum(world: &SimpleCommunicator, x: usize) -> usize {
    let mut total = 0u64;
    world.all_reduce_into(&(x as u64), &mut total, SystemOperation::sum());
    total as usize
}

/// With every rank quiet: the memory's counts agree with all the models.
fn check_counts(
    world: &SimpleCommunicator,
    mem: &DistributedMemory,
    model: &Model,
    descriptors: usize,
    trace: &Trace,
) {
    world.barrier();
    let used = sum(world, model.used_slots());
    let vars = sum(world, model.vars.len());
    trace.expect(mem.free_slots(), Ok(mem.capacity() - used));
    trace.expect(mem.free_descriptors(), Ok(descriptors - vars));
    world.barrier();
}

mpi_test!(fn concurrent_ranks_match_their_models(world, 4) {
    let (rank, size) = (world.rank(), world.size() as usize);
    let seed = base_seed(world, "concurrent");
    let mem = init_memory(world, 96).unwrap();
    let descriptors = mem.free_descriptors().unwrap();
    // Nobody allocates before every rank has counted.
    world.barrier();
    // Each rank's own variables stay within its share, minus room for the
    // scratch variables of the third phase.
    let budget = (mem.capacity() / size - 16, 24);
    let mut rng = Rng::new(seed, rank as u64);
    let mut trace = Trace::new(rank);
    let mut counts = Counts::default();
    let mut model = Model::default();
    let next = (rank as usize + 1) % size;
    let started = std::time::Instant::now();

    for round in 0..3 {
        trace.phase = format!("round {round}, own variables");
        own_sequence(&mem, &mut model, &mut rng, 45, budget, &mut trace, &mut counts);
        check_counts(world, &mem, &model, descriptors, &trace);

        // Everybody reads everybody's variables and stale handles.
        trace.phase = format!("round {round}, reading the others' variables");
        let models = exchange(world, &model);
        trace.expect(&models[rank as usize], &model);
        for (owner, theirs) in models.iter().enumerate() {
            for (var, want) in &theirs.vars {
                check_read(&mem, *var, want, &mut trace);
            }
            for &var in theirs.stale.iter().rev().take(4) {
                trace.op(format!("stale handle of rank {owner}"));
                check_stale(&mem, var, &mut rng, &mut trace);
            }
        }
        world.barrier();

        // Each rank changes the next rank's variables, while every rank
        // also allocates and frees variables of its own.
        trace.phase = format!("round {round}, changing rank {next}'s variables");
        let mut theirs = models[next].clone();
        let mut scratch = Model::default();
        for step in 0..30 {
            counts.ops += 1;
            mutate(&mem, &mut theirs, &mut rng, &mut trace);
            if step % 4 == 0 {
                add_random(&mem, &mut scratch, &mut rng, 8, &mut trace, &mut counts);
            }
            if step % 4 == 2 {
                if let Some(var) = scratch.pick(&mut rng) {
                    trace.op(format!("free scratch {var}"));
                    trace.expect(mem.free(var), Ok(()));
                    scratch.vars.remove(&var);
                }
            }
        }
        for var in std::mem::take(&mut scratch.vars).into_keys() {
            trace.expect(mem.free(var), Ok(()));
        }
        world.barrier();
        // The writer's copy of each model goes back to its owner, who checks
        // every variable against it.
        trace.phase = format!("round {round}, checking the changes of rank {}", (rank as usize + size - 1) % size);
        let copies = exchange(world, &theirs);
        let changed = &copies[(rank as usize + size - 1) % size];
        trace.expect(changed.vars.keys().collect::<Vec<_>>(), model.vars.keys().collect::<Vec<_>>());
        model.vars = changed.vars.clone();
        for (var, want) in &model.vars {
            check_read(&mem, *var, want, &mut trace);
        }
        check_counts(world, &mem, &model, descriptors, &trace);
    }

    // Every variable is freed by its owner and by the previous rank at once:
    // exactly one of them wins.
    trace.phase = "racing frees".into();
    let models = exchange(world, &model);
    let mut mine: Vec<Var> = model.vars.keys().copied().collect();
    mine.extend(models[next].vars.keys());
    for i in (1..mine.len()).rev() {
        mine.swap(i, rng.below(i + 1));
    }
    let mut wins = 0;
    for var in mine {
        trace.op(format!("free {var}"));
        match mem.free(var) {
            Ok(()) => wins += 1,
            Err(Error::Freed(v)) if v == var => {}
            Err(e) => trace.expect(Err(e), Ok(())),
        }
    }
    let total_vars: usize = models.iter().map(|m| m.vars.len()).sum();
    trace.expect(sum(world, wins), total_vars);
    model.vars.clear();
    check_counts(world, &mem, &model, descriptors, &trace);
    trace.expect(mem.free_slots(), Ok(mem.capacity()));

    let ops = sum(world, counts.ops);
    let oom = sum(world, counts.spurious_oom);
    if rank == 0 {
        eprintln!(
            "kv_model/concurrent: {ops} operations on {size} ranks in {:.1} s, {oom} add(s) out of memory under contention",
            started.elapsed().as_secs_f64()
        );
    }
    mem.quit().unwrap();
});

mpi_test!(fn one_rank_at_a_time_with_exact_capacity(world, 4) {
    let (rank, size) = (world.rank(), world.size());
    let seed = base_seed(world, "exact");
    let config = Config { max_per_slave: 12, vars_per_slave: Some(3) };
    let mem = init_memory_with(world, config).unwrap();
    let (capacity, descriptors) = (mem.capacity(), mem.free_descriptors().unwrap());
    assert_eq!((capacity, descriptors), (36, 9));
    // Host numbers of 2^31 and more once passed the check as negative ranks.
    let far = Var::from_words([0x8000_0000 << 32, 1]);
    assert_eq!(mem.read(&far), Err(Error::InvalidHandle(far)));
    world.barrier();
    let mut rng = Rng::new(seed ^ 0xe4ac7, rank as u64);
    let mut trace = Trace::new(rank);
    let mut model = Model::default();
    let mut errors = BTreeMap::<&str, usize>::new();

    for turn in 0..size {
        let active = turn % size;
        // The others' variables stay put while one rank runs.
        let (others_slots, others_vars) = (
            sum(world, model.used_slots()) - model.used_slots(),
            sum(world, model.vars.len()) - model.vars.len(),
        );
        if rank == active {
            trace.phase = format!("turn {turn}");
            for _ in 0..45 {
                let free = capacity - others_slots - model.used_slots();
                let free_desc = descriptors - others_vars - model.vars.len();
                trace.expect(mem.free_slots(), Ok(free));
                trace.expect(mem.free_descriptors(), Ok(free_desc));
                match rng.below(8) {
                    0..=2 => {
                        let value = if rng.chance(40) {
                            Value::Int(rng.value())
                        } else {
                            Value::List(rng.list(capacity / 2))
                        };
                        let n = slots(&value);
                        trace.op(format!("add {n} slots ({free} free, {free_desc} descriptors)"));
                        let got = mem.add(value.clone());
                        if n > free {
                            *errors.entry("out of memory").or_default() += 1;
                            trace.expect(got, Err(Error::OutOfMemory { requested: n, free, capacity }));
                        } else if free_desc == 0 {
                            *errors.entry("too many variables").or_default() += 1;
                            trace.expect(got, Err(Error::TooManyVariables { capacity: descriptors }));
                        } else {
                            let var = got.unwrap();
                            trace.expect(mem.read(&var), Ok(value.clone()));
                            model.vars.insert(var, value);
                        }
                    }
                    3 => {
                        if let Some(var) = model.pick(&mut rng) {
                            trace.op(format!("free {var}"));
                            trace.expect(mem.free(var), Ok(()));
                            trace.expect(mem.free(var), Err(Error::Freed(var)));
                            model.vars.remove(&var);
                            model.stale.push(var);
                        }
                    }
                    4 if !model.stale.is_empty() => {
                        let var = model.stale[rng.below(model.stale.len())];
                        check_stale(&mem, var, &mut rng, &mut trace);
                    }
                    5 => {
                        let bogus = Var::from_words([rng.value(), rng.value()]);
                        if bogus.host() < 1 || bogus.host() >= size {
                            trace.op(format!("bogus handle {bogus:?}"));
                            let invalid = Error::InvalidHandle(bogus);
                            trace.expect(mem.read(&bogus), Err(invalid.clone()));
                            trace.expect(mem.modify(&bogus, 1, 0), Err(invalid.clone()));
                            trace.expect(mem.free(bogus), Err(invalid.clone()));
                            trace.expect(mem.len(&bogus), Err(invalid));
                        }
                    }
                    6 => {
                        if let Some(var) = model.pick(&mut rng) {
                            let want = model.vars[&var].clone();
                            check_read(&mem, var, &want, &mut trace);
                        }
                    }
                    _ => mutate(&mem, &mut model, &mut rng, &mut trace),
                }
            }
        }
        world.barrier();
    }
    // Every rank frees what it holds, all at once.
    trace.phase = "freeing everything".into();
    for var in std::mem::take(&mut model.vars).into_keys() {
        trace.expect(mem.free(var), Ok(()));
    }
    check_counts(world, &mem, &model, descriptors, &trace);
    let mut total = BTreeMap::new();
    for (what, n) in [("out of memory", 0), ("too many variables", 0)] {
        total.insert(what, sum(world, errors.get(what).copied().unwrap_or(n)));
    }
    if rank == 0 {
        eprintln!("kv_model/exact: errors predicted and seen: {total:?}");
    }
    mem.quit().unwrap();
});
