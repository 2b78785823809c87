//! `MpiShared` on real MPI processes: replication, communicators, node
//! layouts, zero sizes, and collective errors for every kind of bad input.

mod common;

use mpi::topology::{Color, SimpleCommunicator};
use mpi::traits::*;
use ndarray::{ArrayD, IxDyn};
use shm_core::{Element, Error, MpiShared, NodeTopology, Slab};
use std::sync::Arc;

/// Values that tests can build from small integers, bit-exactly.
trait TestValue: Element {
    fn from_i32(x: i32) -> Self;
}
macro_rules! test_values {
    ($($t:ty),*) => { $(impl TestValue for $t { fn from_i32(x: i32) -> Self { x as $t } })* };
}
test_values!(i32, i64, f32, f64);

const SHAPE: [usize; 3] = [2, 5, 10];

/// Every rank in turn writes a slab of values derived from its rank, by
/// `set` (`by_assign == false`) or by `assign`; after each write every rank
/// compares the whole array bit-exactly against its own model.
fn rank_slabs<T: TestValue>(
    comm: &SimpleCommunicator,
    topology: Option<Arc<NodeTopology>>,
    by_assign: bool,
) {
    let mut shm = match topology {
        Some(t) => MpiShared::<T>::with_topology(&SHAPE, t).unwrap(),
        None => MpiShared::<T>::new(&SHAPE, comm).unwrap(),
    };
    let mut model = ArrayD::<T>::from_elem(IxDyn(&SHAPE), T::from_i32(0));
    assert_eq!(shm.view(), model.view());
    for p in 0..comm.size() {
        let offset = [p as usize % 2, p as usize % 4, (p as usize * 2) % 6];
        let slab = ArrayD::from_shape_fn(IxDyn(&[1, 2, 5]), |i| {
            T::from_i32(p * 100 + (i[1] * 5 + i[2]) as i32)
        });
        let mine = (comm.rank() == p).then_some(&slab);
        if by_assign {
            shm.assign(mine, &offset).unwrap();
        } else {
            shm.set(mine, &offset, p).unwrap();
        }
        model
            .slice_each_axis_mut(|ax| {
                let o = offset[ax.axis.index()];
                ndarray::Slice::from(o..o + slab.shape()[ax.axis.index()])
            })
            .assign(&slab);
        let view = shm.view();
        for (a, b) in view.iter().zip(model.iter()) {
            assert_eq!(
                bytemuck::bytes_of(a),
                bytemuck::bytes_of(b),
                "rank {} after write from {p}",
                comm.rank()
            );
        }
    }
    shm.close().unwrap();
}

fn all_types(comm: &SimpleCommunicator, topology: impl Fn() -> Option<Arc<NodeTopology>>) {
    for by_assign in [false, true] {
        rank_slabs::<i32>(comm, topology(), by_assign);
        rank_slabs::<i64>(comm, topology(), by_assign);
        rank_slabs::<f32>(comm, topology(), by_assign);
        rank_slabs::<f64>(comm, topology(), by_assign);
    }
}

mpi_test!(fn every_rank_writes_on_world(world, 4) {
    all_types(world, || None);
});

mpi_test!(fn every_rank_writes_on_comm_self(world, 4) {
    let me = SimpleCommunicator::self_comm();
    all_types(&me, || None);
    let _ = world;
});

mpi_test!(fn every_rank_writes_on_a_split_communicator(world, 4) {
    let half = world.split_by_color(Color::with_value(world.rank() % 2)).unwrap();
    all_types(&half, || None);
});

mpi_test!(fn every_rank_writes_on_two_emulated_nodes(world, 4) {
    let topology = common::two_emulated_nodes(world);
    assert_eq!((topology.nodes(), topology.procs_per_node()), (2, Some(2)));
    all_types(world, || Some(topology.clone()));
    // A slab that is not contiguous in the array goes through the staging path.
    let mut shm = MpiShared::<f64>::with_topology(&[64, 3], topology.clone()).unwrap();
    let column = ndarray::Array2::from_shape_fn((64, 1), |(i, _)| i as f64);
    shm.set((world.rank() == 3).then_some(&column), &[0, 2], 3).unwrap();
    let view = shm.view();
    assert!((0..64).all(|i| view[[i, 2]] == i as f64 && view[[i, 0]] == 0.0));
});

mpi_test!(fn display_names_nodes_shape_and_values(world, 4) {
    let topology = common::two_emulated_nodes(world);
    let mut shm = MpiShared::<f64>::with_topology(&[3, 5], topology).unwrap();
    let data = ndarray::array![[0., 1., 2.], [3., 4., 5.]];
    shm.set((world.rank() == 0).then_some(&data), &[1, 1], 0).unwrap();
    let text = shm.to_string();
    assert!(text.contains("replicated on 2 nodes, each with 2 processes (4 total)"), "{text}");
    assert!(text.contains("shape = (3, 5), dtype = float64"), "{text}");
    assert!(text.contains("[ 0.0 0.0 0.0 ... 4.0 5.0 0.0 ]"), "{text}");
    assert_eq!(shm.get(&[2, 3]), Some(5.0));
});

mpi_test!(fn zero_sized_arrays(world, 4) {
    for shape in [vec![0usize], vec![3, 0, 2], vec![0, 0]] {
        let mut shm = MpiShared::<i64>::new(&shape, world).unwrap();
        assert_eq!(shm.len(), 0);
        assert_eq!(shm.view().len(), 0);
        let empty = ArrayD::<i64>::zeros(IxDyn(&vec![0; shape.len()]));
        shm.set((world.rank() == 1).then_some(&empty), &vec![0; shape.len()], 1).unwrap();
        shm.close().unwrap();
    }
    // Zero-sized arrays on emulated nodes too.
    let topology = common::two_emulated_nodes(world);
    let shm = MpiShared::<u8>::with_topology(&[0], topology).unwrap();
    assert!(shm.is_empty());
});

mpi_test!(fn many_arrays_reuse_one_topology(world, 4) {
    let topology = Arc::new(NodeTopology::new(world).unwrap());
    for i in 0..60 {
        let mut shm = MpiShared::<u32>::with_topology(&[16], topology.clone()).unwrap();
        shm.set((world.rank() == i % 4).then_some(&ndarray::arr1(&[i as u32])), &[15], i % 4).unwrap();
        assert_eq!(shm.get(&[15]), Some(i as u32));
    }
});

/// Checks that `result` is the same `Error::Invalid` on every rank.
fn same_error_everywhere<T: std::fmt::Debug>(
    world: &SimpleCommunicator,
    result: Result<T, Error>,
    expect: &str,
) {
    let message = match result {
        Err(Error::Invalid { message, .. }) => message,
        other => panic!(
            "rank {}: expected an Invalid error containing {expect:?}, got {other:?}",
            world.rank()
        ),
    };
    assert!(
        message.contains(expect),
        "rank {}: {message:?} does not contain {expect:?}",
        world.rank()
    );
    let mut root_message = message.clone().into_bytes();
    let mut len = root_message.len() as u64;
    world.process_at_rank(0).broadcast_into(&mut len);
    root_message.resize(len as usize, 0);
    world
        .process_at_rank(0)
        .broadcast_into(&mut root_message[..]);
    assert_eq!(
        root_message,
        message.as_bytes(),
        "rank {} got a different message",
        world.rank()
    );
}

mpi_test!(fn bad_input_is_the_same_error_on_every_rank_and_writes_nothing(world, 4) {
    let rank = world.rank();
    let mut shm = MpiShared::<f64>::new(&[4, 4], world).unwrap();
    let ones = ndarray::Array2::<f64>::ones((4, 4));
    shm.set((rank == 0).then_some(&ones), &[0, 0], 0).unwrap();
    let before = shm.view().to_owned();
    let block = ndarray::Array2::<f64>::from_elem((2, 2), 7.0);
    let line = ndarray::Array1::<f64>::from_elem(4, 7.0);

    same_error_everywhere(world, shm.set(Some(&block), &[0, 0], 4), "fromrank 4");
    same_error_everywhere(world, shm.set(Some(&block), &[0, 0], -1), "fromrank -1");
    same_error_everywhere(world, shm.set((rank == 2).then_some(&line), &[0, 0], 2), "dimensions");
    same_error_everywhere(world, shm.set((rank == 1).then_some(&block), &[0], 1), "coordinates");
    same_error_everywhere(world, shm.set((rank == 3).then_some(&block), &[3, 0], 3), "does not fit");
    same_error_everywhere(world, shm.set(Some(&block), &[0, 0], rank % 2), "different fromrank");
    same_error_everywhere(world, shm.set(Slab::none(), &[0, 0], 1), "passed no data");
    same_error_everywhere(world, shm.assign(Slab::none(), &[0, 0]), "no rank passed data");
    same_error_everywhere(world, shm.assign((rank >= 2).then_some(&block), &[0, 0]), "several ranks");
    assert_eq!(shm.view(), before.view().into_dyn(), "rank {rank}: the array changed");

    // Construction: shapes and element types must agree.
    let shape = if rank == 3 { vec![4, 5] } else { vec![4, 4] };
    same_error_everywhere(world, MpiShared::<f64>::new(&shape, world), "different shapes");
    let mismatch = if rank == 1 {
        MpiShared::<f32>::new(&[4, 4], world).map(|_| ())
    } else {
        MpiShared::<f64>::new(&[4, 4], world).map(|_| ())
    };
    same_error_everywhere(world, mismatch, "element types");
    same_error_everywhere(world, MpiShared::<f64>::new(&[usize::MAX, 4], world), "does not fit");

    // Node communicators that do not partition the communicator: rank 3
    // names a node of ranks {2, 3} while rank 2's node is {0, 1, 2}.
    let node = world.split_by_color(Color::with_value((rank >= 3) as i32)).unwrap();
    let other = world.split_by_color(Color::with_value((rank >= 2) as i32)).unwrap();
    let mine = if rank == 3 { &other } else { &node };
    same_error_everywhere(world, NodeTopology::with_node_comm(world, mine), "partition");
    // The array still works after all of this.
    shm.set((rank == 3).then_some(&block), &[2, 2], 3).unwrap();
    assert_eq!(shm.get(&[3, 3]), Some(7.0));
});

mpi_test!(
    /// More than 2^31 bytes on one node (2.1 GB of shared memory): slow on
    /// small machines, so ignored by default. Run it with
    /// `make test-large` or `cargo test --test shared_array -- --ignored`.
    #[ignore]
    fn array_larger_than_two_gib(world, 4) {
        let n = (1usize << 31) + 4096;
        let mut shm = MpiShared::<u8>::new(&[n], world).unwrap();
        let tail = ndarray::Array1::<u8>::from_elem(8192, 9);
        shm.set((world.rank() == 2).then_some(&tail), &[n - 8192], 2).unwrap();
        let view = shm.view();
        assert_eq!(view[n - 1], 9);
        assert_eq!(view[n - 8193], 0);
        // A single slab larger than 2^31 bytes, through the chunked path.
        let big = ndarray::Array1::<u8>::from_elem(n, 1);
        shm.set((world.rank() == 0).then_some(&big), &[0], 0).unwrap();
        assert_eq!(shm.view()[n - 1], 1);
    }
);

mpi_test!(fn a_rejected_slab_fails_the_write_on_every_rank(world, 4) {
    // What a binding passes when the source's data cannot become a view
    // (a numpy array of another dtype): every rank gets the same error and
    // nothing is written; the array stays usable.
    let mut shm = MpiShared::<i64>::new(&[4], world).unwrap();
    let slab = if world.rank() == 2 {
        Slab::rejected("input data type (<f4) incompatible with buffer (int64)")
    } else {
        Slab::none()
    };
    let err = shm.set(slab.clone(), &[0], 2).unwrap_err();
    assert!(err.to_string().contains("rank 2") && err.to_string().contains("<f4"), "{err}");
    let err = shm.assign(slab, &[0]).unwrap_err();
    assert!(err.to_string().contains("<f4"), "{err}");
    assert!(shm.view().iter().all(|&x| x == 0));
    let data = [7i64; 4];
    shm.set((world.rank() == 2).then_some(&data[..]).map(Slab::from).unwrap_or_else(Slab::none), &[0], 2).unwrap();
    assert!(shm.view().iter().all(|&x| x == 7));
});
