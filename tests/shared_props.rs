//! Property tests of `MpiShared` on real MPI processes: random shapes
//! (including zero-length axes and scalars), element types, and sequences of
//! valid and invalid `set`/`assign` calls, checked against a plain `ndarray`
//! model kept identically on every rank.
//!
//! Every rank runs the same proptest runner from the same seed, so all ranks
//! generate the same cases and agree on what each rank passes (inputs that
//! differ between ranks are derived from the case and the rank number). A
//! case's verdict is collective: a check that fails on one rank fails the
//! case on every rank, so that shrinking stays in lockstep. Checks record
//! failures instead of panicking, which would end the job through the
//! `MPI_Abort` hook before proptest could shrink.
//!
//! `RMA_PROPTEST_SEED` (decimal or `0x` hex) and `RMA_PROPTEST_CASES` change
//! the seed and the number of cases.

mod common;

use mpi::collective::SystemOperation;
use mpi::topology::SimpleCommunicator;
use mpi::traits::*;
use ndarray::{ArrayD, Dimension, IxDyn, ShapeBuilder};
use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestCaseError, TestError, TestRng, TestRunner};
use shm_core::{Element, Error, MpiShared, NodeTopology, Slab};
use std::sync::Arc;

const DEFAULT_SEED: u64 = 0x5eed_0006_0003;
const DEFAULT_CASES: u32 = 48;

// ----- Cases ---------------------------------------------------------------

#[derive(Debug, Clone, Copy)]
enum Elem {
    I32,
    I64,
    F32,
    F64,
    U8,
}

/// A bad construction: every rank must get the same `Error::Invalid`.
#[derive(Debug, Clone)]
enum CreateFault {
    /// One rank adds 1 to one dimension (or, for a scalar, adds a dimension).
    ShapeDiffers { rank: usize, axis: usize },
    /// One rank asks for another element type.
    TypeDiffers { rank: usize },
    /// Every rank asks for a dimension of `usize::MAX - back`.
    Huge { back: usize },
}

/// What goes wrong in one write. Ranks and axes are raw numbers, reduced
/// modulo the communicator size and the number of dimensions.
#[derive(Debug, Clone)]
enum Fault {
    None,
    /// Every rank passes a `fromrank` outside the communicator (`set`); no
    /// rank passes data (`assign`).
    BadFromRank(usize),
    /// The source passes no data.
    NoData,
    /// The source's data has one dimension more, or one fewer.
    DataNdim {
        more: bool,
    },
    /// The source's offset has one coordinate more, or one fewer.
    OffsetLen {
        more: bool,
    },
    /// The slab sticks out of the array by `by` along `axis`.
    Overhang {
        axis: usize,
        by: usize,
    },
    /// The source's offset along `axis` is `usize::MAX - back`.
    HugeOffset {
        axis: usize,
        back: usize,
    },
    /// A slab of no elements but 2^40 long along `axis`.
    HugeExtent {
        axis: usize,
    },
    /// One rank passes another (valid) `fromrank` (`set`); one more rank
    /// passes data (`assign`).
    MixedFromRank {
        rank: usize,
        other: usize,
    },
    /// One more rank passes a valid slab of other values: ignored by `set`,
    /// two sources for `assign`.
    SecondSource {
        rank: usize,
    },
    /// One more rank passes an invalid slab and offset: ignored by `set`, a
    /// bad second source for `assign`.
    NonSourceGarbage {
        rank: usize,
    },
}

#[derive(Debug, Clone)]
struct Write {
    assign: bool,
    source: usize,
    corner: Vec<usize>,
    extent: Vec<usize>,
    fortran: bool,
    seed: u64,
    fault: Fault,
}

#[derive(Debug, Clone)]
struct Case {
    elem: Elem,
    shape: Vec<usize>,
    create: Option<CreateFault>,
    writes: Vec<Write>,
}

fn elem() -> impl Strategy<Value = Elem> {
    prop_oneof![
        Just(Elem::I32),
        Just(Elem::I64),
        Just(Elem::F32),
        Just(Elem::F64),
        Just(Elem::U8),
    ]
}

fn create_fault() -> impl Strategy<Value = Option<CreateFault>> {
    prop_oneof![
        12 => Just(None),
        1 => (0usize..64, 0usize..64)
            .prop_map(|(rank, axis)| Some(CreateFault::ShapeDiffers { rank, axis })),
        1 => (0usize..64).prop_map(|rank| Some(CreateFault::TypeDiffers { rank })),
        1 => (0usize..4).prop_map(|back| Some(CreateFault::Huge { back })),
    ]
}

fn fault() -> impl Strategy<Value = Fault> {
    let raw = || 0usize..64;
    prop_oneof![
        10 => Just(Fault::None),
        1 => raw().prop_map(Fault::BadFromRank),
        1 => Just(Fault::NoData),
        1 => any::<bool>().prop_map(|more| Fault::DataNdim { more }),
        1 => any::<bool>().prop_map(|more| Fault::OffsetLen { more }),
        1 => (raw(), 1usize..4).prop_map(|(axis, by)| Fault::Overhang { axis, by }),
        1 => (raw(), 0usize..3).prop_map(|(axis, back)| Fault::HugeOffset { axis, back }),
        1 => raw().prop_map(|axis| Fault::HugeExtent { axis }),
        1 => (raw(), raw()).prop_map(|(rank, other)| Fault::MixedFromRank { rank, other }),
        1 => raw().prop_map(|rank| Fault::SecondSource { rank }),
        1 => raw().prop_map(|rank| Fault::NonSourceGarbage { rank }),
    ]
}

fn write() -> impl Strategy<Value = Write> {
    (
        any::<bool>(),
        0usize..64,
        prop::collection::vec(0usize..64, 5),
        prop::collection::vec(0usize..64, 5),
        any::<bool>(),
        any::<u64>(),
        fault(),
    )
        .prop_map(
            |(assign, source, corner, extent, fortran, seed, fault)| Write {
                assign,
                source,
                corner,
                extent,
                fortran,
                seed,
                fault,
            },
        )
}

fn case() -> impl Strategy<Value = Case> {
    (
        elem(),
        prop_oneof![
            1 => Just(Vec::new()),
            12 => prop::collection::vec(0usize..=6, 1..=4),
        ],
        create_fault(),
        prop::collection::vec(write(), 1..=6),
    )
        .prop_map(|(elem, shape, create, writes)| Case {
            elem,
            shape,
            create,
            writes,
        })
}

// ----- The model -------------------------------------------------------------

/// The data one rank passes: the shape of its slab, its layout and the seed
/// of its values.
#[derive(Debug, Clone, PartialEq)]
struct DataSpec {
    shape: Vec<usize>,
    fortran: bool,
    seed: u64,
}

/// The arguments one rank passes to `set` (`fromrank: Some`) or `assign`.
#[derive(Debug, Clone)]
struct Input {
    data: Option<DataSpec>,
    offset: Vec<usize>,
    fromrank: Option<i32>,
}

/// What a write must do, on every rank.
#[derive(Debug, Clone, PartialEq)]
enum Expect {
    Written {
        offset: Vec<usize>,
        data: DataSpec,
    },
    /// `rank`: the rank that found it, or `None` when the ranks found it
    /// together.
    Invalid {
        rank: Option<i32>,
        contains: &'static str,
    },
}

/// `(r + 1 + k % (size - 1)) % size`: a rank other than `r` (or `r` when it
/// is alone).
fn other_rank(r: usize, k: usize, size: usize) -> usize {
    if size < 2 {
        r
    } else {
        (r + 1 + k % (size - 1)) % size
    }
}

/// The arguments of every rank for write `w` on an array of `shape`.
fn inputs(w: &Write, shape: &[usize], size: usize) -> Vec<Input> {
    let ndim = shape.len();
    let s = w.source % size;
    let mut offset: Vec<usize> = (0..ndim).map(|d| w.corner[d] % (shape[d] + 1)).collect();
    let mut extent: Vec<usize> = (0..ndim)
        .map(|d| w.extent[d] % (shape[d] - offset[d] + 1))
        .collect();
    let spec = |shape: Vec<usize>, seed: u64| DataSpec {
        shape,
        fortran: w.fortran,
        seed,
    };
    // Faults on the source's own arguments.
    let mut source_data = true;
    match w.fault {
        Fault::NoData => source_data = false,
        Fault::DataNdim { more } => {
            if more || ndim == 0 {
                extent.push(1);
            } else {
                extent.pop();
            }
        }
        Fault::OffsetLen { more } => {
            if more || ndim == 0 {
                offset.push(0);
            } else {
                offset.pop();
            }
        }
        Fault::Overhang { axis, by } if ndim > 0 => {
            let a = axis % ndim;
            extent[a] = shape[a] - offset[a] + by;
        }
        Fault::HugeOffset { axis, back } if ndim > 0 => {
            offset[axis % ndim] = usize::MAX - back;
        }
        Fault::HugeExtent { axis } if ndim > 0 => {
            let a = axis % ndim;
            extent[a] = 1 << 40;
            if ndim > 1 {
                // No elements: the huge axis costs no memory.
                extent[(a + 1) % ndim] = 0;
            }
            if ndim == 1 {
                // One axis cannot be both huge and empty: overhang instead.
                extent[a] = shape[a] - offset[a] + 1;
            }
        }
        _ => {}
    }
    let mut all: Vec<Input> = (0..size)
        .map(|r| Input {
            data: (r == s && source_data).then(|| spec(extent.clone(), w.seed)),
            offset: if r == s {
                offset.clone()
            } else {
                // Non-sources' offsets do not matter; make them differ.
                vec![r; ndim]
            },
            fromrank: (!w.assign).then_some(s as i32),
        })
        .collect();
    // Faults that involve other ranks.
    match w.fault {
        Fault::BadFromRank(k) => {
            if w.assign {
                all[s].data = None;
            } else {
                let bad = [
                    size as i64,
                    size as i64 + 1,
                    -1,
                    i32::MAX as i64,
                    i32::MIN as i64,
                ];
                for input in &mut all {
                    input.fromrank = Some(bad[k % bad.len()] as i32);
                }
            }
        }
        Fault::MixedFromRank { rank, other } => {
            let r = rank % size;
            if w.assign {
                let r = other_rank(s, rank, size);
                all[r].data = Some(spec(extent.clone(), w.seed ^ 1));
                all[r].offset = offset.clone();
            } else {
                all[r].fromrank = Some(other_rank(s, other, size) as i32);
            }
        }
        Fault::SecondSource { rank } => {
            let r = other_rank(s, rank, size);
            all[r].data = Some(spec(extent.clone(), w.seed ^ 2));
            all[r].offset = offset.clone();
        }
        Fault::NonSourceGarbage { rank } => {
            let r = other_rank(s, rank, size);
            let mut garbage = extent.clone();
            garbage.push(2);
            all[r].data = Some(spec(garbage, w.seed ^ 3));
            all[r].offset = vec![usize::MAX; ndim + 2];
        }
        _ => {}
    }
    all
}

/// Why one rank's own arguments are invalid (the text the error must
/// contain), in the order `MpiShared` checks them.
fn local_problem(shape: &[usize], rank: usize, size: usize, input: &Input) -> Option<&'static str> {
    if let Some(f) = input.fromrank {
        if !(0..size as i32).contains(&f) {
            return Some("is not a rank of the communicator");
        }
    }
    let is_source = match input.fromrank {
        Some(f) => f as usize == rank,
        None => input.data.is_some(),
    };
    if !is_source {
        return None;
    }
    let Some(data) = &input.data else {
        return Some("passed no data");
    };
    if data.shape.len() != shape.len() {
        return Some("dimensions but the array has");
    }
    if input.offset.len() != shape.len() {
        return Some("coordinates but the array has");
    }
    let fits = input
        .offset
        .iter()
        .zip(&data.shape)
        .zip(shape)
        .all(|((&o, &e), &n)| o.checked_add(e).is_some_and(|end| end <= n));
    (!fits).then_some("does not fit in the array")
}

/// The outcome the protocol promises for these arguments.
fn expect(shape: &[usize], inputs: &[Input]) -> Expect {
    let size = inputs.len();
    if let Some((rank, contains)) = inputs
        .iter()
        .enumerate()
        .find_map(|(r, input)| local_problem(shape, r, size, input).map(|p| (r, p)))
    {
        return Expect::Invalid {
            rank: Some(rank as i32),
            contains,
        };
    }
    let claimed: Vec<usize> = match inputs[0].fromrank {
        Some(_) => inputs
            .iter()
            .map(|i| i.fromrank.unwrap() as usize)
            .collect(),
        None => (0..size).filter(|&r| inputs[r].data.is_some()).collect(),
    };
    let (low, high) = match (claimed.iter().min(), claimed.iter().max()) {
        (Some(&low), Some(&high)) => (low, high),
        _ => {
            return Expect::Invalid {
                rank: None,
                contains: "no rank passed data to assign",
            }
        }
    };
    if low != high {
        let contains = match inputs[0].fromrank {
            Some(_) => "ranks passed different fromrank values",
            None => "several ranks passed data to assign",
        };
        return Expect::Invalid {
            rank: None,
            contains,
        };
    }
    Expect::Written {
        offset: inputs[low].offset.clone(),
        data: inputs[low]
            .data
            .clone()
            .expect("checked: the source has data"),
    }
}

/// Values that can be made from any 64 bits, bit-exactly (floats include
/// NaNs, infinities and negative zeros: the copy must keep every bit).
trait TestValue: Element {
    fn from_bits(bits: u64) -> Self {
        let bytes = bits.to_le_bytes();
        bytemuck::pod_read_unaligned(&bytes[..std::mem::size_of::<Self>()])
    }
}
impl TestValue for i32 {}
impl TestValue for i64 {}
impl TestValue for f32 {}
impl TestValue for f64 {}
impl TestValue for u8 {}

/// SplitMix64: the value of element `i` of a slab made from `seed`.
fn mix(seed: u64, i: u64) -> u64 {
    let mut z = seed
        .wrapping_add(i.wrapping_mul(0x9e37_79b9_7f4a_7c15))
        .wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// The slab a `DataSpec` describes: element `i` (in C order) is
/// `from_bits(mix(seed, i))`, whatever the memory layout.
fn make_data<T: TestValue>(spec: &DataSpec) -> ArrayD<T> {
    let shape = &spec.shape;
    let value = |index: IxDyn| {
        let flat = (0..shape.len()).fold(0u64, |acc, d| acc * shape[d] as u64 + index[d] as u64);
        T::from_bits(mix(spec.seed, flat))
    };
    if spec.fortran {
        ArrayD::from_shape_fn(IxDyn(shape).f(), value)
    } else {
        ArrayD::from_shape_fn(IxDyn(shape), value)
    }
}

// ----- Running a case on every rank -------------------------------------------

/// How many writes of each outcome a run made (printed by rank 0, to show
/// that the cases reach every kind of error).
#[derive(Default)]
struct Tally(std::collections::BTreeMap<&'static str, usize>);

impl Tally {
    fn count(&mut self, expected: &Expect) {
        let key = match expected {
            Expect::Written { .. } => "written",
            Expect::Invalid { contains, .. } => contains,
        };
        *self.0.entry(key).or_default() += 1;
    }
}

/// The first failed check of this rank.
#[derive(Default)]
struct Failures(Option<String>);

impl Failures {
    fn note(&mut self, check: Result<(), String>) {
        if let (None, Err(message)) = (&self.0, check) {
            self.0 = Some(message);
        }
    }
}

/// A digest of a result: equal on two ranks when they got the same outcome.
fn digest<T>(result: &Result<T, Error>) -> u64 {
    match result {
        Ok(_) => 1,
        Err(e) => {
            let text = e.to_string();
            let h = text.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
                (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
            });
            h | 2
        }
    }
}

/// `true` when every rank passed the same `value`.
fn same_everywhere(world: &SimpleCommunicator, value: u64) -> bool {
    let (mut low, mut high) = (0u64, 0u64);
    world.all_reduce_into(&value, &mut low, SystemOperation::min());
    world.all_reduce_into(&value, &mut high, SystemOperation::max());
    low == high
}

/// Checks that `result` is the `Error::Invalid` expected.
fn check_invalid<T>(
    result: &Result<T, Error>,
    rank: Option<i32>,
    contains: &str,
) -> Result<(), String> {
    match result {
        Err(Error::Invalid { rank: r, message }) if *r == rank && message.contains(contains) => {
            Ok(())
        }
        Err(e) => Err(format!(
            "expected Invalid (found on rank {rank:?}) containing {contains:?}, got {e:?}"
        )),
        Ok(_) => Err(format!(
            "expected Invalid (found on rank {rank:?}) containing {contains:?}, got Ok"
        )),
    }
}

/// Compares the array bit by bit with the model.
fn check_view<T: TestValue>(
    shm: &MpiShared<T>,
    model: &ArrayD<T>,
    when: &str,
) -> Result<(), String> {
    let view = shm.view();
    if view.shape() != model.shape() {
        return Err(format!(
            "{when}: shape {:?}, model {:?}",
            view.shape(),
            model.shape()
        ));
    }
    match view
        .indexed_iter()
        .zip(model.iter())
        .find(|((_, a), b)| bytemuck::bytes_of(*a) != bytemuck::bytes_of(*b))
    {
        None => Ok(()),
        Some(((index, a), b)) => Err(format!(
            "{when}: element {:?} is {a:?}, the model has {b:?}",
            index.slice()
        )),
    }
}

/// Runs one case on this rank; every collective call is made in the same
/// order on every rank whatever the local checks find.
fn run_case<T: TestValue>(
    world: &SimpleCommunicator,
    topology: &Arc<NodeTopology>,
    case: &Case,
    tally: &std::cell::RefCell<Tally>,
) -> Failures {
    let (rank, size) = (world.rank() as usize, world.size() as usize);
    let mut failures = Failures::default();
    let shape = &case.shape;

    if let Some(fault) = &case.create {
        let (result, found, expected) = match *fault {
            CreateFault::ShapeDiffers { rank: r, axis } => {
                let mut mine = shape.clone();
                if rank == r % size {
                    match mine.len() {
                        0 => mine.push(1),
                        n => mine[axis % n] += 1,
                    }
                }
                let result = MpiShared::<T>::with_topology(&mine, topology.clone()).map(|_| ());
                (result, None, "different shapes or element types")
            }
            CreateFault::TypeDiffers { rank: r } => {
                let result = if rank == r % size {
                    if T::CODE == u8::CODE {
                        MpiShared::<i64>::with_topology(shape, topology.clone()).map(|_| ())
                    } else {
                        MpiShared::<u8>::with_topology(shape, topology.clone()).map(|_| ())
                    }
                } else {
                    MpiShared::<T>::with_topology(shape, topology.clone()).map(|_| ())
                };
                (result, None, "different shapes or element types")
            }
            CreateFault::Huge { back } => {
                let mut huge = shape.clone();
                huge.push(usize::MAX - back);
                let result = MpiShared::<T>::with_topology(&huge, topology.clone()).map(|_| ());
                (result, Some(0), "does not fit in memory")
            }
        };
        failures.note(check_invalid(&result, found, expected).map_err(|e| format!("create: {e}")));
        if !same_everywhere(world, digest(&result)) {
            failures.note(Err(format!(
                "create: the ranks got different outcomes; here {result:?}"
            )));
        }
    }

    let created = MpiShared::<T>::with_topology(shape, topology.clone());
    if !same_everywhere(world, digest(&created)) {
        failures.note(Err(format!(
            "new: the ranks got different outcomes; here {:?}",
            created.as_ref().err()
        )));
        // Closing is collective: a rank that has an array cannot free it
        // alone.
        std::mem::forget(created);
        return failures;
    }
    let mut shm = match created {
        Ok(shm) => shm,
        Err(e) => {
            failures.note(Err(format!("new({shape:?}): {e}")));
            return failures;
        }
    };
    let mut model = ArrayD::<T>::from_elem(IxDyn(shape), T::from_bits(0));
    failures.note(check_view(&shm, &model, "after new"));

    for (i, w) in case.writes.iter().enumerate() {
        let all = inputs(w, shape, size);
        let expected = expect(shape, &all);
        tally.borrow_mut().count(&expected);
        let mine = &all[rank];
        let data = mine.data.as_ref().map(make_data::<T>);
        let slab = Slab::from(data.as_ref());
        let result = match mine.fromrank {
            Some(f) => shm.set(slab, &mine.offset, f),
            None => shm.assign(slab, &mine.offset),
        };
        let when = format!(
            "write {i} ({}, expecting {expected:?})",
            if w.assign { "assign" } else { "set" }
        );
        match &expected {
            Expect::Written { offset, data } => {
                failures.note(result.clone().map_err(|e| format!("{when}: {e}")));
                if result.is_ok() {
                    let slab = make_data::<T>(data);
                    model
                        .slice_each_axis_mut(|ax| {
                            let (d, o) = (ax.axis.index(), offset[ax.axis.index()]);
                            ndarray::Slice::from(o..o + data.shape[d])
                        })
                        .assign(&slab);
                }
            }
            Expect::Invalid { rank, contains } => {
                failures.note(
                    check_invalid(&result, *rank, contains).map_err(|e| format!("{when}: {e}")),
                );
            }
        }
        if !same_everywhere(world, digest(&result)) {
            failures.note(Err(format!(
                "{when}: the ranks got different outcomes; here {result:?}"
            )));
            // The protocol's steps may now be out of step between ranks.
            std::mem::forget(shm);
            return failures;
        }
        failures.note(check_view(&shm, &model, &when));
    }
    failures.note(shm.close().map_err(|e| format!("close: {e}")));
    failures
}

/// The collective verdict: the message of the lowest failing rank, on every
/// rank, or `Ok` when no rank failed.
fn verdict(world: &SimpleCommunicator, failures: Failures) -> Result<(), TestCaseError> {
    let mine = if failures.0.is_some() {
        world.rank()
    } else {
        i32::MAX
    };
    let mut lowest = 0;
    world.all_reduce_into(&mine, &mut lowest, SystemOperation::min());
    if lowest == i32::MAX {
        return Ok(());
    }
    let mut text = failures.0.unwrap_or_default().into_bytes();
    let mut len = text.len() as u64;
    let root = world.process_at_rank(lowest);
    root.broadcast_into(&mut len);
    text.resize(len as usize, 0);
    root.broadcast_into(&mut text[..]);
    Err(TestCaseError::fail(format!(
        "rank {lowest}: {}",
        String::from_utf8_lossy(&text)
    )))
}

fn env_number(var: &str) -> Option<u64> {
    let text = std::env::var(var).ok()?;
    let text = text.trim();
    match text.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(hex, 16).ok(),
        None => text.parse().ok(),
    }
}

/// Runs the property on every rank from the same seed; panics (on rank 0,
/// which ends the job) with the minimal failing case.
fn check_property(world: &SimpleCommunicator, topology: Arc<NodeTopology>, label: &str) {
    let seed = env_number("RMA_PROPTEST_SEED").unwrap_or(DEFAULT_SEED);
    let cases = env_number("RMA_PROPTEST_CASES").map_or(DEFAULT_CASES, |n| n as u32);
    if world.rank() == 0 {
        eprintln!(
            "shared_props/{label}: seed {seed:#x}, {cases} cases \
             (set RMA_PROPTEST_SEED / RMA_PROPTEST_CASES to change)"
        );
    }
    let config = Config {
        cases,
        failure_persistence: None,
        max_shrink_iters: 512,
        // Time-bounded shrinking could stop at different points on
        // different ranks.
        max_shrink_time: 0,
        ..Config::default()
    };
    let key: Vec<u8> = (0..4).flat_map(|i| mix(seed, i).to_le_bytes()).collect();
    let mut runner =
        TestRunner::new_with_rng(config, TestRng::from_seed(RngAlgorithm::ChaCha, &key));
    let started = std::time::Instant::now();
    let tally = std::cell::RefCell::new(Tally::default());
    let outcome = runner.run(&case(), |case| {
        let failures = match case.elem {
            Elem::I32 => run_case::<i32>(world, &topology, &case, &tally),
            Elem::I64 => run_case::<i64>(world, &topology, &case, &tally),
            Elem::F32 => run_case::<f32>(world, &topology, &case, &tally),
            Elem::F64 => run_case::<f64>(world, &topology, &case, &tally),
            Elem::U8 => run_case::<u8>(world, &topology, &case, &tally),
        };
        verdict(world, failures)
    });
    match outcome {
        Ok(()) => {
            if world.rank() == 0 {
                eprintln!(
                    "shared_props/{label}: {cases} cases passed in {:.1} s; writes: {:?}",
                    started.elapsed().as_secs_f64(),
                    tally.borrow().0
                );
            }
        }
        Err(e) => {
            let text = match e {
                TestError::Fail(reason, case) => {
                    format!("minimal failing case {case:#?}\nfailure: {reason}")
                }
                TestError::Abort(reason) => format!("aborted: {reason}"),
            };
            if world.rank() == 0 {
                panic!("shared_props/{label} (seed {seed:#x}): {text}");
            }
            // Rank 0's panic ends the job.
            world.barrier();
        }
    }
}

mpi_test!(fn random_writes_match_the_model_on_one_node(world, 4) {
    let topology = Arc::new(NodeTopology::new(world).unwrap());
    check_property(world, topology, "one node");
});

mpi_test!(fn random_writes_match_the_model_on_two_emulated_nodes(world, 4) {
    let topology = common::two_emulated_nodes(world);
    assert_eq!((topology.nodes(), topology.procs_per_node()), (2, Some(2)));
    check_property(world, topology, "two nodes");
});

mpi_test!(fn empty_arrays_with_a_huge_axis_are_refused_everywhere(world, 4) {
    // No elements, but no valid ndarray view either: once accepted, and
    // `view()` then panicked.
    let err = MpiShared::<f64>::new(&[0, usize::MAX], world).unwrap_err();
    assert!(matches!(err, Error::Invalid { rank: Some(0), .. }), "{err}");
    assert!(err.to_string().contains("does not fit in memory"), "{err}");
    let shm = MpiShared::<f64>::new(&[0, 1 << 40], world).unwrap();
    assert_eq!(shm.view().len(), 0);
});

// ----- The model itself (no MPI) ----------------------------------------------

/// The model's expectations on hand-picked writes, so that a wrong model
/// cannot make the MPI properties pass vacuously.
#[test]
fn model_expectations() {
    if common::is_child() {
        return;
    }
    let w = |assign, fault| Write {
        assign,
        source: 2,
        corner: vec![1; 5],
        extent: vec![2; 5],
        fortran: false,
        seed: 7,
        fault,
    };
    let shape = [4, 4];
    let ok = |assign| match expect(&shape, &inputs(&w(assign, Fault::None), &shape, 4)) {
        Expect::Written { offset, data } => (offset, data.shape),
        other => panic!("{other:?}"),
    };
    assert_eq!(ok(false), (vec![1, 1], vec![2, 2]));
    assert_eq!(ok(true), (vec![1, 1], vec![2, 2]));
    let invalid = |assign, fault| match expect(&shape, &inputs(&w(assign, fault), &shape, 4)) {
        Expect::Invalid { rank, contains } => (rank, contains),
        other => panic!("{other:?}"),
    };
    // The seed of the data written, or None when the write is refused.
    let ok_with = |assign, fault| match expect(&shape, &inputs(&w(assign, fault), &shape, 4)) {
        Expect::Written { data, .. } => Some(data.seed),
        Expect::Invalid { .. } => None,
    };
    assert_eq!(invalid(false, Fault::NoData), (Some(2), "passed no data"));
    assert_eq!(
        invalid(true, Fault::NoData),
        (None, "no rank passed data to assign")
    );
    assert_eq!(
        invalid(false, Fault::BadFromRank(0)),
        (Some(0), "is not a rank of the communicator")
    );
    assert_eq!(
        invalid(false, Fault::HugeOffset { axis: 1, back: 0 }),
        (Some(2), "does not fit in the array")
    );
    assert_eq!(
        invalid(false, Fault::HugeExtent { axis: 0 }),
        (Some(2), "does not fit in the array")
    );
    assert_eq!(
        invalid(false, Fault::DataNdim { more: true }),
        (Some(2), "dimensions but the array has")
    );
    assert_eq!(
        invalid(false, Fault::OffsetLen { more: false }),
        (Some(2), "coordinates but the array has")
    );
    assert_eq!(
        invalid(true, Fault::SecondSource { rank: 0 }),
        (None, "several ranks passed data to assign")
    );
    assert_eq!(
        invalid(true, Fault::NonSourceGarbage { rank: 0 }),
        (Some(3), "dimensions but the array has")
    );
    assert_eq!(ok_with(false, Fault::SecondSource { rank: 0 }), Some(7));
    assert_eq!(ok_with(false, Fault::NonSourceGarbage { rank: 1 }), Some(7));
    // Another rank names rank 3 as the source while rank 3 has no data.
    assert_eq!(
        invalid(false, Fault::MixedFromRank { rank: 3, other: 0 }),
        (Some(3), "passed no data")
    );
    assert_eq!(
        invalid(false, Fault::MixedFromRank { rank: 1, other: 1 }),
        (None, "ranks passed different fromrank values")
    );

    // Values: C order whatever the layout, every bit kept.
    let c = make_data::<f64>(&DataSpec {
        shape: vec![2, 3],
        fortran: false,
        seed: 1,
    });
    let f = make_data::<f64>(&DataSpec {
        shape: vec![2, 3],
        fortran: true,
        seed: 1,
    });
    assert!(!f.is_standard_layout());
    assert!(c
        .iter()
        .zip(f.iter())
        .all(|(a, b)| a.to_bits() == b.to_bits()));
}
