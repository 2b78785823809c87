//! Checks the multi-node test bed itself (scripts/multinode, docs/multinode.md):
//! that MPI sees every test host as a node of its own, and that `MpiShared`
//! keeps one copy per host.
//!
//! Runs only on the bed, where `RMA_MULTINODE_HOSTS` says how many hosts the
//! launcher spreads the ranks over (two ranks per host); elsewhere the test
//! passes with a message saying it was skipped.

mod common;

use mpi::traits::*;
use shm_core::{MpiShared, NodeTopology};
use std::io::Write;

const HOSTS_VAR: &str = "RMA_MULTINODE_HOSTS";
const RANKS_PER_HOST: usize = 2;
const NAME_LEN: usize = 64;

/// The number of hosts of the bed, or `None` when not on the bed.
fn bed_hosts() -> Option<usize> {
    let value = std::env::var(HOSTS_VAR).ok()?;
    match value.parse() {
        Ok(n) if n >= 2 => Some(n),
        _ => panic!("{HOSTS_VAR}={value:?}: expected a number of hosts, at least 2"),
    }
}

/// What identifies the machine a rank runs on: MPI's processor name and the
/// rank's network namespace.
fn whereabouts() -> ([u8; NAME_LEN], u64) {
    let name = mpi::environment::processor_name().expect("processor name");
    assert!(name.len() <= NAME_LEN, "processor name too long: {name}");
    let mut fixed = [0u8; NAME_LEN];
    fixed[..name.len()].copy_from_slice(name.as_bytes());
    // The link reads "net:[inode]".
    let link = std::fs::read_link("/proc/self/ns/net").expect("read /proc/self/ns/net");
    let inode = link
        .to_string_lossy()
        .trim_start_matches("net:[")
        .trim_end_matches(']')
        .parse()
        .expect("network namespace inode");
    (fixed, inode)
}

fn name_of(fixed: &[u8]) -> String {
    String::from_utf8_lossy(fixed)
        .trim_end_matches('\0')
        .to_string()
}

fn one_node_per_host(world: &mpi::topology::SimpleCommunicator) {
    let hosts = bed_hosts().expect("the launcher passes the environment to the ranks");
    let size = world.size() as usize;
    assert_eq!(
        size,
        hosts * RANKS_PER_HOST,
        "the bed runs two ranks per host"
    );

    // MPI_Comm_split_type(SHARED) yields one group per host.
    let node = world.split_shared(world.rank());
    assert_eq!(node.size() as usize, RANKS_PER_HOST);
    let mut node_id = world.rank();
    node.all_reduce_into(
        &world.rank(),
        &mut node_id,
        mpi::collective::SystemOperation::min(),
    );
    let mut node_ids = vec![0i32; size];
    world.all_gather_into(&node_id, &mut node_ids[..]);

    // Ranks in one group share a host name and a network namespace; ranks of
    // different groups share neither.
    let (name, netns) = whereabouts();
    let mut names = vec![0u8; size * NAME_LEN];
    world.all_gather_into(&name[..], &mut names[..]);
    let mut namespaces = vec![0u64; size];
    world.all_gather_into(&netns, &mut namespaces[..]);
    let names: Vec<String> = names.chunks(NAME_LEN).map(name_of).collect();
    for a in 0..size {
        assert!(
            names[a].starts_with("rma-h"),
            "rank {a} runs on {:?}",
            names[a]
        );
        for b in 0..size {
            let same_node = node_ids[a] == node_ids[b];
            assert_eq!(
                same_node,
                names[a] == names[b],
                "ranks {a} and {b}: nodes {node_ids:?}, names {names:?}"
            );
            assert_eq!(
                same_node,
                namespaces[a] == namespaces[b],
                "ranks {a} and {b}: nodes {node_ids:?}, network namespaces {namespaces:?}"
            );
        }
    }
    let mut distinct = names.clone();
    distinct.sort();
    distinct.dedup();
    assert_eq!(distinct.len(), hosts, "{names:?}");

    // The default topology finds the hosts; the leader communicator has one
    // process per host.
    let topology = NodeTopology::new(world).unwrap();
    assert_eq!(
        (topology.nodes(), topology.procs_per_node()),
        (hosts, Some(RANKS_PER_HOST))
    );
    let leader_size = topology.leader_comm().map_or(0, |l| l.size() as i64);
    let mut leaders = 0i64;
    world.all_reduce_into(
        &i64::from(leader_size > 0),
        &mut leaders,
        mpi::collective::SystemOperation::sum(),
    );
    assert_eq!(leaders as usize, hosts);
    assert!(leader_size == 0 || leader_size as usize == hosts);

    // MpiShared keeps one copy per host; a write from any rank reaches every
    // copy.
    let mut shm = MpiShared::<i64>::new(&[size, 4], world).unwrap();
    let text = shm.to_string();
    assert!(
        text.contains(&format!(
            "replicated on {hosts} nodes, each with {RANKS_PER_HOST} processes"
        )),
        "{text}"
    );
    for p in 0..size as i32 {
        let row = ndarray::Array2::from_shape_fn((1, 4), |(_, j)| i64::from(p) * 10 + j as i64);
        shm.set((world.rank() == p).then_some(&row), &[p as usize, 0], p)
            .unwrap();
    }
    let view = shm.view();
    for p in 0..size {
        for j in 0..4 {
            assert_eq!(
                view[[p, j]],
                p as i64 * 10 + j as i64,
                "on {}",
                names[world.rank() as usize]
            );
        }
    }
    shm.close().unwrap();
}

#[test]
fn every_host_is_a_separate_node() {
    if common::is_child() {
        common::run_child(one_node_per_host);
        return;
    }
    let Some(hosts) = bed_hosts() else {
        // To the real stderr, past libtest's capture, so that the skip shows.
        let _ = writeln!(
            std::io::stderr(),
            "    every_host_is_a_separate_node: skipped: {HOSTS_VAR} is not set \
             (it runs on the multi-node test bed: make test-multinode)"
        );
        return;
    };
    common::launch("every_host_is_a_separate_node", hosts * RANKS_PER_HOST);
}

/// `RMA_MULTINODE_LAYOUT`: ranks per host, in host order (`3,2`), for
/// [`uneven_hosts_every_source`]; set by `scripts/multinode/run.sh`.
const LAYOUT_VAR: &str = "RMA_MULTINODE_LAYOUT";

fn bed_layout() -> Option<Vec<usize>> {
    let value = std::env::var(LAYOUT_VAR).ok()?;
    let layout: Option<Vec<usize>> = value.split(',').map(|n| n.trim().parse().ok()).collect();
    match layout {
        Some(l) if l.len() >= 2 && l.iter().all(|&n| n > 0) => Some(l),
        _ => panic!("{LAYOUT_VAR}={value:?}: expected ranks per host, such as 3,2"),
    }
}

/// Hosts with different numbers of ranks: the topology finds them as they
/// are, and every rank in turn writes small, large and non-contiguous slabs
/// (by `set` and by `assign`), read back bit-exactly on every rank of every
/// host.
fn uneven_hosts(world: &mpi::topology::SimpleCommunicator) {
    let layout = bed_layout().expect("the launcher passes the environment to the ranks");
    let topology = NodeTopology::of(world).unwrap();
    assert_eq!(topology.node_sizes(), &layout[..], "nodes found on the bed");
    common::arrays::every_source::<i64>(world, &topology, 1);
    common::arrays::every_source::<f32>(world, &topology, 2);
}

#[test]
fn uneven_hosts_every_source() {
    if common::is_child() {
        common::run_child(uneven_hosts);
        return;
    }
    let Some(layout) = bed_layout() else {
        let _ = writeln!(
            std::io::stderr(),
            "    uneven_hosts_every_source: skipped: {LAYOUT_VAR} is not set \
             (it runs on the multi-node test bed: make test-multinode)"
        );
        return;
    };
    common::launch("uneven_hosts_every_source", layout.iter().sum());
}
