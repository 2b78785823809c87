//! The functions a pool can run, by name.
//!
//! Functions cross process boundaries by identity, not by value: in an SPMD
//! program every rank runs the same code, so every rank builds the same
//! registry and a task travels as a name plus serialised arguments. (A `fn`
//! pointer is no identity across processes: with address-space layout
//! randomisation the same function sits at different addresses.)

use crate::error::{FailureKind, PoolError};
use crate::wire;
use mpi::topology::SimpleCommunicator;
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt::Display;
use std::hash::{Hash, Hasher};
use std::marker::PhantomData;

/// A task function after type erasure: encoded argument and the group's
/// communicator in, encoded result (or the reason it failed) out.
type Runner = Box<dyn Fn(&[u8], &SimpleCommunicator) -> Result<Vec<u8>, (FailureKind, String)>>;

/// The functions a [`Pool`](crate::Pool) can run, each under a name.
///
/// Build it the same way on every rank (the pool checks, when created, that
/// the names agree). [`register`](Self::register) returns a typed [`Task`]
/// handle that [`Driver::map`](crate::Driver::map) and
/// [`Driver::submit`](crate::Driver::submit) take.
///
/// ```
/// let mut registry = mpi_pool::Registry::new();
/// let square = registry.register("square", |x: i64| Ok::<_, String>(x * x));
/// assert_eq!(square.name(), "square");
/// ```
#[derive(Default)]
pub struct Registry {
    functions: BTreeMap<String, Runner>,
    duplicate: Option<String>,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registry")
            .field("functions", &self.functions.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl Registry {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers `f` under `name`; it runs on one worker rank per task.
    ///
    /// `f` may return any error that implements `Display`; its text reaches
    /// the driver in [`PoolError::Task`]. Registering a name twice is
    /// reported by [`Pool::new`](crate::Pool::new) on every rank.
    pub fn register<A, R, E, F>(&mut self, name: &str, f: F) -> Task<A, R>
    where
        A: DeserializeOwned,
        R: Serialize,
        E: Display,
        F: Fn(A) -> Result<R, E> + 'static,
    {
        self.register_with_comm(name, move |arg: A, _: &SimpleCommunicator| f(arg))
    }

    /// Registers `f` under `name`; it also receives the communicator of the
    /// ranks that run the task together (`cores_per_task` of them, see
    /// [`PoolOptions`](crate::PoolOptions)), for collectives inside the task.
    /// Every rank of the group calls `f` with the same argument; the result
    /// of the group's rank 0 is the task's result.
    pub fn register_with_comm<A, R, E, F>(&mut self, name: &str, f: F) -> Task<A, R>
    where
        A: DeserializeOwned,
        R: Serialize,
        E: Display,
        F: Fn(A, &SimpleCommunicator) -> Result<R, E> + 'static,
    {
        let runner: Runner = Box::new(move |bytes, comm| {
            let arg: A = wire::decode(bytes, "decode the argument")
                .map_err(|e| (FailureKind::BadArgument, e.to_string()))?;
            let result = f(arg, comm).map_err(|e| (FailureKind::Returned, e.to_string()))?;
            wire::encode(&result, "encode the result")
                .map_err(|e| (FailureKind::Returned, e.to_string()))
        });
        if self.functions.insert(name.to_string(), runner).is_some() && self.duplicate.is_none() {
            self.duplicate = Some(name.to_string());
        }
        Task {
            name: name.to_string(),
            types: PhantomData,
        }
    }

    /// The function registered under `name`.
    pub(crate) fn get(&self, name: &str) -> Option<&Runner> {
        self.functions.get(name)
    }

    /// `true` when a function is registered under `name`.
    pub fn contains(&self, name: &str) -> bool {
        self.functions.contains_key(name)
    }

    /// The registered names, in order.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.functions.keys().map(String::as_str)
    }

    /// What is wrong with this registry on this rank.
    pub(crate) fn check(&self) -> Result<(), String> {
        match &self.duplicate {
            Some(name) => Err(PoolError::DuplicateName(name.clone()).to_string()),
            None => Ok(()),
        }
    }

    /// A digest of the names, the same on ranks that registered the same
    /// names (`DefaultHasher::new` has fixed keys, and every rank runs the
    /// same executable).
    pub(crate) fn fingerprint(&self) -> i64 {
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        for name in self.functions.keys() {
            name.hash(&mut hasher);
        }
        hasher.finish() as i64
    }
}

/// A registered function, typed by its argument `A` and result `R`: what
/// [`Driver::map`](crate::Driver::map) and
/// [`Driver::submit`](crate::Driver::submit) take. Cheap to clone.
pub struct Task<A, R> {
    name: String,
    types: PhantomData<fn(A) -> R>,
}

impl<A, R> Task<A, R> {
    /// The name it was registered under.
    pub fn name(&self) -> &str {
        &self.name
    }
}

impl<A, R> Clone for Task<A, R> {
    fn clone(&self) -> Self {
        Task {
            name: self.name.clone(),
            types: PhantomData,
        }
    }
}

impl<A, R> std::fmt::Debug for Task<A, R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Task").field(&self.name).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprints_follow_the_names_and_duplicates_are_found() {
        let mut a = Registry::new();
        a.register("x", |v: i32| Ok::<_, String>(v));
        a.register("y", |v: i32| Ok::<_, String>(v));
        let mut b = Registry::new();
        b.register("y", |v: u8| Ok::<_, String>(v));
        b.register("x", |v: i32| Ok::<_, String>(v));
        assert_eq!(a.fingerprint(), b.fingerprint());
        b.register("z", |v: i32| Ok::<_, String>(v));
        assert_ne!(a.fingerprint(), b.fingerprint());
        assert!(a.check().is_ok());
        a.register("x", |v: i32| Ok::<_, String>(v + 1));
        assert!(a
            .check()
            .unwrap_err()
            .contains("\"x\" was registered twice"));
    }

    #[test]
    fn names_are_listed_in_order() {
        let mut r = Registry::new();
        r.register("half", |v: u32| Ok::<_, String>(v / 2));
        r.register("double", |v: u32| Ok::<_, String>(v * 2));
        assert!(r.contains("half") && !r.contains("third"));
        assert_eq!(r.names().collect::<Vec<_>>(), vec!["double", "half"]);
    }
}
