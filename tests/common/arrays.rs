//! `MpiShared` workloads checked against a model, shared by the tests of
//! uneven node layouts (`tests/shared_scale.rs`, and `tests/multinode.rs` on
//! the bed) and by the soak (`tests/soak.rs`): writes from every rank, and
//! thousands of arrays alive at once.

use mpi::topology::SimpleCommunicator;
use mpi::traits::*;
use ndarray::{ArrayD, IxDyn, Slice};
use shm_core::{census, Element, MpiShared, NodeTopology};
use std::sync::Arc;

/// Values built bit-exactly from small integers.
pub trait TestValue: Element {
    fn from_u32(x: u32) -> Self;
}
impl TestValue for i64 {
    fn from_u32(x: u32) -> Self {
        x as i64 * 3 - 1
    }
}
impl TestValue for f32 {
    fn from_u32(x: u32) -> Self {
        x as f32 + 0.25
    }
}

const SHAPE: [usize; 2] = [20, 30];

/// The three kinds of slab, by (offset, extent): small enough to travel in
/// the agreement; large and one contiguous run (whole rows); large and not
/// contiguous (a block of columns).
fn slabs(source: usize) -> [([usize; 2], [usize; 2]); 3] {
    [
        ([source % 18, source % 27], [2, 3]),
        ([source % 10, 0], [4, 30]),
        ([1 + source % 9, 2 + source % 20], [10, 8]),
    ]
}

/// Every rank in turn writes each kind of slab, by `set` and by `assign`;
/// after each write every rank compares the whole array bit-exactly with
/// its model.
pub fn every_source<T: TestValue>(
    world: &SimpleCommunicator,
    topology: &Arc<NodeTopology>,
    tag: u32,
) {
    let mut shm = MpiShared::<T>::with_topology(&SHAPE, topology.clone()).unwrap();
    let mut model = ArrayD::<T>::from_elem(IxDyn(&SHAPE), T::zeroed());
    let mut write = 0u32;
    for source in 0..world.size() {
        for (offset, extent) in slabs(source as usize) {
            for by_assign in [false, true] {
                write += 1;
                let slab = ArrayD::from_shape_fn(IxDyn(&extent), |i| {
                    T::from_u32(tag * 1_000_000 + write * 1_000 + (i[0] * 30 + i[1]) as u32)
                });
                let mine = (world.rank() == source).then_some(&slab);
                if by_assign {
                    shm.assign(mine, &offset).unwrap();
                } else {
                    shm.set(mine, &offset, source).unwrap();
                }
                model
                    .slice_each_axis_mut(|ax| {
                        let (o, e) = (offset[ax.axis.index()], extent[ax.axis.index()]);
                        Slice::from(o..o + e)
                    })
                    .assign(&slab);
                let same = shm
                    .view()
                    .iter()
                    .zip(model.iter())
                    .all(|(a, b)| bytemuck::bytes_of(a) == bytemuck::bytes_of(b));
                assert!(
                    same,
                    "rank {}: layout {tag}, write {write} from rank {source} ({extent:?} at \
                     {offset:?}, assign {by_assign}) differs from the model",
                    world.rank()
                );
            }
        }
    }
    shm.close().unwrap();
}

// ----- Thousands of arrays alive at once ---------------------------------

/// A generator that every rank runs with the same seed.
struct XorShift(u64);
impl XorShift {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n as u64) as usize
    }
}

/// The value of element `k` of the array in slot `i`, generation `g`.
fn value(i: usize, g: usize, k: usize) -> f64 {
    (i * 100 + g * 25 + k) as f64 + 0.5
}

/// Creates a (5, 5) array for slot `i`, written whole from rank `i % size`.
fn create(world: &SimpleCommunicator, i: usize, g: usize) -> MpiShared<f64> {
    let mut shm = MpiShared::<f64>::new(&[5, 5], world).unwrap();
    let source = (i % world.size() as usize) as i32;
    let data = ndarray::Array2::from_shape_fn((5, 5), |(a, b)| value(i, g, a * 5 + b));
    shm.set((world.rank() == source).then_some(&data), &[0, 0], source)
        .unwrap();
    shm
}

fn check_all(arrays: &[(usize, MpiShared<f64>)]) {
    for (i, (g, shm)) in arrays.iter().enumerate() {
        for (k, &x) in shm.view().iter().enumerate() {
            assert_eq!(x, value(i, *g, k), "slot {i} (generation {g}), element {k}");
        }
    }
}

/// What [`live_arrays`] measured on this rank.
pub struct LiveArrays {
    /// Seconds to create and set the first `count` arrays.
    pub created_secs: f64,
    /// The pool's windows and bytes with every array alive.
    pub chunks: usize,
    pub bytes: usize,
}

/// `count` arrays alive at once, each set with its own values and read
/// back; half of them closed in a random order (the same on every rank) and
/// created again in the holes; then all closed. No communicator is created
/// per array, and the pool's windows stay few.
pub fn live_arrays(world: &SimpleCommunicator, count: usize) -> LiveArrays {
    let topology = NodeTopology::of(world).unwrap();
    let comms_before = census::alive().0;
    let started = std::time::Instant::now();
    let mut arrays: Vec<(usize, MpiShared<f64>)> =
        (0..count).map(|i| (0, create(world, i, 0))).collect();
    let created = started.elapsed();
    check_all(&arrays);
    let (chunks, bytes) = topology.pool_usage();
    assert!(
        chunks <= 8,
        "{count} arrays took {chunks} windows ({bytes} bytes)"
    );
    assert_eq!(
        census::alive().0,
        comms_before,
        "communicators were created per array"
    );
    let mut rng = XorShift(0x5eed_1234_abcd_0001);
    let mut order: Vec<usize> = (0..count).collect();
    for k in (1..count).rev() {
        order.swap(k, rng.below(k + 1));
    }
    // Closing in a given order: take the array out, leaving a local one.
    let take = |arrays: &mut Vec<(usize, MpiShared<f64>)>, i: usize| {
        std::mem::replace(&mut arrays[i].1, MpiShared::local(&[5, 5]).unwrap())
    };
    let reborn = &order[..count / 2];
    for &i in reborn {
        take(&mut arrays, i).close().unwrap();
    }
    for &i in reborn {
        arrays[i] = (1, create(world, i, 1));
    }
    check_all(&arrays);
    for &i in order.iter().rev() {
        take(&mut arrays, i).close().unwrap();
    }
    LiveArrays {
        created_secs: created.as_secs_f64(),
        chunks,
        bytes,
    }
}
