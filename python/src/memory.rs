//! The seed's distributed memory (dsm-kv) for Python: `int` and `list[int]`
//! variables lent by the ranks of a communicator, with `map`, `filter` and
//! `reduce` running Python callables on the calling rank.

use crate::comm;
use crate::errors::{self, Kind};
use dsm_kv::{Config, DistributedMemory, Value};
use pyo3::prelude::*;
use pyo3::types::PyList;

/// A variable of a distributed memory: a small handle any rank may use.
#[pyclass(frozen, eq, hash, module = "rma_toolkit._native")]
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct Var(pub(crate) dsm_kv::Var);

#[pymethods]
impl Var {
    /// The handle as two integers, to send to another rank.
    // Python methods take `&self`: PyO3 cannot pass a pyclass by value.
    #[allow(clippy::wrong_self_convention)]
    fn to_words(&self) -> (i64, i64) {
        let [a, b] = self.0.to_words();
        (a, b)
    }

    /// The handle from `to_words`.
    #[staticmethod]
    fn from_words(a: i64, b: i64) -> Var {
        Var(dsm_kv::Var::from_words([a, b]))
    }

    /// The rank that keeps the variable's descriptor.
    #[getter]
    fn host(&self) -> i32 {
        self.0.host()
    }

    fn __repr__(&self) -> String {
        format!("<Var {}>", self.0)
    }
}

/// The memory: rank 0 is the master, every other rank lends
/// `max_per_slave` slots.
#[pyclass(unsendable, module = "rma_toolkit._native")]
pub(crate) struct Memory(Option<DistributedMemory>);

impl Memory {
    fn get(&self) -> PyResult<&DistributedMemory> {
        self.0
            .as_ref()
            .ok_or_else(|| errors::raise(Kind::Other, "the distributed memory has quit"))
    }
}

/// A value from Python: an `int` or a sequence of `int`s.
fn value_of(value: &Bound<'_, PyAny>) -> PyResult<Value> {
    if let Ok(i) = value.extract::<i64>() {
        return Ok(Value::Int(i));
    }
    value
        .extract::<Vec<i64>>()
        .map(Value::List)
        .map_err(|_| errors::raise(Kind::Invalid, "the memory stores an int or a list of ints"))
}

/// Runs a Python callable inside a Rust closure that cannot fail: the first
/// exception is kept (and the closure gives `fallback`), to be raised when
/// the operation is over.
struct Callback<'py> {
    f: Bound<'py, PyAny>,
    error: Option<PyErr>,
}

impl<'py> Callback<'py> {
    fn call<T: for<'a> FromPyObject<'a, 'py>>(
        &mut self,
        args: impl pyo3::call::PyCallArgs<'py>,
        fallback: T,
    ) -> T {
        if self.error.is_some() {
            return fallback;
        }
        match self
            .f
            .call1(args)
            .and_then(|r| r.extract::<T>().map_err(Into::into))
        {
            Ok(v) => v,
            Err(e) => {
                self.error = Some(e);
                fallback
            }
        }
    }

    fn finish<T>(self, result: dsm_kv::Result<T>) -> PyResult<T> {
        let value = result.map_err(errors::kv)?;
        match self.error {
            Some(e) => Err(e),
            None => Ok(value),
        }
    }
}

#[pymethods]
impl Memory {
    /// Creates the memory over `comm` (collective; at least 2 ranks).
    #[new]
    #[pyo3(signature = (comm, max_per_slave=10))]
    fn new(comm: &Bound<'_, PyAny>, max_per_slave: usize) -> PyResult<Self> {
        let comm = comm::borrow(comm)?;
        let memory =
            DistributedMemory::new(&*comm, Config::new(max_per_slave)).map_err(errors::kv)?;
        Ok(Memory(Some(memory)))
    }

    /// This process's rank.
    #[getter]
    fn rank(&self) -> PyResult<i32> {
        Ok(self.get()?.rank())
    }

    /// `True` on rank 0.
    #[getter]
    fn is_master(&self) -> PyResult<bool> {
        Ok(self.get()?.is_master())
    }

    /// Slots lent by each host.
    #[getter]
    fn max_per_slave(&self) -> PyResult<usize> {
        Ok(self.get()?.max_per_slave())
    }

    /// Free slots over all hosts (a snapshot).
    fn free_slots(&self) -> PyResult<usize> {
        self.get()?.free_slots().map_err(errors::kv)
    }

    /// Stores an int or a list of ints and returns its variable.
    fn add(&self, value: &Bound<'_, PyAny>) -> PyResult<Var> {
        let value = value_of(value)?;
        self.get()?.add(value).map(Var).map_err(errors::kv)
    }

    /// The value: an int or a list.
    fn read<'py>(&self, py: Python<'py>, var: &Var) -> PyResult<Bound<'py, PyAny>> {
        match self.get()?.read(&var.0).map_err(errors::kv)? {
            Value::Int(i) => Ok(i.into_pyobject(py)?.into_any()),
            Value::List(l) => Ok(PyList::new(py, l)?.into_any()),
        }
    }

    /// Elements `start..stop` of a list, read without the rest (a snapshot,
    /// as `read`); an int reads as a list of one.
    fn read_range<'py>(
        &self,
        py: Python<'py>,
        var: &Var,
        start: usize,
        stop: usize,
    ) -> PyResult<Bound<'py, PyList>> {
        let values = self
            .get()?
            .read_range(&var.0, start..stop)
            .map_err(errors::kv)?;
        PyList::new(py, values)
    }

    /// Writes `value` at `index` (0 for an int); `False` when the variable
    /// was freed (the seed's boolean).
    #[pyo3(signature = (var, value, index=0))]
    fn modify(&self, var: &Var, value: i64, index: usize) -> PyResult<bool> {
        self.get()?.modify(&var.0, value, index).map_err(errors::kv)
    }

    /// Replaces every element `x` by `f(x)`, computed on this rank.
    fn map(&self, var: &Var, f: Bound<'_, PyAny>) -> PyResult<()> {
        let mut cb = Callback { f, error: None };
        let result = self.get()?.map(&var.0, |x| cb.call((x,), x));
        cb.finish(result)
    }

    /// Keeps the elements for which `f(x)` is true; returns the new length.
    fn filter(&self, var: &Var, f: Bound<'_, PyAny>) -> PyResult<usize> {
        let mut cb = Callback { f, error: None };
        let result = self.get()?.filter(&var.0, |x| {
            let keep: Bound<'_, PyAny> = cb.call(
                (x,),
                true.into_pyobject(cb.f.py())
                    .expect("bool")
                    .to_owned()
                    .into_any(),
            );
            keep.is_truthy().unwrap_or(true)
        });
        cb.finish(result)
    }

    /// Folds the elements: `f(...f(f(init, x0), x1)..., xn)`.
    fn reduce<'py>(
        &self,
        var: &Var,
        f: Bound<'py, PyAny>,
        init: Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let mut cb = Callback { f, error: None };
        let result = self.get()?.reduce(
            &var.0,
            |acc: Bound<'py, PyAny>, x| cb.call((acc.clone(), x), acc),
            init,
        );
        cb.finish(result)
    }

    /// Frees the variable.
    fn free(&self, var: &Var) -> PyResult<()> {
        self.get()?.free(var.0).map_err(errors::kv)
    }

    /// Ends the memory (collective: every rank calls it; hosts wait here
    /// until the master does).
    fn quit(&mut self) -> PyResult<()> {
        match self.0.take() {
            Some(m) => m.quit().map_err(errors::kv),
            None => Ok(()),
        }
    }
}
