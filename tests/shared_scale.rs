//! `MpiShared` at cluster scale: nodes of different sizes, thousands of
//! arrays alive at once, one topology per communicator, and running out of
//! node memory or MPI contexts as an error on every rank.
//!
//! Uneven layouts are emulated on one machine with caller-given node
//! communicators; `tests/multinode.rs` runs real ones on the test bed.

mod common;

use mpi::topology::{Color, SimpleCommunicator};
use mpi::traits::*;
use shm_core::{census, Error, MpiShared, NodeTopology, Resource, SharedWindow};
use std::sync::Arc;

// ----- Every layout, every source ---------------------------------------

/// An emulated layout: its name, and the node of each rank.
type Layout = (&'static str, fn(i32) -> i32);

/// The emulated layouts of 5 ranks.
fn layouts() -> Vec<Layout> {
    vec![
        ("3+2", |r| (r >= 3) as i32),
        ("2+2+1", |r| r / 2),
        ("1+4", |r| (r > 0) as i32),
        ("non-contiguous 3+2", |r| r % 2),
        ("five nodes of one", |r| r),
    ]
}

mpi_test!(fn every_layout_every_source_every_slab(world, 5) {
    for (tag, (name, node_of)) in layouts().into_iter().enumerate() {
        let topology = common::emulated_nodes(world, node_of);
        let mut sizes = vec![0usize; 5];
        for r in 0..5 {
            sizes[node_of(r) as usize] += 1;
        }
        sizes.retain(|&s| s > 0);
        assert_eq!(topology.node_sizes(), &sizes[..], "{name}");
        common::arrays::every_source::<i64>(world, &topology, tag as u32);
        if tag == 0 {
            // 4-byte elements: other slab sizes travel in the agreement.
            common::arrays::every_source::<f32>(world, &topology, tag as u32);
        }
    }
    // Leaders that are not the lowest rank of their node (node rank order
    // reversed), on nodes {0, 1, 2} and {3, 4}.
    let node = world
        .split_by_color_with_key(Color::with_value((world.rank() >= 3) as i32), -world.rank())
        .unwrap();
    let topology = Arc::new(NodeTopology::with_node_comm(world, &node).unwrap());
    assert_eq!(topology.my_place().leader, if world.rank() < 3 { 2 } else { 4 });
    common::arrays::every_source::<i64>(world, &topology, 9);
    // The machine's real node (all five ranks), through the cached topology.
    common::arrays::every_source::<f32>(world, &NodeTopology::of(world).unwrap(), 10);
});

mpi_test!(fn a_node_of_one_next_to_a_node_of_three(world, 4) {
    // pshmem's own layout trouble: a node with a single process.
    let topology = common::emulated_nodes(world, |r| (r > 0) as i32);
    assert_eq!(topology.node_sizes(), &[1, 3]);
    let mut shm = MpiShared::<f64>::with_topology(&[3, 5], topology).unwrap();
    let text = shm.to_string();
    assert!(text.contains("replicated on 2 nodes of 1, 3 processes (4 total)"), "{text}");
    let data = ndarray::array![[1.5, 2.5], [3.5, 4.5]];
    for p in 0..4 {
        shm.set((world.rank() == p).then_some(&data), &[1, p as usize], p).unwrap();
        assert_eq!(shm.get(&[2, p as usize + 1]), Some(4.5));
    }
});

// ----- Thousands of arrays alive at once --------------------------------

mpi_test!(fn ten_thousand_arrays_alive_on_two_ranks(world, 2) {
    common::arrays::live_arrays(world, 10_000);
});

mpi_test!(fn a_thousand_arrays_alive_on_four_ranks(world, 4) {
    common::arrays::live_arrays(world, 1_000);
});

mpi_test!(
    /// The full count at 4 ranks: minutes on MPICH when 4 ranks share 2
    /// cores (each collective call costs milliseconds there), so ignored by
    /// default; `make test-large` runs it.
    #[ignore]
    fn ten_thousand_arrays_alive_on_four_ranks(world, 4) {
        let live = common::arrays::live_arrays(world, 10_000);
        if world.rank() == 0 {
            println!(
                "10,000 arrays alive on 4 ranks: created and set in {:.2} s; pool of {} windows, {} bytes",
                live.created_secs, live.chunks, live.bytes
            );
        }
    }
);

// ----- One topology per communicator -----------------------------------

mpi_test!(fn the_topology_is_found_again_and_goes_with_its_communicator(world, 4) {
    let a = NodeTopology::of(world).unwrap();
    let b = NodeTopology::of(world).unwrap();
    assert!(Arc::ptr_eq(&a, &b));
    let (comms, windows) = census::alive();
    for _ in 0..200 {
        MpiShared::<u8>::new(&[7], world).unwrap().close().unwrap();
    }
    assert_eq!(census::alive().0, comms);
    // One spare chunk at most.
    assert!(census::alive().1 <= windows + 1);

    // A communicator of its own: its topology goes when it is freed, even
    // with an array still alive, which keeps working until it is closed.
    let half = world.split_by_color(Color::with_value(world.rank() % 2)).unwrap();
    let topology = NodeTopology::of(&half).unwrap();
    assert_eq!(topology.comm().size(), 2);
    assert!(!Arc::ptr_eq(&topology, &a));
    drop(topology);
    let mut survivor = MpiShared::<i32>::new(&[4], &half).unwrap();
    drop(half);
    survivor.set((world.rank() < 2).then_some(&ndarray::arr1(&[1, 2, 3, 4])), &[0], 0).unwrap();
    assert_eq!(survivor.get(&[3]), Some(4));
    survivor.close().unwrap();
    assert_eq!(census::alive().0, comms, "the freed communicator's topology stayed");

    // A new communicator, maybe with the freed one's handle, makes its own.
    for round in 0..50 {
        let c = world.split_by_color(Color::with_value(world.rank() / 2)).unwrap();
        let t = NodeTopology::of(&c).unwrap();
        assert_eq!(t.comm().size(), 2, "round {round}");
        MpiShared::<u8>::new(&[1], &c).unwrap().close().unwrap();
    }
    assert_eq!(census::alive().0, comms);
    // Duplicates do not inherit the cache.
    let dup = world.duplicate();
    assert!(!Arc::ptr_eq(&NodeTopology::of(&dup).unwrap(), &a));
});

// ----- Running out -------------------------------------------------------

/// Checks that `result` is the same `Error::Exhausted` on every rank.
fn exhausted_everywhere<T>(
    world: &SimpleCommunicator,
    result: Result<T, Error>,
    resource: Resource,
) -> String {
    let message = match result {
        Err(Error::Exhausted {
            resource: r,
            message,
            ..
        }) if r == resource => message,
        Err(e) => panic!(
            "rank {}: expected {resource} to run out, got {e}",
            world.rank()
        ),
        Ok(_) => panic!(
            "rank {}: expected {resource} to run out, got Ok",
            world.rank()
        ),
    };
    let mut len = message.len() as u64;
    world.process_at_rank(0).broadcast_into(&mut len);
    let mut root = message.clone().into_bytes();
    root.resize(len as usize, 0);
    world.process_at_rank(0).broadcast_into(&mut root[..]);
    assert_eq!(
        root,
        message.as_bytes(),
        "rank {} got another message",
        world.rank()
    );
    message
}

mpi_test!(fn more_node_memory_than_the_node_has_is_an_error_everywhere(world, 4) {
    let mut keep = MpiShared::<f64>::new(&[1000], world).unwrap();
    let ones = ndarray::Array1::<f64>::ones(1000);
    keep.set((world.rank() == 1).then_some(&ones), &[0], 1).unwrap();
    let windows = census::alive().1;
    // 1 TiB, then 32 GiB: more than /dev/shm and the memory of this node.
    for bytes in [1usize << 40, 32 << 30] {
        let message = exhausted_everywhere(
            world,
            MpiShared::<u8>::new(&[bytes], world),
            Resource::NodeMemory,
        );
        assert!(message.contains("cannot allocate"), "{message}");
        assert_eq!(census::alive().1, windows, "a window was left behind");
    }
    // On emulated nodes too: the error reaches the other node.
    let topology = common::two_emulated_nodes(world);
    exhausted_everywhere(
        world,
        MpiShared::<u8>::with_topology(&[1 << 40], topology.clone()),
        Resource::NodeMemory,
    );
    assert_eq!(keep.view().sum(), 1000.0);
    let mut after = MpiShared::<u8>::with_topology(&[10], topology).unwrap();
    after.set((world.rank() == 3).then_some(&ndarray::arr1(&[9u8])), &[9], 3).unwrap();
    assert_eq!(after.get(&[9]), Some(9));
});

mpi_test!(fn mpi_running_out_of_windows_is_an_error_everywhere(world, 2) {
    // Every window takes a communicator context: MPICH has about 2,000 and
    // aborts inside MPI_Win_allocate_shared when they are gone; Open MPI has
    // 65,532. Create windows until the toolkit refuses (or 3,000 exist).
    let mut windows = Vec::new();
    let refused = loop {
        match SharedWindow::<u8>::allocate_shared(world, 1) {
            Ok(w) => windows.push(w),
            Err(e) => break Some(e),
        }
        if windows.len() == 3_000 {
            break None;
        }
    };
    let version = mpi::environment::library_version().unwrap_or_default();
    match refused {
        Some(e) => {
            let message = exhausted_everywhere(world, Err::<(), _>(e), Resource::MpiContexts);
            assert!(message.contains("windows"), "{message}");
            if world.rank() == 0 {
                println!("refused window {} of this test: {message}", windows.len() + 1);
            }
        }
        // Open MPI (65,532 contexts) and Intel MPI have room for more.
        None => assert!(
            !version.contains("MPICH"),
            "{version}: 3,000 windows and no refusal, where MPICH has 2,048 contexts"
        ),
    }
    drop(windows);
    // Everything works again.
    let mut shm = MpiShared::<i64>::new(&[3], world).unwrap();
    shm.set((world.rank() == 1).then_some(&ndarray::arr1(&[5i64])), &[2], 1).unwrap();
    assert_eq!(shm.get(&[2]), Some(5));
});
