//! Soak and scale: many lock acquisitions, many dsm-kv modifies, and many
//! replicated arrays created and closed, checked for exact results and for
//! leaks (communicators, windows, memory, file descriptors, mappings).
//!
//! `make test` runs the short versions (seconds on 4 oversubscribed ranks).
//! `RMA_SOAK=long` selects the full counts (`make soak`):
//!
//! | soak                                   | short | long (`RMA_SOAK=long`) |
//! |----------------------------------------|-------|------------------------|
//! | MpiLock acquisitions, total            | 2,000 | 100,000                |
//! | dsm-kv modifies, total                 | 4,000 | 1,000,000              |
//! | MpiShared on one topology              | 60    | 10,000                 |
//! | MpiShared::new on one communicator     | 20    | 1,000                  |
//! | MpiShared (5, 5) alive at once         | 200   | 100,000                |
//! | NodeTopology new + drop (3 comms each) | 20    | limit / 3 + 100        |
//! | MpiLock + dsm-kv new + close (2 comms) | 10    | limit / 2 + 100        |
//!
//! where *limit* is the number of communicators the MPI library can hold at
//! once (measured by duplicating without freeing: 65,532 in Open MPI 4.1,
//! 2,046 in MPICH 4.0), so that a communicator leaked per iteration makes
//! the long run fail.
//!
//! Rank 0 prints one `soak:` line per figure (counts, time, rate, resident
//! memory and descriptors before and after); the parent test echoes them, so
//! `make soak` output can be quoted as is. Times are reported, never
//! asserted. The leak checks compare a probe taken after a warm-up (a tenth
//! of the loop) with one taken at the end.

mod common;

use dsm_kv::{init_memory, Value, Var};
use mpi::topology::SimpleCommunicator;
use mpi::traits::*;
use mpi_lock::MpiLock;
use ndarray::{ArrayD, IxDyn};
use shm_core::window::{LockedWindow, Op, Rma, Window};
use shm_core::{Element, MpiShared, NodeTopology};
use std::io::Write;
use std::sync::Arc;
use std::time::Instant;

/// The counts of one run: short by default, long with `RMA_SOAK=long`.
struct Sizes {
    /// "short" or "long".
    name: &'static str,
    lock_acquisitions: u64,
    modifies: u64,
    arrays: usize,
    arrays_own_topology: usize,
    arrays_alive: usize,
    topologies: usize,
    handles: usize,
}

fn sizes() -> Sizes {
    match std::env::var("RMA_SOAK").as_deref() {
        Ok("long") => Sizes {
            name: "long",
            lock_acquisitions: 100_000,
            modifies: 1_000_000,
            arrays: 10_000,
            arrays_own_topology: 1_000,
            arrays_alive: 100_000,
            topologies: communicator_limit() / 3 + 100,
            handles: communicator_limit() / 2 + 100,
        },
        Ok("") | Ok("short") | Err(_) => Sizes {
            name: "short",
            lock_acquisitions: 2_000,
            modifies: 4_000,
            arrays: 60,
            arrays_own_topology: 20,
            arrays_alive: 200,
            topologies: 20,
            handles: 10,
        },
        Ok(other) => panic!("RMA_SOAK={other}: expected `long` or `short`"),
    }
}

/// How many communicators the MPI library can hold at once (context ids),
/// measured with a loop of `MPI_Comm_dup` without `MPI_Comm_free` on one
/// rank: Open MPI 4.1 fails at 65,532, MPICH 4.0 at 2,046. Others are taken
/// to be like MPICH.
fn communicator_limit() -> usize {
    let version = mpi::environment::library_version().unwrap_or_default();
    if version.contains("Open MPI") {
        65_532
    } else {
        2_046
    }
}

// ----- Leak probes ------------------------------------------------------

/// What a leak would make grow in this process.
#[derive(Debug, Clone, Copy)]
struct Probe {
    /// Resident memory (VmRSS), KiB.
    rss_kib: i64,
    /// Open file descriptors.
    fds: i64,
    /// Memory mappings (a window not freed keeps its segment mapped).
    maps: i64,
    /// Mappings of shared-memory files (`/dev/shm`, Open MPI's session
    /// directory backing files, deleted files): the segments of shared
    /// windows.
    shm_maps: i64,
}

fn probe() -> Probe {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let rss_kib = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(-1);
    let fds = std::fs::read_dir("/proc/self/fd").map_or(-1, |d| d.count() as i64);
    let maps_text = std::fs::read_to_string("/proc/self/maps").unwrap_or_default();
    let maps = maps_text.lines().count() as i64;
    let shm_maps = maps_text
        .lines()
        .filter(|l| l.contains("/dev/shm") || l.contains("(deleted)") || l.contains("/ompi."))
        .count() as i64;
    Probe {
        rss_kib,
        fds,
        maps,
        shm_maps,
    }
}

/// The largest growth from `before` to `after` over the ranks (collective).
fn growth(world: &SimpleCommunicator, before: Probe, after: Probe) -> Probe {
    let mine = [
        after.rss_kib - before.rss_kib,
        after.fds - before.fds,
        after.maps - before.maps,
        after.shm_maps - before.shm_maps,
    ];
    let mut max = [0i64; 4];
    world.all_reduce_into(
        &mine[..],
        &mut max[..],
        mpi::collective::SystemOperation::max(),
    );
    Probe {
        rss_kib: max[0],
        fds: max[1],
        maps: max[2],
        shm_maps: max[3],
    }
}

/// Fails (on every rank, with the same numbers) when a probe grew by more
/// than noise between the warm-up and the end, and prints the figures.
fn check_no_leak(world: &SimpleCommunicator, what: &str, before: Probe, after: Probe) {
    let grew = growth(world, before, after);
    report(
        world,
        &format!(
            "{what}: rank 0 VmRSS {} -> {} KiB, fds {} -> {}, maps {} -> {}, shm maps {} -> {}; \
             largest growth on any rank: {} KiB, {} fds, {} maps, {} shm maps",
            before.rss_kib,
            after.rss_kib,
            before.fds,
            after.fds,
            before.maps,
            after.maps,
            before.shm_maps,
            after.shm_maps,
            grew.rss_kib,
            grew.fds,
            grew.maps,
            grew.shm_maps
        ),
    );
    // Generous bounds: allocator noise and MPI's lazily grown pools are fine,
    // a leak per iteration (a window, a communicator, a segment) is not.
    assert!(
        grew.rss_kib < 16 * 1024,
        "{what}: resident memory grew by {} KiB",
        grew.rss_kib
    );
    assert!(grew.fds <= 2, "{what}: {} more file descriptors", grew.fds);
    assert!(
        grew.maps <= 16,
        "{what}: {} more memory mappings",
        grew.maps
    );
    assert!(
        grew.shm_maps <= 2,
        "{what}: {} more shared-memory mappings",
        grew.shm_maps
    );
}

/// Prints a `soak:` line from rank 0.
fn report(world: &SimpleCommunicator, line: &str) {
    if world.rank() == 0 {
        println!("soak: [{}, {} ranks] {line}", sizes().name, world.size());
        let _ = std::io::stdout().flush();
    }
}

/// The slowest rank's elapsed time (collective).
fn elapsed_max(world: &SimpleCommunicator, started: Instant) -> f64 {
    let mine = started.elapsed().as_secs_f64();
    let mut max = 0f64;
    world.all_reduce_into(&mine, &mut max, mpi::collective::SystemOperation::max());
    max
}

// ----- The harness --------------------------------------------------------

/// Like `mpi_test!`, but the parent also echoes the `soak:` lines of rank 0,
/// which `mpi_test!` only shows on failure.
macro_rules! soak_test {
    (fn $name:ident($world:ident, $np:expr) $body:block) => {
        #[test]
        fn $name() {
            if common::is_child() {
                common::run_child(|$world| $body);
            } else {
                common::launch_echoing(stringify!($name), $np, Some("soak:"));
            }
        }
    };
}

// ----- MpiLock: an exact counter -------------------------------------------

soak_test!(fn lock_exact_counter(world, 4) {
    let total = sizes().lock_acquisitions;
    let n = world.size() as u64;
    let per_rank = total / n + u64::from((world.rank() as u64) < total % n);
    let lock = MpiLock::new(world).unwrap();
    // Word 0 of rank 0: the counter; word 1: how many ranks are inside.
    let counter: LockedWindow<i64> = Window::allocate(world, 2).unwrap().into_locked(true).unwrap();
    let warmup = per_rank / 10;
    let mut before = probe();
    world.barrier();
    let started = Instant::now();
    for i in 0..per_rank {
        if i == warmup {
            before = probe();
        }
        // Mostly lock(); every tenth acquisition by polling try_lock.
        let guard = if i % 10 == 9 {
            loop {
                if let Some(g) = lock.try_lock().unwrap() {
                    break g;
                }
                std::thread::yield_now();
            }
        } else {
            lock.lock().unwrap()
        };
        assert_eq!(counter.fetch_and_op(0, 1, 1, Op::Sum).unwrap(), 0, "two ranks inside the lock");
        // A plain get, +1, put: only exact under mutual exclusion.
        let mut value = [0i64];
        counter.get(0, 0, &mut value).unwrap();
        counter.flush(0).unwrap();
        value[0] += 1;
        counter.put(0, 0, &value).unwrap();
        counter.flush(0).unwrap();
        // Now and then give the core away while holding the lock, so that
        // the other ranks queue up behind it (contended hand-offs).
        if i % 4 == 0 {
            std::thread::yield_now();
        }
        assert_eq!(counter.fetch_and_op(0, 1, -1, Op::Sum).unwrap(), 1);
        counter.flush(0).unwrap();
        guard.unlock().unwrap();
    }
    let secs = elapsed_max(world, started);
    let after = probe();
    world.barrier();
    let final_value = counter.fetch_and_op(0, 0, 0, Op::NoOp).unwrap();
    assert_eq!(final_value as u64, total, "lost increments");
    let stats = lock.stats();
    assert_eq!(stats.acquisitions, per_rank);
    // Hand-offs (a flush after writing a successor's flag or our link) show
    // how often the lock was contended.
    let mine = [stats.remote_ops, stats.remote_flushes, stats.failed_tries];
    let mut all = [0u64; 3];
    world.all_reduce_into(&mine[..], &mut all[..], mpi::collective::SystemOperation::sum());
    report(world, &format!(
        "MpiLock: {total} acquisitions, counter = {final_value} (exact), {secs:.2} s, {:.0} acquisitions/s; \
         {:.2} remote ops per acquisition, {} remote flushes (queued hand-offs), {} failed try_lock",
        total as f64 / secs,
        all[0] as f64 / total as f64,
        all[1],
        all[2]
    ));
    check_no_leak(world, "MpiLock", before, after);
    drop(counter);
    lock.close().unwrap();
});

// ----- dsm-kv: modifies, nothing lost ----------------------------------------

/// Elements of the shared list each rank owns (disjoint index ranges).
const OWNED: usize = 30;
/// Every `INT_EVERY`-th modify of a rank goes to its integer variable.
const INT_EVERY: u64 = 8;
/// A rank reads the whole list back every `READ_EVERY` modifies.
const READ_EVERY: u64 = 64;
/// A rank adds and frees a small list every `CHURN_EVERY` modifies.
const CHURN_EVERY: u64 = 256;
const SEQ_BITS: u32 = 40;

/// Rank 0's variables, on every rank.
fn share_vars(world: &SimpleCommunicator, vars: &[Var], count: usize) -> Vec<Var> {
    let mut words = vec![0i64; 2 * count];
    if world.rank() == 0 {
        for (w, v) in words.chunks_mut(2).zip(vars) {
            w.copy_from_slice(&v.to_words());
        }
    }
    world.process_at_rank(0).broadcast_into(&mut words[..]);
    words
        .chunks(2)
        .map(|w| Var::from_words([w[0], w[1]]))
        .collect()
}

/// How many writes each element of `rank`'s range and its integer receive
/// from `modifies` modifies: (per element, integer).
fn expected_writes(modifies: u64) -> (Vec<u64>, u64) {
    let mut per_element = vec![0u64; OWNED];
    let mut ints = 0;
    let mut list_writes = 0usize;
    for i in 0..modifies {
        if i % INT_EVERY == INT_EVERY - 1 {
            ints += 1;
        } else {
            per_element[list_writes % OWNED] += 1;
            list_writes += 1;
        }
    }
    (per_element, ints)
}

soak_test!(fn kv_modifies_nothing_lost(world, 4) {
    let total = sizes().modifies;
    let (rank, size) = (world.rank() as usize, world.size() as usize);
    let per_rank = |r: usize| total / size as u64 + u64::from((r as u64) < total % size as u64);
    let mine = per_rank(rank);
    // 48 slots per host: the list of 4 x 30 elements spans all three hosts.
    let mem = init_memory(world, 48).unwrap();
    let start_slots = mem.free_slots().unwrap();
    let start_descs = mem.free_descriptors().unwrap();
    assert_eq!(start_slots, mem.capacity());
    // Nobody adds before every rank has read the empty memory.
    world.barrier();
    // Variable 0: the list; 1..=size: each rank's integer.
    let created = if mem.is_master() {
        let mut v = vec![mem.add(vec![0i64; OWNED * size]).unwrap()];
        for _ in 0..size {
            v.push(mem.add(0).unwrap());
        }
        v
    } else {
        Vec::new()
    };
    let vars = share_vars(world, &created, size + 1);
    let (list, ints) = (vars[0], &vars[1..]);
    let hosts_of_list = {
        let mut h: Vec<i32> = mem.placement(&list).unwrap().iter().map(|e| e.host).collect();
        h.sort_unstable();
        h.dedup();
        h.len()
    };
    let encode = |owner: usize, seq: u64| ((owner as i64) << SEQ_BITS) | seq as i64;
    let decode = |v: i64| ((v >> SEQ_BITS) as usize, (v & ((1 << SEQ_BITS) - 1)) as u64);
    let mut my_seq = vec![0u64; OWNED];
    let mut my_int = 0u64;
    let mut seen = vec![0u64; OWNED * size];
    let mut seen_int = vec![0u64; size];
    let (mut list_writes, mut reads, mut churns) = (0usize, 0u64, 0u64);
    let warmup = mine / 10;
    let mut before = probe();
    world.barrier();
    let started = Instant::now();
    for i in 0..mine {
        if i == warmup {
            before = probe();
        }
        if i % INT_EVERY == INT_EVERY - 1 {
            my_int += 1;
            assert!(mem.modify(&ints[rank], my_int as i64, 0).unwrap());
        } else {
            let k = list_writes % OWNED;
            list_writes += 1;
            my_seq[k] += 1;
            assert!(mem.modify(&list, encode(rank, my_seq[k]), rank * OWNED + k).unwrap());
        }
        if i % READ_EVERY == READ_EVERY - 1 {
            reads += 1;
            let values = match mem.read(&list).unwrap() {
                Value::List(v) => v,
                other => panic!("the list reads as {other}"),
            };
            for (j, &v) in values.iter().enumerate() {
                let (owner, seq) = decode(v);
                let owner_ok = seq == 0 && v == 0 || owner == j / OWNED;
                assert!(owner_ok, "element {j} holds {v:#x}, written by rank {owner}");
                assert!(seq >= seen[j], "element {j} went back from {} to {seq}", seen[j]);
                if j / OWNED == rank {
                    assert_eq!(seq, my_seq[j % OWNED], "element {j} lost this rank's write");
                }
                seen[j] = seq;
            }
            for (r, var) in ints.iter().enumerate() {
                let v = mem.read(var).unwrap().as_int().unwrap() as u64;
                assert!(v >= seen_int[r], "integer of rank {r} went back from {} to {v}", seen_int[r]);
                if r == rank {
                    assert_eq!(v, my_int, "this rank's integer lost a write");
                }
                seen_int[r] = v;
            }
        }
        if i % CHURN_EVERY == CHURN_EVERY - 1 {
            churns += 1;
            let tmp = mem.add(vec![rank as i64, i as i64, -1]).unwrap();
            assert_eq!(mem.read(&tmp).unwrap(), Value::List(vec![rank as i64, i as i64, -1]));
            mem.free(tmp).unwrap();
        }
    }
    let secs = elapsed_max(world, started);
    let after = probe();
    world.barrier();
    // Every element holds the last write of its owner, and the sequence
    // numbers add up to every modify made.
    let values = mem.read(&list).unwrap().into_vec();
    let mut accounted = 0u64;
    for r in 0..size {
        let (per_element, int_writes) = expected_writes(per_rank(r));
        for (k, &n) in per_element.iter().enumerate() {
            let v = values[r * OWNED + k];
            let expect = if n == 0 { 0 } else { encode(r, n) };
            assert_eq!(v, expect, "element {} of rank {r}", r * OWNED + k);
            accounted += decode(v).1;
        }
        let v = mem.read(&ints[r]).unwrap().as_int().unwrap() as u64;
        assert_eq!(v, int_writes, "integer of rank {r}");
        accounted += v;
    }
    assert_eq!(accounted, total, "modifies lost");
    let mut all_reads = 0u64;
    world.all_reduce_into(&reads, &mut all_reads, mpi::collective::SystemOperation::sum());
    let mut all_churns = 0u64;
    world.all_reduce_into(&churns, &mut all_churns, mpi::collective::SystemOperation::sum());
    report(world, &format!(
        "dsm-kv: {total} modifies (list of {} elements on {hosts_of_list} hosts + {size} integers), \
         all accounted for; {all_reads} verifying reads, {all_churns} add/free; {secs:.2} s, {:.0} modifies/s",
        OWNED * size,
        total as f64 / secs
    ));
    world.barrier();
    if mem.is_master() {
        for var in &vars {
            mem.free(*var).unwrap();
        }
    }
    world.barrier();
    assert_eq!(mem.free_slots().unwrap(), start_slots, "slots leaked");
    assert_eq!(mem.free_descriptors().unwrap(), start_descs, "descriptors leaked");
    check_no_leak(world, "dsm-kv", before, after);
    mem.quit().unwrap();
});

// ----- MpiShared: create, set, view, close -----------------------------------

/// The shape of array `i`: 1-, 2- and 3-dimensional, sizes varying, now and
/// then a large one (512 KiB of f64) so that a leaked segment would show in
/// the resident memory.
fn shape_of(i: usize) -> Vec<usize> {
    if i % 50 == 49 {
        return vec![64, 1024];
    }
    match i % 3 {
        0 => vec![1 + i % 97],
        1 => vec![2 + i % 5, 3 + i % 7],
        _ => vec![2, 1 + i % 4, 3 + i % 11],
    }
}

/// Creates array `i`, writes it whole from rank `i % size`, checks every
/// element on every rank, closes it.
fn cycle<T: Element + std::fmt::Debug>(
    world: &SimpleCommunicator,
    topology: Option<&Arc<NodeTopology>>,
    i: usize,
    value: impl Fn(usize) -> T,
) {
    let shape = shape_of(i);
    let mut shm = match topology {
        Some(t) => MpiShared::<T>::with_topology(&shape, t.clone()).unwrap(),
        None => MpiShared::<T>::new(&shape, world).unwrap(),
    };
    let len: usize = shape.iter().product();
    let source = (i % world.size() as usize) as i32;
    let data =
        ArrayD::from_shape_vec(IxDyn(&shape), (0..len).map(|k| value(i + k)).collect()).unwrap();
    let offset = vec![0; shape.len()];
    shm.set((world.rank() == source).then_some(&data), &offset, source)
        .unwrap();
    let view = shm.view();
    for (k, x) in view.iter().enumerate() {
        assert_eq!(*x, value(i + k), "array {i} (shape {shape:?}), element {k}");
    }
    shm.close().unwrap();
}

/// Runs `body(i)` for `i` in `0..count` after a barrier, and returns the
/// slowest rank's time and the leak probes taken after the warm-up (a tenth
/// of the loop) and at the end.
fn probed_loop(
    world: &SimpleCommunicator,
    count: usize,
    mut body: impl FnMut(usize),
) -> (f64, Probe, Probe) {
    let mut before = probe();
    world.barrier();
    let started = Instant::now();
    for i in 0..count {
        if i == count / 10 {
            before = probe();
        }
        body(i);
    }
    let secs = elapsed_max(world, started);
    (secs, before, probe())
}

fn array_loop(
    world: &SimpleCommunicator,
    topology: Option<&Arc<NodeTopology>>,
    count: usize,
) -> (f64, Probe, Probe) {
    probed_loop(world, count, |i| match i % 3 {
        0 => cycle(world, topology, i, |k| k as f64 * 0.5),
        1 => cycle(world, topology, i, |k| k as i32 - 7),
        _ => cycle(world, topology, i, |k| (k % 251) as u8),
    })
}

soak_test!(fn shared_arrays_create_and_close(world, 4) {
    let count = sizes().arrays;
    let topology = Arc::new(NodeTopology::new(world).unwrap());
    let (secs, before, after) = array_loop(world, Some(&topology), count);
    // Every array released its share of the topology.
    assert_eq!(Arc::strong_count(&topology), 1);
    report(world, &format!(
        "MpiShared::with_topology: {count} arrays created, set, checked and closed on one topology \
         ({} node(s)), {secs:.2} s, {:.0} arrays/s",
        topology.nodes(),
        count as f64 / secs
    ));
    check_no_leak(world, "MpiShared::with_topology", before, after);
});

soak_test!(fn shared_arrays_on_one_communicator(world, 4) {
    // MpiShared::new finds the topology cached on the communicator: a
    // topology made per array would exhaust MPICH's context ids (2,048
    // communicators) well before the long count.
    let count = sizes().arrays_own_topology;
    let comms = shm_core::census::alive().0;
    let (secs, before, after) = array_loop(world, None, count);
    assert!(shm_core::census::alive().0 <= comms + 3, "communicators made per array");
    report(world, &format!(
        "MpiShared::new: {count} arrays on one communicator (its cached NodeTopology), \
         {secs:.2} s, {:.0} arrays/s",
        count as f64 / secs
    ));
    check_no_leak(world, "MpiShared::new", before, after);
});

soak_test!(fn shared_arrays_alive_at_once(world, 4) {
    // Every array set from its own rank and read back while all are alive;
    // half closed in random order and made again (fragmentation), then all
    // closed. MPICH 4.0 used to stop at 511 arrays, then abort.
    let count = sizes().arrays_alive;
    // A first round leaves the pool with its spare window, as the second
    // will: the probes compare the two ends.
    common::arrays::live_arrays(world, count);
    let windows = shm_core::census::alive().1;
    let before = probe();
    let started = Instant::now();
    let live = common::arrays::live_arrays(world, count);
    let secs = elapsed_max(world, started);
    let after = probe();
    assert_eq!(shm_core::census::alive().1, windows, "windows leaked");
    report(world, &format!(
        "MpiShared: {count} (5, 5) arrays alive at once, created and set in {:.2} s \
         (rank 0), {secs:.2} s in all with checks, refills and closes; the pool held {} windows \
         of {} bytes",
        live.created_secs, live.chunks, live.bytes
    ));
    check_no_leak(world, "MpiShared alive at once", before, after);
});

soak_test!(fn topologies_free_their_communicators(world, 4) {
    // Each NodeTopology owns three communicators (a duplicate, the node
    // split and the rank split); the long count creates more than the
    // library can hold at once.
    let count = sizes().topologies;
    let (secs, before, after) = probed_loop(world, count, |_| {
        let topology = NodeTopology::new(world).unwrap();
        assert_eq!(topology.comm().size(), world.size());
        assert_eq!(topology.node_sizes().iter().sum::<usize>(), world.size() as usize);
    });
    report(world, &format!(
        "NodeTopology: {count} created and dropped ({} communicators; the library holds at most {}), \
         {secs:.2} s, {:.0} topologies/s",
        3 * count,
        communicator_limit(),
        count as f64 / secs
    ));
    check_no_leak(world, "NodeTopology", before, after);
});

// ----- MpiLock and DistributedMemory handles --------------------------------

soak_test!(fn lock_and_memory_handles(world, 4) {
    // Each MpiLock and each memory owns a communicator and a window.
    let count = sizes().handles;
    let (secs, before, after) = probed_loop(world, count, |i| {
        let lock = MpiLock::new(world).unwrap();
        drop(lock.lock().unwrap());
        lock.close().unwrap();
        let mem = init_memory(world, 4).unwrap();
        if world.rank() == (i % world.size() as usize) as i32 {
            let v = mem.add(vec![i as i64; 3]).unwrap();
            assert_eq!(mem.read(&v).unwrap().into_vec(), vec![i as i64; 3]);
            mem.free(v).unwrap();
        }
        mem.quit().unwrap();
    });
    report(world, &format!(
        "handles: {count} x (MpiLock new/lock/close + dsm-kv init/add/free/quit) ({} communicators, \
         {} windows), {secs:.2} s, {:.0} pairs/s",
        2 * count,
        2 * count,
        count as f64 / secs
    ));
    check_no_leak(world, "MpiLock + dsm-kv handles", before, after);
});
