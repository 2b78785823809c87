//! `SharedArray`: an `MpiShared<T>` for each numpy dtype the toolkit
//! supports, with zero-copy numpy views of the node copy.

use crate::comm;
use crate::errors::{self, Kind};
use numpy::{Element as NumpyElement, PyArray, PyReadonlyArrayDyn};
use numpy::{PyUntypedArray, PyUntypedArrayMethods};
use pyo3::prelude::*;
use shm_core::{Element, MpiShared, NodeTopology, Slab};
use std::sync::Arc;

/// One array of each element type.
enum Typed {
    I8(MpiShared<i8>),
    I16(MpiShared<i16>),
    I32(MpiShared<i32>),
    I64(MpiShared<i64>),
    U8(MpiShared<u8>),
    U16(MpiShared<u16>),
    U32(MpiShared<u32>),
    U64(MpiShared<u64>),
    F32(MpiShared<f32>),
    F64(MpiShared<f64>),
}

/// Runs `$body` with `$a` bound to the typed array, whatever its type.
macro_rules! each_type {
    ($typed:expr, $a:ident => $body:expr) => {
        match $typed {
            Typed::I8($a) => $body,
            Typed::I16($a) => $body,
            Typed::I32($a) => $body,
            Typed::I64($a) => $body,
            Typed::U8($a) => $body,
            Typed::U16($a) => $body,
            Typed::U32($a) => $body,
            Typed::U64($a) => $body,
            Typed::F32($a) => $body,
            Typed::F64($a) => $body,
        }
    };
}

/// Where an array's node layout comes from.
enum Nodes {
    /// No MPI (pshmem's `comm=None`).
    Local,
    /// Found from the communicator, cached on it.
    Found(Arc<NodeTopology>),
}

impl Typed {
    fn create(dtype: &str, shape: &[usize], nodes: &Nodes) -> shm_core::Result<Typed> {
        fn make<T: Element>(shape: &[usize], nodes: &Nodes) -> shm_core::Result<MpiShared<T>> {
            match nodes {
                Nodes::Local => MpiShared::local(shape),
                Nodes::Found(t) => MpiShared::with_topology(shape, t.clone()),
            }
        }
        Ok(match dtype {
            "int8" => Typed::I8(make(shape, nodes)?),
            "int16" => Typed::I16(make(shape, nodes)?),
            "int32" => Typed::I32(make(shape, nodes)?),
            "int64" => Typed::I64(make(shape, nodes)?),
            "uint8" => Typed::U8(make(shape, nodes)?),
            "uint16" => Typed::U16(make(shape, nodes)?),
            "uint32" => Typed::U32(make(shape, nodes)?),
            "uint64" => Typed::U64(make(shape, nodes)?),
            "float32" => Typed::F32(make(shape, nodes)?),
            "float64" => Typed::F64(make(shape, nodes)?),
            other => {
                return Err(shm_core::Error::Usage(format!(
                    "dtype {other} is not supported (int8-64, uint8-64, float32, float64 are)"
                )))
            }
        })
    }
}

/// An n-dimensional array kept once per node in shared memory and
/// replicated to every node by a collective `set`.
#[pyclass(unsendable, module = "rma_toolkit._native")]
pub(crate) struct SharedArray {
    /// `None` once closed.
    typed: Option<Typed>,
    shape: Vec<usize>,
    dtype: String,
}

impl SharedArray {
    fn typed(&self) -> PyResult<&Typed> {
        self.typed
            .as_ref()
            .ok_or_else(|| errors::raise(Kind::Other, "the MPIShared array is closed"))
    }
}

/// The slab a rank passes: its array as a view when it has the array's
/// element type, rejected (on every rank, by the collective) otherwise.
fn write<T: Element + NumpyElement>(
    array: &mut MpiShared<T>,
    data: Option<&Bound<'_, PyAny>>,
    offset: &[usize],
    fromrank: Option<i32>,
    problem: Option<String>,
) -> shm_core::Result<()> {
    if let Some(problem) = problem {
        let slab = Slab::rejected(problem);
        return match fromrank {
            Some(r) => array.set(slab, offset, r),
            None => array.assign(slab, offset),
        };
    }
    let readonly = data.and_then(|d| d.extract::<PyReadonlyArrayDyn<'_, T>>().ok());
    let view = readonly.as_ref().map(|a| a.as_array());
    let slab = match (data, &view) {
        (None, _) => Slab::none(),
        (Some(_), Some(v)) => Slab::from(v),
        (Some(d), None) => Slab::rejected(match d.cast::<PyUntypedArray>() {
            Ok(a) => format!(
                "input data type ({}) incompatible with buffer ({})",
                a.dtype().str().map(|s| s.to_string()).unwrap_or_default(),
                T::NAME
            ),
            Err(_) => "the data to set must be a numpy array".to_string(),
        }),
    };
    match fromrank {
        Some(r) => array.set(slab, offset, r),
        None => array.assign(slab, offset),
    }
}

#[pymethods]
impl SharedArray {
    /// Creates a zeroed array (collective over `comm`; local when `comm` is
    /// None). `comm_node`, when given, is the caller's node communicator.
    #[new]
    #[pyo3(signature = (shape, dtype, comm=None, comm_node=None))]
    fn new(
        shape: Vec<usize>,
        dtype: &str,
        comm: Option<&Bound<'_, PyAny>>,
        comm_node: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Self> {
        let nodes = match (comm, comm_node) {
            (None, _) => Nodes::Local,
            (Some(c), None) => {
                Nodes::Found(NodeTopology::of(&*comm::borrow(c)?).map_err(errors::core)?)
            }
            (Some(c), Some(n)) => {
                let (c, n) = (comm::borrow(c)?, comm::borrow(n)?);
                Nodes::Found(Arc::new(
                    NodeTopology::with_node_comm(&*c, &*n).map_err(errors::core)?,
                ))
            }
        };
        let typed = Typed::create(dtype, &shape, &nodes).map_err(errors::core)?;
        Ok(SharedArray {
            typed: Some(typed),
            shape,
            dtype: dtype.to_string(),
        })
    }

    /// Writes `data` from rank `fromrank` at `offset` into every node's
    /// copy (collective). With `fromrank` None, the source is the one rank
    /// that passes data (pshmem's `shm[slices] = data`). A `problem` found
    /// in this rank's arguments fails the write on every rank with it.
    #[pyo3(signature = (data, offset, fromrank=None, problem=None))]
    fn set(
        &mut self,
        data: Option<&Bound<'_, PyAny>>,
        offset: Vec<usize>,
        fromrank: Option<i32>,
        problem: Option<String>,
    ) -> PyResult<()> {
        let typed = self
            .typed
            .as_mut()
            .ok_or_else(|| errors::raise(Kind::Other, "the MPIShared array is closed"))?;
        each_type!(typed, a => write(a, data, &offset, fromrank, problem.clone()))
            .map_err(errors::core)
    }

    /// A read-only numpy array over this node's copy, sharing its memory
    /// (no copy). It keeps this object alive; it must not be used after
    /// `close()`, and it sees the values other ranks `set`.
    fn view<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyAny>> {
        let this = slf.borrow();
        let container = slf.clone().into_any();
        let array = each_type!(this.typed()?, a => {
            // The view's base is this object, which keeps the node copy until
            // close() (views must not outlive it: python/rma_toolkit/shared.py).
            // SAFETY: the data is valid while the base lives; numpy only reads
            // it (the writeable flag is cleared below).
            unsafe { PyArray::borrow_from_array(&a.view(), container) }.into_any()
        });
        array.getattr("flags")?.setattr("writeable", false)?;
        Ok(array)
    }

    /// Frees this rank's use of the memory (collective in order, but without
    /// communication). A closed array stays closed; views must be gone.
    fn close(&mut self) -> PyResult<()> {
        match self.typed.take() {
            Some(t) => each_type!(t, a => a.close()).map_err(errors::core),
            None => Ok(()),
        }
    }

    /// `True` once closed.
    #[getter]
    fn closed(&self) -> bool {
        self.typed.is_none()
    }

    /// The shape.
    #[getter]
    fn shape(&self) -> Vec<usize> {
        self.shape.clone()
    }

    /// The numpy name of the element type.
    #[getter]
    fn dtype(&self) -> &str {
        &self.dtype
    }

    /// (nodes, processes on this node, processes in all), as pshmem's repr
    /// prints them; (1, 1, 1) without MPI.
    #[getter]
    fn layout(&self) -> PyResult<(usize, usize, usize)> {
        let topology = each_type!(self.typed()?, a => a.topology().cloned());
        Ok(match topology {
            Some(t) => (
                t.nodes(),
                t.node_comm().size() as usize,
                t.comm().size() as usize,
            ),
            None => (1, 1, 1),
        })
    }
}
