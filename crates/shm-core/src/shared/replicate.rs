//! The `set` protocol: one agreement, then the write of every node's copy.
//!
//! 1. **Agree.** Every rank contributes to one `MPI_Allreduce(MIN)` over the
//!    array's communicator that carries the lowest rank that found an
//!    argument invalid, the source rank(s), the source's offset and extent,
//!    and, when it fits in the rest of [`AGREEMENT_BYTES`], the slab itself
//!    (200 bytes for a 2-D array: a whole (5, 5) array of `f64`). Bad
//!    input on any rank becomes the same [`Error::Invalid`] on every rank and
//!    nothing is written. Every rank must enter `set` (which takes
//!    `&mut self`, ending its views) before the reduction completes, so no
//!    process reads any copy once writing starts.
//! 2. **Write, small slab.** The values arrived with the agreement on every
//!    rank, so no further message is needed: on each node, the first process
//!    to claim the write in the array's header stores the values, and the
//!    others wait for its mark.
//! 3. **Write, large slab.** The source stores its slab into its node's
//!    copy. With several nodes, the source's node leader broadcasts the slab
//!    over the leader communicator (from the source's buffer when it is the
//!    source, else from its node's copy once the source has marked it), and
//!    each other leader receives it straight into its node's copy (through a
//!    bounded staging buffer when the slab is not contiguous there). On each
//!    node, the processes that did not write wait for the writer's mark.
//!
//! Marks are the header's `done` word (see `header.rs`), with
//! `MPI_Win_sync` on both sides: *stores; sync; publish* and *wait; sync;
//! loads*. A process returns from `set` only after its node's writer has
//! published, and no process stores to a node copy after publishing, so a
//! view made after `set` can never see a torn or stale value, and no
//! process is writing while any view exists.

use super::header::Header;
use super::{NodeCopy, Slab, SlabKind};
use crate::comm::OwnedComm;
use crate::element::Element;
use crate::error::{Error, Result};
use crate::slab::SlabGeometry;
use ndarray::ArrayViewD;

/// The size of the agreement's reduction: the protocol's words, then as much
/// of a slab as fits. Measured with Open MPI 4.1 at 4 ranks, an allreduce of
/// up to 256 bytes costs one message size class (6 µs oversubscribed, 0.6 µs
/// at 2 ranks); 320 bytes cost twice as much.
pub(crate) const AGREEMENT_BYTES: usize = 256;
const AGREEMENT_WORDS: usize = AGREEMENT_BYTES / 8;

/// Bytes of slab that travel inside the agreement for an array of `ndim`
/// dimensions.
fn inline_bytes(ndim: usize) -> usize {
    AGREEMENT_WORDS.saturating_sub(3 + 2 * ndim) * 8
}

/// Bytes broadcast per `MPI_Bcast` call in cross-node replication: bounds
/// the staging buffers of slabs that are not contiguous.
const STAGE_BYTES: usize = 16 << 20;

/// The outcome of the agreement step of a write.
pub(super) struct Plan {
    source: i32,
    layout: SlabGeometry,
    /// The slab's bytes in C order, when it travelled with the agreement.
    inline: Option<Vec<u8>>,
}

/// Step 1: one reduction that validates everything (and carries a small
/// slab).
pub(super) fn plan<T: Element>(
    comm: &OwnedComm,
    shape: &[usize],
    slab: &Slab<'_, T>,
    offset: &[usize],
    fromrank: Option<i32>,
) -> Result<Plan> {
    let (rank, size) = (comm.rank(), comm.size());
    let data = slab.view();
    let is_source = match fromrank {
        Some(r) => r == rank,
        None => !matches!(slab.0, SlabKind::None),
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
        problem = match (&slab.0, data) {
            (SlabKind::Rejected(reason), _) => Some(reason.clone()),
            (_, None) => Some(format!("fromrank {rank} passed no data")),
            (_, Some(d)) => check_slab(shape, d, offset).err(),
        };
    }
    let ndim = shape.len();
    let payload = 3 + 2 * ndim;
    let inline_max = inline_bytes(ndim);
    let mut v = vec![i64::MAX; payload + inline_max / 8];
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
        if d.len() * std::mem::size_of::<T>() <= inline_max {
            let d = d.as_standard_layout();
            let bytes: &[u8] = bytemuck::cast_slice(d.as_slice().expect("standard layout"));
            let words: &mut [u8] = bytemuck::cast_slice_mut(&mut v[payload..]);
            words[..bytes.len()].copy_from_slice(bytes);
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
        return Err(Error::Invalid {
            rank: None,
            message,
        });
    }
    let offset: Vec<usize> = v[3..3 + ndim].iter().map(|&x| x as usize).collect();
    let extent: Vec<usize> = v[3 + ndim..payload].iter().map(|&x| x as usize).collect();
    let layout = SlabGeometry::new(shape, &offset, &extent);
    let slab_bytes = layout.len() * std::mem::size_of::<T>();
    let inline = (slab_bytes <= inline_max).then(|| {
        let words: &[u8] = bytemuck::cast_slice(&v[payload..]);
        words[..slab_bytes].to_vec()
    });
    Ok(Plan {
        source: low as i32,
        layout,
        inline,
    })
}

/// Steps 2 and 3.
pub(super) fn apply<T: Element>(
    copy: &mut NodeCopy<T>,
    plan: &Plan,
    data: Option<&ArrayViewD<'_, T>>,
) -> Result<()> {
    let layout = &plan.layout;
    if layout.len() == 0 {
        return Ok(());
    }
    copy.seq += 1;
    let seq = copy.seq;
    let header = copy.lease.header();
    if let Some(bytes) = &plan.inline {
        if header.try_claim(seq) {
            // Unaligned reads: the agreement's words carry bytes of any `T`.
            let src: Vec<T> = bytes
                .chunks_exact(std::mem::size_of::<T>())
                .map(bytemuck::pod_read_unaligned)
                .collect();
            store(copy, layout, 0, layout.len(), &src);
            return publish(copy, header, seq);
        }
        return wait(copy, header, seq);
    }
    let topology = &copy.topology;
    let me = topology.my_place();
    let source = topology
        .place(plan.source)
        .expect("the agreed source is a rank");
    let i_am_source = topology.comm().rank() == plan.source;
    let data = i_am_source.then(|| data.expect("the source has data").as_standard_layout());
    let src = data
        .as_ref()
        .map(|d| d.as_slice().expect("standard layout is contiguous"));
    if let Some(src) = src {
        store(copy, layout, 0, layout.len(), src);
        publish(copy, header, seq)?;
    }
    let leaders = topology.leader_comm().filter(|_| topology.nodes() > 1);
    let mut waited = i_am_source;
    if let Some(leaders) = leaders {
        let root = source.node as i32;
        if me.node != source.node {
            receive(copy, layout, leaders, root)?;
            return publish(copy, header, seq);
        }
        if !i_am_source {
            wait(copy, header, seq)?;
            waited = true;
        }
        send(copy, layout, leaders, root, src)?;
    }
    if !waited {
        wait(copy, header, seq)?;
    }
    Ok(())
}

/// *stores; `MPI_Win_sync`; publish*.
fn publish<T: Element>(copy: &NodeCopy<T>, header: &Header, seq: u64) -> Result<()> {
    copy.lease.sync()?;
    header.publish(seq);
    Ok(())
}

/// *wait; `MPI_Win_sync`* (then loads).
fn wait<T: Element>(copy: &NodeCopy<T>, header: &Header, seq: u64) -> Result<()> {
    header.wait(seq);
    copy.lease.sync()
}

/// Stores slab elements `start .. start + src.len()` (C order of the slab)
/// into the node copy.
fn store<T: Element>(copy: &NodeCopy<T>, layout: &SlabGeometry, start: usize, n: usize, src: &[T]) {
    debug_assert_eq!(src.len(), n);
    // SAFETY: every piece lies inside the node copy (bounds agreed in
    // `plan`); this process is its node's only writer for this write, and
    // nobody reads until it publishes (module documentation).
    layout.for_each_piece(start, n, |flat, at, k| unsafe {
        std::ptr::copy_nonoverlapping(src.as_ptr().add(at - start), copy.data.add(flat), k)
    });
}

/// Elements per broadcast piece.
fn stage_len<T>() -> usize {
    (STAGE_BYTES / std::mem::size_of::<T>()).max(1)
}

/// The source node's leader: broadcasts the slab to the other leaders,
/// from `src` when it is the source, else from its node's copy.
fn send<T: Element>(
    copy: &NodeCopy<T>,
    layout: &SlabGeometry,
    leaders: &OwnedComm,
    root: i32,
    src: Option<&[T]>,
) -> Result<()> {
    let mut staging: Vec<T> = Vec::new();
    for start in (0..layout.len()).step_by(stage_len::<T>()) {
        let n = stage_len::<T>().min(layout.len() - start);
        let from: *const T = match src {
            // SAFETY: `start + n <= src.len()`.
            Some(src) => unsafe { src.as_ptr().add(start) },
            // SAFETY: one run inside the node copy, which nobody writes now.
            None if layout.is_contiguous() => unsafe {
                copy.data.add(layout.run_origin(0) + start)
            },
            None => {
                staging.clear();
                // SAFETY: as in `store`, reading: the node copy is complete
                // and nobody writes it now.
                layout.for_each_piece(start, n, |flat, _, k| unsafe {
                    staging.extend_from_slice(std::slice::from_raw_parts(copy.data.add(flat), k))
                });
                staging.as_ptr()
            }
        };
        // SAFETY: the root only reads `n` elements at `from`.
        unsafe { leaders.broadcast_raw(root, from as *mut u8, n * std::mem::size_of::<T>())? };
    }
    Ok(())
}

/// Another node's leader: receives the slab into its node's copy.
fn receive<T: Element>(
    copy: &NodeCopy<T>,
    layout: &SlabGeometry,
    leaders: &OwnedComm,
    root: i32,
) -> Result<()> {
    let mut staging: Vec<T> = Vec::new();
    for start in (0..layout.len()).step_by(stage_len::<T>()) {
        let n = stage_len::<T>().min(layout.len() - start);
        if layout.is_contiguous() {
            // SAFETY: one run inside the node copy, which only this process
            // writes during the write, and nobody reads before it publishes.
            unsafe {
                let to = copy.data.add(layout.run_origin(0) + start);
                leaders.broadcast_raw(root, to as *mut u8, n * std::mem::size_of::<T>())?
            };
        } else {
            staging.resize(n, T::zeroed());
            // SAFETY: `staging` holds `n` writable elements.
            unsafe {
                leaders.broadcast_raw(
                    root,
                    staging.as_mut_ptr() as *mut u8,
                    n * std::mem::size_of::<T>(),
                )?
            };
            store(copy, layout, start, n, &staging);
        }
    }
    Ok(())
}

/// Checks a slab against the array shape (on the rank that passes it).
pub(super) fn check_slab<T>(
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
