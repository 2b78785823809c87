//! [`MpiShared`]: an n-dimensional array stored once per node and replicated
//! to every node, the Rust counterpart of pshmem's `MPIShared`.
//!
//! # The set protocol
//! `set` is collective over the array's communicator and costs, on one node,
//! one `MPI_Allreduce` of `3 + 2·ndim` words, the copy, and one node barrier:
//!
//! 1. **Agree.** Every rank contributes to one `MPI_Allreduce(MIN)` that
//!    carries the lowest rank that found an argument invalid, the source
//!    rank(s), and the source's offset and extent. Bad input on any rank
//!    becomes the same [`Error::Invalid`] on every rank, and nothing is
//!    written. Because every rank must enter `set` (which takes `&mut self`,
//!    ending all views) before the reduction completes, no process is reading
//!    the node copy when the writes begin.
//! 2. **Write the source node.** The source stores its slab straight into its
//!    node's shared segment, run by contiguous run.
//! 3. **Replicate.** On several nodes, the source broadcasts the slab over its
//!    rank communicator (the processes with its node rank, one per node);
//!    each receiver stores it into its own node's segment.
//! 4. **Publish.** Writers call `MPI_Win_sync`, the node barrier orders their
//!    stores before everyone's later loads, and readers call `MPI_Win_sync`
//!    (the unified-model rule of MPI-3.1 §11.7 for direct load/store access).
//!
//! # Memory-model rules relied on
//! The window is locked with `MPI_Win_lock_all(MPI_MODE_NOCHECK)` for its
//! whole life, so that `MPI_Win_sync` is always allowed. Stores and loads
//! of the node copy are only separated by the sequence *store; Win_sync;
//! Barrier(node); Win_sync; load*, never by anything weaker.

use crate::comm::OwnedComm;
use crate::element::Element;
use crate::error::{check, Error, Result};
use crate::slab::SlabLayout;
use crate::sys;
use crate::topology::NodeTopology;
use crate::window::SharedWindow;
use mpi::ffi;
use mpi::topology::Communicator;
use ndarray::{ArrayBase, ArrayViewD, Data, Dimension, IxDyn};
use std::rc::Rc;

/// Elements broadcast per `MPI_Bcast` call in cross-node replication: bounds
/// the staging buffer of receivers whose slab is not contiguous.
const STAGE_BYTES: usize = 16 << 20;

/// The data one rank passes to a collective write: a view of an array, or
/// nothing (the ranks that are not the source).
///
/// Built with `From` from `&ArrayBase`, `Option<&ArrayBase>`, `&[T]`, or
/// with [`Slab::none`].
#[derive(Debug, Clone)]
pub struct Slab<'a, T>(Option<ArrayViewD<'a, T>>);

impl<'a, T> Slab<'a, T> {
    /// No data: what non-source ranks pass.
    pub fn none() -> Self {
        Slab(None)
    }
}

impl<'a, T, S, D> From<&'a ArrayBase<S, D>> for Slab<'a, T>
where
    S: Data<Elem = T>,
    D: Dimension,
{
    fn from(a: &'a ArrayBase<S, D>) -> Self {
        Slab(Some(a.view().into_dyn()))
    }
}

impl<'a, T, S, D> From<Option<&'a ArrayBase<S, D>>> for Slab<'a, T>
where
    S: Data<Elem = T>,
    D: Dimension,
{
    fn from(a: Option<&'a ArrayBase<S, D>>) -> Self {
        Slab(a.map(|a| a.view().into_dyn()))
    }
}

impl<'a, T> From<&'a [T]> for Slab<'a, T> {
    fn from(s: &'a [T]) -> Self {
        Slab(Some(
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

/// The node's copy: a shared window whose only non-trivial segment belongs to
/// node rank 0, plus the address every process of the node maps it at.
struct NodeCopy<T: Element> {
    topology: Rc<NodeTopology>,
    window: SharedWindow<T>,
    base: *mut T,
}

/// The outcome of the agreement step of a write.
struct Plan {
    source: i32,
    layout: SlabLayout,
}

impl<T: Element> MpiShared<T> {
    /// Creates a zeroed array of `shape` replicated on the nodes of `comm`
    /// (collective). Nodes come from `MPI_Comm_split_type(SHARED)`.
    pub fn new<C: Communicator + ?Sized>(shape: &[usize], comm: &C) -> Result<Self> {
        Self::with_topology(shape, Rc::new(NodeTopology::new(comm)?))
    }

    /// Creates a zeroed array on an existing [`NodeTopology`] (collective over
    /// its communicator). Sharing a topology between arrays saves creating
    /// three communicators per array.
    pub fn with_topology(shape: &[usize], topology: Rc<NodeTopology>) -> Result<Self> {
        let comm = topology.comm();
        let len = Self::agree_on_shape(comm, shape)?;
        let node = topology.node_comm();
        let (r, p) = (node.rank() as usize, node.size() as usize);
        let mine = if r == 0 { len } else { 0 };
        let window = SharedWindow::<T>::allocate_shared_raw(node.as_raw(), mine, false);
        // The allocation is collective over the node only: agree over the
        // whole communicator so that a failure on one node stops all nodes.
        comm.agree(window.as_ref().map(|_| ()).map_err(|e| e.to_string()))?;
        let window = window.expect("agreed above");
        let base = window.segment(0)?.as_ptr();
        // SAFETY: the window is live; it stays locked until `close`.
        check(
            unsafe { ffi::MPI_Win_lock_all(sys::MODE_NOCHECK(), window.as_raw()) },
            "MPI_Win_lock_all",
        )?;
        let copy = NodeCopy {
            topology,
            window,
            base,
        };
        // Zero in parallel: each process of the node clears its share, which
        // also spreads first-touch page placement across the node.
        let (start, end) = (len * r / p, len * (r + 1) / p);
        // SAFETY: `base` maps node rank 0's segment of `len` elements (at
        // least one is allocated); the shares are disjoint and nobody reads
        // before the publish step below.
        unsafe { std::ptr::write_bytes(base.add(start), 0, end - start) };
        copy.publish()?;
        Ok(MpiShared {
            shape: shape.to_vec(),
            len,
            store: Store::Node(copy),
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

    /// Checks that all ranks pass the same shape and element type, and that
    /// the array fits in memory; returns the element count.
    fn agree_on_shape(comm: &OwnedComm, shape: &[usize]) -> Result<usize> {
        let len = element_count::<T>(shape);
        let fingerprint = [shape.len() as i64, T::CODE, shape_hash(shape)];
        let mut v = [
            if len.is_err() {
                comm.rank() as i64
            } else {
                i64::MAX
            },
            fingerprint[0],
            -fingerprint[0],
            fingerprint[1],
            -fingerprint[1],
            fingerprint[2],
            -fingerprint[2],
        ];
        comm.all_reduce_min(&mut v)?;
        if v[1] != -v[2] || v[3] != -v[4] || v[5] != -v[6] {
            let message = format!(
                "ranks passed different shapes or element types to MpiShared::new; rank 0 passed shape {:?} of {}",
                shape,
                T::NAME
            );
            return comm.resolve_agreement(0, Some(message)).map(|_| 0);
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
                let data = data
                    .0
                    .ok_or_else(|| Error::Usage("a local MpiShared needs data to set".into()))?;
                check_slab(&shape, &data, offset).map_err(Error::Usage)?;
                let layout = SlabLayout::new(&shape, offset, data.shape());
                let data = data.as_standard_layout();
                let src = data.as_slice().expect("standard layout is contiguous");
                layout.for_each_piece(0, layout.len(), |flat, at, n| {
                    values[flat..flat + n].copy_from_slice(&src[at..at + n]);
                });
                Ok(())
            }
            Store::Node(copy) => {
                let plan = copy.plan(&shape, data.0.as_ref(), offset, fromrank)?;
                copy.replicate(&plan, data.0.as_ref())
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
                // SAFETY: `base` maps `len` aligned, initialised elements,
                // valid while `self` is borrowed; nobody stores to them while
                // the view lives (argued above).
                unsafe { ArrayViewD::from_shape_ptr(shape, copy.base as *const T) }
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
    pub fn topology(&self) -> Option<&Rc<NodeTopology>> {
        match &self.store {
            Store::Node(copy) => Some(&copy.topology),
            _ => None,
        }
    }

    /// Frees the node copies (collective). Dropping the array does the same
    /// but cannot report errors.
    pub fn close(&mut self) -> Result<()> {
        match std::mem::replace(&mut self.store, Store::Closed) {
            Store::Node(copy) => copy.close(),
            _ => Ok(()),
        }
    }
}

impl<T: Element> Drop for MpiShared<T> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            // Freeing is collective: a rank that unwinds must not wait for
            // the others, so it leaves the window to MPI_Finalize/abort.
            std::mem::forget(std::mem::replace(&mut self.store, Store::Closed));
            return;
        }
        let _ = self.close();
    }
}

impl<T: Element> NodeCopy<T> {
    /// `MPI_Win_sync; Barrier(node); MPI_Win_sync`: orders every store made
    /// before it by any process of the node before every load after it.
    fn publish(&self) -> Result<()> {
        let win = self.window.as_raw();
        // SAFETY: the window is live and inside the lock_all epoch.
        check(unsafe { ffi::MPI_Win_sync(win) }, "MPI_Win_sync")?;
        self.topology.node_comm().barrier()?;
        // SAFETY: as above.
        check(unsafe { ffi::MPI_Win_sync(win) }, "MPI_Win_sync")
    }

    /// Step 1 of the protocol: one reduction that validates everything.
    fn plan(
        &self,
        shape: &[usize],
        data: Option<&ArrayViewD<'_, T>>,
        offset: &[usize],
        fromrank: Option<i32>,
    ) -> Result<Plan> {
        let comm = self.topology.comm();
        let (rank, size) = (comm.rank(), comm.size());
        let is_source = match fromrank {
            Some(r) => r == rank,
            None => data.is_some(),
        };
        let mut problem = None;
        if let Some(r) = fromrank {
            if !(0..size).contains(&r) {
                problem = Some(format!(
                    "fromrank {r} is not a rank of the communicator of {size} ranks"
                ));
            }
        }
        if is_source && problem.is_none() {
            problem = match data {
                None => Some(format!("fromrank {rank} passed no data")),
                Some(d) => check_slab(shape, d, offset).err(),
            };
        }
        let ndim = shape.len();
        let mut v = vec![i64::MAX; 3 + 2 * ndim];
        if problem.is_some() {
            v[0] = rank as i64;
        }
        let claimed = match fromrank {
            Some(r) => Some(r as i64),
            None => is_source.then_some(rank as i64),
        };
        if let Some(r) = claimed {
            v[1] = r;
            v[2] = -r;
        }
        if is_source && problem.is_none() {
            let d = data.expect("source has data");
            for k in 0..ndim {
                v[3 + k] = offset[k] as i64;
                v[3 + ndim + k] = d.shape()[k] as i64;
            }
        }
        comm.all_reduce_min(&mut v)?;
        comm.resolve_agreement(v[0], problem)?;
        let (low, high) = (v[1], -v[2]);
        let sources_problem = if low == i64::MAX {
            Some("no rank passed data to assign".to_string())
        } else if low != high {
            Some(match fromrank {
                Some(_) => format!("ranks passed different fromrank values ({low} and {high})"),
                None => {
                    format!("several ranks passed data to assign (ranks {low} and {high} at least)")
                }
            })
        } else {
            None
        };
        if let Some(message) = sources_problem {
            // Every rank reached the same verdict from the same reduction.
            return Err(Error::Invalid { rank: 0, message });
        }
        let offset: Vec<usize> = v[3..3 + ndim].iter().map(|&x| x as usize).collect();
        let extent: Vec<usize> = v[3 + ndim..].iter().map(|&x| x as usize).collect();
        Ok(Plan {
            source: low as i32,
            layout: SlabLayout::new(shape, &offset, &extent),
        })
    }

    /// Steps 2 to 4 of the protocol.
    fn replicate(&self, plan: &Plan, data: Option<&ArrayViewD<'_, T>>) -> Result<()> {
        let topology = &self.topology;
        let rank = topology.comm().rank();
        let layout = &plan.layout;
        if layout.len() == 0 {
            return Ok(());
        }
        let source = topology
            .place(plan.source)
            .expect("agreed source is a rank");
        let me = topology.place(rank).expect("own place");
        let stage = (STAGE_BYTES / std::mem::size_of::<T>()).max(1);
        if rank == plan.source {
            let data = data.expect("the source has data").as_standard_layout();
            let src = data.as_slice().expect("standard layout is contiguous");
            // SAFETY: every piece lies inside the node copy (bounds agreed in
            // `plan`); the agreement step guarantees nobody reads it now.
            layout.for_each_piece(0, layout.len(), |flat, at, n| unsafe {
                std::ptr::copy_nonoverlapping(src.as_ptr().add(at), self.base.add(flat), n)
            });
            if topology.nodes() > 1 {
                let root = source.rank_comm_rank;
                for start in (0..layout.len()).step_by(stage) {
                    let n = stage.min(layout.len() - start);
                    // SAFETY: the root only reads `src[start..start + n]`.
                    unsafe {
                        topology.rank_comm().broadcast_raw(
                            root,
                            src.as_ptr().add(start) as *mut u8,
                            n * std::mem::size_of::<T>(),
                        )?
                    };
                }
            }
        } else if topology.nodes() > 1 && me.node_rank == source.node_rank {
            let root = source.rank_comm_rank;
            let mut staging: Vec<T> = Vec::new();
            for start in (0..layout.len()).step_by(stage) {
                let n = stage.min(layout.len() - start);
                if layout.is_contiguous() {
                    // SAFETY: the slab is one run inside the node copy, which
                    // only this process writes during the replication.
                    unsafe {
                        let dst = self.base.add(layout.run_origin(0) + start);
                        topology.rank_comm().broadcast_raw(
                            root,
                            dst as *mut u8,
                            n * std::mem::size_of::<T>(),
                        )?
                    };
                } else {
                    staging.resize(n, T::zeroed());
                    // SAFETY: `staging` holds `n` writable elements.
                    unsafe {
                        topology.rank_comm().broadcast_raw(
                            root,
                            staging.as_mut_ptr() as *mut u8,
                            n * std::mem::size_of::<T>(),
                        )?
                    };
                    // SAFETY: as in the source branch.
                    layout.for_each_piece(start, n, |flat, at, k| unsafe {
                        std::ptr::copy_nonoverlapping(
                            staging.as_ptr().add(at - start),
                            self.base.add(flat),
                            k,
                        )
                    });
                }
            }
        }
        self.publish()
    }

    fn close(self) -> Result<()> {
        // SAFETY: the lock_all epoch opened in `with_topology`.
        check(
            unsafe { ffi::MPI_Win_unlock_all(self.window.as_raw()) },
            "MPI_Win_unlock_all",
        )?;
        drop(self.window);
        Ok(())
    }
}

/// Checks a slab against the array shape (on the rank that passes it).
fn check_slab<T>(
    shape: &[usize],
    data: &ArrayViewD<'_, T>,
    offset: &[usize],
) -> std::result::Result<(), String> {
    if data.ndim() != shape.len() {
        return Err(format!(
            "the data has {} dimensions but the array has {} (shape {:?})",
            data.ndim(),
            shape.len(),
            shape
        ));
    }
    if offset.len() != shape.len() {
        return Err(format!(
            "the offset {:?} has {} coordinates but the array has {} dimensions",
            offset,
            offset.len(),
            shape.len()
        ));
    }
    for (d, ((&o, &e), &s)) in offset.iter().zip(data.shape()).zip(shape).enumerate() {
        if o.checked_add(e).map_or(true, |end| end > s) {
            return Err(format!(
                "the slab of shape {:?} at offset {:?} does not fit in the array of shape {:?} (dimension {d})",
                data.shape(),
                offset,
                shape
            ));
        }
    }
    Ok(())
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

impl<T: Element> std::fmt::Display for MpiShared<T> {
    /// pshmem's summary: where the array lives, its shape and type, and its
    /// leading and trailing values.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "<MpiShared")?;
        match &self.store {
            Store::Node(copy) => {
                let t = &copy.topology;
                writeln!(
                    f,
                    "  replicated on {} nodes, each with {} processes ({} total)",
                    t.nodes(),
                    t.procs_per_node(),
                    t.comm().size()
                )?;
            }
            Store::Local(_) => writeln!(f, "  local to this process (no MPI)")?,
            Store::Closed => writeln!(f, "  closed")?,
        }
        let dims: Vec<String> = self.shape.iter().map(|d| d.to_string()).collect();
        let comma = if dims.len() == 1 { "," } else { "" };
        writeln!(
            f,
            "  shape = ({}{comma}), dtype = {}",
            dims.join(", "),
            T::NAME
        )?;
        let view = self.view();
        let flat: Vec<T> = if view.len() <= 8 {
            view.iter().copied().collect()
        } else {
            let all: Vec<&T> = view.iter().collect();
            all[..3]
                .iter()
                .chain(&all[all.len() - 3..])
                .map(|&&x| x)
                .collect()
        };
        let fmt_vals = |vals: &[T]| {
            vals.iter()
                .map(|v| format!("{v:?}"))
                .collect::<Vec<_>>()
                .join(" ")
        };
        if view.len() <= 8 {
            writeln!(f, "  [ {} ]", fmt_vals(&flat))?;
        } else {
            writeln!(
                f,
                "  [ {} ... {} ]",
                fmt_vals(&flat[..3]),
                fmt_vals(&flat[3..])
            )?;
        }
        write!(f, ">")
    }
}

impl<T: Element> std::fmt::Debug for MpiShared<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(self, f)
    }
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
