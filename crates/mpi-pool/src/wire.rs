//! The messages between the driver, the workers and the ranks of a group,
//! and their encoding (postcard: a documented, stable and compact serde
//! format; every rank runs the same executable, so no schema evolution is
//! needed).

use crate::error::{FailureKind, PoolError};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

/// Tag of the messages a group's leader sends the driver ([`Ready`]).
pub(crate) const TAG_READY: i32 = 1;
/// Tag of the messages the driver sends a leader ([`Order`]).
pub(crate) const TAG_ORDER: i32 = 2;
/// Tag of the outcomes a group's other ranks send their leader.
pub(crate) const TAG_OUTCOMES: i32 = 3;

/// One task as it travels to a worker.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct Job {
    /// The driver's identifier of the task.
    pub id: u64,
    /// The registered name of the function.
    pub function: String,
    /// The encoded argument.
    pub arg: Vec<u8>,
}

/// Why a task failed, as it travels back.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Failure {
    pub kind: FailureKind,
    /// The failing rank, in the pool's communicator.
    pub rank: i32,
    pub message: String,
}

/// One task's outcome: its encoded result or why it failed.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct Outcome {
    pub id: u64,
    pub result: Result<Vec<u8>, Failure>,
}

/// Driver to leader, and leader to the rest of its group.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) enum Order {
    /// Run these tasks, then ask again.
    Run(Vec<Job>),
    /// The pool is closed: leave the worker loop.
    Stop,
}

/// Leader to driver: the outcomes of the last chunk (none at the start), and
/// a request for the next.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct Ready(pub Vec<Outcome>);

/// Encodes `value`; `what` names it in the error.
pub(crate) fn encode<T: Serialize + ?Sized>(
    value: &T,
    what: &'static str,
) -> Result<Vec<u8>, PoolError> {
    postcard::to_allocvec(value).map_err(|e| PoolError::Wire {
        what,
        message: e.to_string(),
    })
}

/// Decodes a `T`; `what` names it in the error.
pub(crate) fn decode<T: DeserializeOwned>(
    bytes: &[u8],
    what: &'static str,
) -> Result<T, PoolError> {
    postcard::from_bytes(bytes).map_err(|e| PoolError::Wire {
        what,
        message: e.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn orders_and_requests_round_trip() {
        let order = Order::Run(vec![Job {
            id: 9,
            function: "f".into(),
            arg: encode(&(1u8, "two"), "test").unwrap(),
        }]);
        let Order::Run(jobs) = decode::<Order>(&encode(&order, "test").unwrap(), "test").unwrap()
        else {
            panic!("not a run order");
        };
        assert_eq!((jobs[0].id, jobs[0].function.as_str()), (9, "f"));
        let arg: (u8, String) = decode(&jobs[0].arg, "test").unwrap();
        assert_eq!(arg, (1, "two".to_string()));
        let err = decode::<u64>(&[], "decode a result").unwrap_err();
        assert!(
            err.to_string().starts_with("cannot decode a result"),
            "{err}"
        );
    }
}
