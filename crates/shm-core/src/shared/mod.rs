//! [`MpiShared`]: an n-dimensional array stored once per node and replicated
//! to every node, the Rust counterpart of pshmem's `MPIShared`.
//!
//! * Memory comes from the node pool of the array's [`NodeTopology`]
//!   (`pool.rs`): large MPI shared windows carved into blocks, so arrays cost
//!   neither a window nor a communicator each. Creating an array costs one
//!   `MPI_Allreduce` (which validates the shape on every rank and orders the
//!   creation after earlier closes); closing costs no collective at all.
//! * Writes follow the protocol of `replicate.rs`: one agreement, then the
//!   node copies are written, by one process per node, with the slab carried
//!   inside the agreement when it is small, else sent from the source's node
//!   to the other nodes' leaders.
//! * Reads are zero-copy views of the node copy; the borrow checker keeps
//!   them from living across a write.

mod alloc;
mod display;
mod header;
pub(crate) mod pool;
mod replicate;

use crate::element::Element;
use crate::error::{Error, Result};
use crate::slab::SlabGeometry;
use crate::topology::NodeTopology;
use mpi::topology::Communicator;
use ndarray::{ArrayBase, ArrayViewD, Data, Dimension, IxDyn};
use pool::Lease;
use replicate::check_slab;
use std::sync::Arc;

/// The data one rank passes to a collective write: a view of an array,
/// nothing (the ranks that are not the source), or data this rank could not
/// turn into a view ([`Slab::rejected`]).
///
/// Built with `From` from `&ArrayBase`, `Option<&ArrayBase>`, `&[T]`, or
/// with [`Slab::none`].
#[derive(Debug, Clone)]
pub struct Slab<'a, T>(SlabKind<'a, T>);

#[derive(Debug, Clone)]
enum SlabKind<'a, T> {
    View(ArrayViewD<'a, T>),
    None,
    Rejected(String),
}

impl<'a, T> Slab<'a, T> {
    /// No data: what non-source ranks pass.
    pub fn none() -> Self {
        Slab(SlabKind::None)
    }

    /// Data the source rank has but cannot pass (an array of another element
    /// type, say, met by a binding): the write fails on every rank with
    /// [`Error::Invalid`] naming this rank and `reason`, as any bad slab
    /// does, instead of leaving the other ranks waiting for it.
    pub fn rejected(reason: impl Into<String>) -> Self {
        Slab(SlabKind::Rejected(reason.into()))
    }

    fn view(&self) -> Option<&ArrayViewD<'a, T>> {
        match &self.0 {
            SlabKind::View(v) => Some(v),
            _ => None,
        }
    }
}

impl<'a, T, S, D> From<&'a ArrayBase<S, D>> for Slab<'a, T>
where
    S: Data<Elem = T>,
    D: Dimension,
{
    fn from(a: &'a ArrayBase<S, D>) -> Self {
        Slab(SlabKind::View(a.view().into_dyn()))
    }
}

impl<'a, T, S, D> From<Option<&'a ArrayBase<S, D>>> for Slab<'a, T>
where
    S: Data<Elem = T>,
    D: Dimension,
{
    fn from(a: Option<&'a ArrayBase<S, D>>) -> Self {
        match a {
            Some(a) => Slab::from(a),
            None => Slab::none(),
        }
    }
}

impl<'a, T> From<&'a [T]> for Slab<'a, T> {
    fn from(s: &'a [T]) -> Self {
        Slab(SlabKind::View(
            ArrayViewD::from_shape(IxDyn(&[s.len()]), s).expect("a slice is one-dimensional"),
        ))
    }
}

impl<'a, T> From<&'a Vec<T>> for Slab<'a, T> {
    fn from(v: &'a Vec<T>) -> Self {
        Slab::from(v.as_slice())
    }
}

/// An n-dimensional array of `T` kept once per node in a shared-memory
/// window and replicated to every node.
///
/// * [`new`](Self::new) (collective) allocates one zeroed copy per node.
/// * [`set`](Self::set) (collective) writes a slab from one rank into every
///   node's copy; [`assign`](Self::assign) does the same when exactly one
///   rank passes data (pshmem's `shm[slices] = data`).
/// * [`view`](Self::view) reads the node copy with no copy at all; the borrow
///   checker keeps views from living across a `set`.
/// * [`close`](Self::close) (collective) frees the memory; `Drop` does it too.
/// * [`local`](Self::local) makes an array without MPI (pshmem's `comm=None`).
///
/// ```no_run
/// use ndarray::array;
/// use shm_core::MpiShared;
/// use mpi::traits::*;
///
/// let universe = mpi::initialize().unwrap();
/// let world = universe.world();
/// let mut shm = MpiShared::<f64>::new(&[3, 5], &world)?;
/// let slab = (world.rank() == 0).then(|| array![[0., 1., 2.], [3., 4., 5.]]);
/// shm.set(slab.as_ref(), &[1, 1], 0)?;
/// assert_eq!(shm.view()[[2, 3]], 5.0);
/// shm.close()?;
/// # Ok::<(), shm_core::Error>(())
/// ```
pub struct MpiShared<T: Element> {
    shape: Vec<usize>,
    len: usize,
    store: Store<T>,
}

enum Store<T: Element> {
    Local(Vec<T>),
    Node(NodeCopy<T>),
    Closed,
}

/// This node's copy: a block of the topology's node pool.
struct NodeCopy<T: Element> {
    topology: Arc<NodeTopology>,
    lease: Lease,
    /// The first element, where every process of the node maps it.
    data: *mut T,
    /// Writes made so far (the header's sequence numbers).
    seq: u64,
}

impl<T: Element> MpiShared<T> {
    /// Creates a zeroed array of `shape` replicated on the nodes of `comm`
    /// (collective). Nodes come from `MPI_Comm_split_type(SHARED)`, found
    /// once per communicator and cached on it ([`NodeTopology::of`]), so
    /// that any number of arrays on one communicator share its node and
    /// leader communicators and its node memory pool.
    pub fn new<C: Communicator + ?Sized>(shape: &[usize], comm: &C) -> Result<Self> {
        Self::with_topology(shape, NodeTopology::of(comm)?)
    }

    /// Creates a zeroed array on a given [`NodeTopology`] (collective over
    /// its communicator): for node communicators of the caller's own
    /// ([`NodeTopology::with_node_comm`]).
    ///
    /// One `MPI_Allreduce` validates the shape and element type on every
    /// rank; memory comes from the topology's pool, already zero. Creating
    /// and closing arrays must happen in the same order on every rank, as
    /// for any collective call; a rank that did otherwise makes the next
    /// creation fail on every rank.
    pub fn with_topology(shape: &[usize], topology: Arc<NodeTopology>) -> Result<Self> {
        let len = Self::agree_on_shape(&topology, shape)?;
        let lease = topology.pool().allocate(
            topology.comm(),
            topology.node_comm(),
            len * std::mem::size_of::<T>(),
        )?;
        let data = lease.data() as *mut T;
        Ok(MpiShared {
            shape: shape.to_vec(),
            len,
            store: Store::Node(NodeCopy {
                topology,
                lease,
                data,
                seq: 0,
            }),
        })
    }

    /// A zeroed array in this process only, without MPI (pshmem's
    /// `comm=None`): `set` and `assign` copy locally.
    pub fn local(shape: &[usize]) -> Result<Self> {
        let len = element_count::<T>(shape).map_err(Error::Usage)?;
        Ok(MpiShared {
            shape: shape.to_vec(),
            len,
            store: Store::Local(vec![T::zeroed(); len]),
        })
    }

    /// Checks that all ranks pass the same shape and element type, that the
    /// array fits in memory, and that every rank holds the same arrays of
    /// this topology; returns the element count.
    fn agree_on_shape(topology: &NodeTopology, shape: &[usize]) -> Result<usize> {
        let comm = topology.comm();
        let len = element_count::<T>(shape);
        let (live, fingerprint) = topology.pool().state();
        let same = [
            shape.len() as i64,
            T::CODE,
            shape_hash(shape),
            live as i64,
            (fingerprint >> 1) as i64,
        ];
        let mut v = vec![if len.is_err() {
            comm.rank() as i64
        } else {
            i64::MAX
        }];
        // Each value and its negation: the minimum and the maximum in one
        // reduction, equal when every rank passed the same.
        v.extend(same.iter().flat_map(|&x| [x, -x]));
        comm.all_reduce_min(&mut v)?;
        let differs = |k: usize| v[1 + 2 * k] != -v[2 + 2 * k];
        if differs(0) || differs(1) || differs(2) {
            // Rank 0's words, so that every rank says the same.
            let message = comm.broadcast_string(
                0,
                &format!(
                    "ranks passed different shapes or element types to MpiShared::new; rank 0 passed shape {:?} of {}",
                    shape,
                    T::NAME
                ),
            )?;
            return Err(Error::Invalid {
                rank: None,
                message,
            });
        }
        if differs(3) || differs(4) {
            return Err(Error::Invalid {
                rank: None,
                message: format!(
                    "the ranks hold different arrays of this communicator ({live} here): arrays \
                     must be created and closed (or dropped) in the same order on every rank"
                ),
            });
        }
        comm.resolve_agreement(v[0], len.as_ref().err().cloned())?;
        Ok(len.expect("agreed above"))
    }

    /// Writes `data` from rank `fromrank` into every node's copy at `offset`
    /// (collective; only `fromrank`'s `data` and `offset` matter, the others
    /// may pass [`Slab::none`]). When it returns, every process of every node
    /// sees the new values.
    ///
    /// A bad `fromrank`, a slab of the wrong dimension or out of bounds, or
    /// different `fromrank`s on different ranks is the same [`Error::Invalid`]
    /// on every rank, and nothing is written.
    pub fn set<'a>(
        &mut self,
        data: impl Into<Slab<'a, T>>,
        offset: &[usize],
        fromrank: i32,
    ) -> Result<()> {
        self.write(data.into(), offset, Some(fromrank))
    }

    /// Writes a slab passed by exactly one rank (pshmem's
    /// `shm[offset] = data`): collective, like [`set`](Self::set), but the
    /// source is the one rank whose `data` is not [`Slab::none`]. Zero or
    /// several sources is the same [`Error::Invalid`] on every rank.
    pub fn assign<'a>(&mut self, data: impl Into<Slab<'a, T>>, offset: &[usize]) -> Result<()> {
        self.write(data.into(), offset, None)
    }

    fn write(&mut self, data: Slab<'_, T>, offset: &[usize], fromrank: Option<i32>) -> Result<()> {
        let shape = self.shape.clone();
        match &mut self.store {
            Store::Closed => Err(Error::Closed("MpiShared")),
            Store::Local(values) => {
                let data = match data.0 {
                    SlabKind::View(v) => v,
                    SlabKind::None => {
                        return Err(Error::Usage("a local MpiShared needs data to set".into()))
                    }
                    SlabKind::Rejected(reason) => return Err(Error::Usage(reason)),
                };
                check_slab(&shape, &data, offset).map_err(Error::Usage)?;
                let layout = SlabGeometry::new(&shape, offset, data.shape());
                let data = data.as_standard_layout();
                let src = data.as_slice().expect("standard layout is contiguous");
                layout.for_each_piece(0, layout.len(), |flat, at, n| {
                    values[flat..flat + n].copy_from_slice(&src[at..at + n]);
                });
                Ok(())
            }
            Store::Node(copy) => {
                let comm = copy.topology.comm();
                let plan = replicate::plan(comm, &shape, &data, offset, fromrank)?;
                replicate::apply(copy, &plan, data.view())
            }
        }
    }

    /// A zero-copy view of this node's copy.
    ///
    /// A view cannot be held across a write, which would let this process
    /// read half-updated data; the borrow checker refuses it:
    ///
    /// ```compile_fail
    /// # fn f(shm: &mut shm_core::MpiShared<f64>) -> shm_core::Result<()> {
    /// let view = shm.view();
    /// shm.set(shm_core::Slab::none(), &[0, 0], 0)?; // error: `shm` is borrowed
    /// println!("{}", view[[0, 0]]);
    /// # Ok(()) }
    /// ```
    ///
    /// No process writes the node copy while the view lives: writes happen
    /// only inside the collective `set`/`assign`/`close`, which this process
    /// cannot enter while it borrows the array, and whose agreement step no
    /// other process can pass without it.
    pub fn view(&self) -> ArrayViewD<'_, T> {
        let shape = IxDyn(&self.shape);
        match &self.store {
            Store::Local(values) => {
                ArrayViewD::from_shape(shape, values).expect("shape matches storage")
            }
            Store::Node(copy) => {
                // The block holds `len` elements and was zeroed.
                // SAFETY: `data` maps them aligned, initialised, valid while `self`
                // is borrowed; nobody stores to them while the view lives (above).
                unsafe { ArrayViewD::from_shape_ptr(shape, copy.data as *const T) }
            }
            Store::Closed => {
                ArrayViewD::from_shape(IxDyn(&vec![0; self.shape.len()]), &[]).expect("empty")
            }
        }
    }

    /// The element at `index`, or `None` when out of bounds.
    pub fn get(&self, index: &[usize]) -> Option<T> {
        self.view().get(IxDyn(index)).copied()
    }

    /// The shape.
    pub fn shape(&self) -> &[usize] {
        &self.shape
    }

    /// The number of elements.
    pub fn len(&self) -> usize {
        self.len
    }

    /// `true` when the array has no elements.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The node layout, or `None` for a local or closed array.
    pub fn topology(&self) -> Option<&Arc<NodeTopology>> {
        match &self.store {
            Store::Node(copy) => Some(&copy.topology),
            _ => None,
        }
    }

    /// Gives the node copies back to the pool (collective, but without
    /// communication: the last process of each node to close zeroes the
    /// memory for the next array). Dropping the array does the same but
    /// cannot report errors.
    pub fn close(mut self) -> Result<()> {
        self.release()
    }

    fn release(&mut self) -> Result<()> {
        match std::mem::replace(&mut self.store, Store::Closed) {
            Store::Node(copy) => {
                let node_size = copy.topology.node_comm().size() as usize;
                let released = copy.topology.pool().release(copy.lease, node_size);
                released
            }
            _ => Ok(()),
        }
    }
}

impl<T: Element> Drop for MpiShared<T> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            // A rank that unwinds must not take part in the pool's
            // bookkeeping (which may free windows collectively): it leaves
            // the block to MPI_Finalize or the abort.
            std::mem::forget(std::mem::replace(&mut self.store, Store::Closed));
            return;
        }
        let _ = self.release();
    }
}

/// The number of elements of `shape`, if views of it are valid: ndarray
/// requires the product of the non-zero axis lengths to fit in `isize` even
/// for an empty array (`[0, usize::MAX]` has no elements but no valid view).
fn element_count<T>(shape: &[usize]) -> std::result::Result<usize, String> {
    shape
        .iter()
        .filter(|&&d| d != 0)
        .try_fold(1usize, |acc, &d| acc.checked_mul(d))
        .filter(|&n| {
            n.checked_mul(std::mem::size_of::<T>())
                .is_some_and(|b| b <= isize::MAX as usize)
        })
        .map(|_| shape.iter().product())
        .ok_or_else(|| format!("an array of shape {shape:?} does not fit in memory"))
}

/// FNV-1a over the dimensions: equal shapes hash equal, and the reduction
/// that compares shapes across ranks stays a fixed three words.
fn shape_hash(shape: &[usize]) -> i64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &d in shape {
        for b in (d as u64).to_le_bytes() {
            h = (h ^ b as u64).wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    (h >> 1) as i64
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn local_set_and_view() {
        let mut shm = MpiShared::<f64>::local(&[3, 5]).unwrap();
        let data = array![[0., 1., 2.], [3., 4., 5.]];
        shm.set(&data, &[1, 1], 0).unwrap();
        assert_eq!(shm.get(&[2, 3]), Some(5.0));
        assert_eq!(shm.view().sum(), 15.0);
        assert!(shm.to_string().contains("shape = (3, 5), dtype = float64"));
    }

    #[test]
    fn local_rejects_out_of_bounds() {
        let mut shm = MpiShared::<i32>::local(&[2, 2]).unwrap();
        let err = shm.assign(&array![[1, 2, 3]], &[0, 0]).unwrap_err();
        assert!(err.to_string().contains("does not fit"), "{err}");
        assert_eq!(shm.view().sum(), 0);
    }

    #[test]
    fn local_transposed_input() {
        let mut shm = MpiShared::<i64>::local(&[2, 3]).unwrap();
        let data = array![[1, 4], [2, 5], [3, 6]];
        shm.assign(&data.t(), &[0, 0]).unwrap();
        assert_eq!(shm.view(), array![[1, 2, 3], [4, 5, 6]].into_dyn());
    }

    #[test]
    fn empty_arrays_with_a_huge_axis_are_refused() {
        let err = MpiShared::<u8>::local(&[0, usize::MAX]).unwrap_err();
        assert!(err.to_string().contains("does not fit"), "{err}");
        assert_eq!(
            MpiShared::<f64>::local(&[0, 1 << 40]).unwrap().view().len(),
            0
        );
    }

    #[test]
    fn zero_sized_and_scalar_arrays() {
        let shm = MpiShared::<u8>::local(&[0, 4]).unwrap();
        assert!(shm.is_empty());
        let mut s = MpiShared::<u8>::local(&[]).unwrap();
        s.assign(&ndarray::arr0(7u8), &[]).unwrap();
        assert_eq!(s.get(&[]), Some(7));
    }
}
