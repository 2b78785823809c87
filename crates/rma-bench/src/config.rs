//! The settings of a run, and how many iterations each operation gets.

use crate::suites::{Op, Suite};
use std::path::PathBuf;

/// What the command line asked a run for.
#[derive(Debug, Clone)]
pub struct Config {
    /// The suites to run, in order, each once.
    pub suites: Vec<Suite>,
    /// Tiny iteration counts, for the smoke test.
    pub quick: bool,
    /// Adds the 10^8-element sizes.
    pub large: bool,
    /// Appends the rows to this CSV file (rank 0 only).
    pub out: Option<PathBuf>,
    /// Runs only these ops (all when empty).
    pub ops: Vec<Op>,
}

/// Calls per sample of an operation with no payload (see [`Plan::calls`]):
/// the clock's cost is then about a nanosecond per call.
pub const POINT_CALLS: usize = 20;

/// How many iterations an operation gets.
#[derive(Debug, Clone, Copy)]
pub struct Plan {
    /// Untimed iterations first.
    pub warmup: usize,
    /// Timed iterations.
    pub iters: usize,
    /// Calls per timed iteration, whose sample is their mean: more than one
    /// only for calls with no payload, which take tens of nanoseconds, as
    /// long as reading the clock twice (25 ns here), so that one call timed
    /// alone would measure the clock as much as the call.
    pub calls: usize,
}

impl Config {
    /// The plan for an operation on `size` elements (`None`: a synchronisation
    /// operation with no payload).
    pub fn plan(&self, size: Option<usize>) -> Plan {
        let n = size.unwrap_or(1);
        let plan = match (self.quick, n) {
            (true, n) if n >= 1_000_000 => Plan {
                warmup: 1,
                iters: 3,
                calls: 1,
            },
            (true, _) => Plan {
                warmup: 2,
                iters: 10,
                calls: 1,
            },
            (false, n) if n >= 100_000_000 => Plan {
                warmup: 1,
                iters: 5,
                calls: 1,
            },
            (false, n) if n >= 1_000_000 => Plan {
                warmup: 3,
                iters: 40,
                calls: 1,
            },
            (false, _) => Plan {
                warmup: 100,
                iters: 1000,
                calls: 1,
            },
        };
        match size {
            None if !self.quick => Plan {
                calls: POINT_CALLS,
                ..plan
            },
            _ => plan,
        }
    }

    /// The plan for an operation that is expensive per call (creating
    /// windows, contended locks on oversubscribed cores).
    pub fn plan_slow(&self) -> Plan {
        if self.quick {
            Plan {
                warmup: 1,
                iters: 5,
                calls: 1,
            }
        } else {
            Plan {
                warmup: 10,
                iters: 200,
                calls: 1,
            }
        }
    }

    /// The element counts of the size sweeps.
    pub fn sizes(&self) -> Vec<usize> {
        let mut sizes = vec![1, 1_000, 1_000_000];
        if self.large {
            sizes.push(100_000_000);
        }
        sizes
    }

    /// `true` if the command line lets `op` run.
    pub fn selects(&self, op: Op) -> bool {
        self.ops.is_empty() || self.ops.contains(&op)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(quick: bool) -> Config {
        Config {
            suites: Vec::new(),
            quick,
            large: false,
            out: None,
            ops: Vec::new(),
        }
    }

    #[test]
    fn only_full_runs_of_point_operations_batch_their_calls() {
        let full = config(false);
        assert_eq!(full.plan(None).calls, POINT_CALLS);
        for size in [1, 1_000, 1_000_000, 100_000_000] {
            assert_eq!(full.plan(Some(size)).calls, 1, "size {size}");
        }
        assert_eq!(full.plan_slow().calls, 1);
        let quick = config(true);
        assert_eq!(quick.plan(None).calls, 1);
        assert_eq!(quick.plan_slow().calls, 1);
    }
}
