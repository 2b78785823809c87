//! The sizes of a memory, and their checks.

use crate::layout::{WindowLayout, MAX_RANKS, MAX_SLOTS};

/// The sizes of a [`DistributedMemory`](crate::DistributedMemory), for
/// [`DistributedMemory::new`](crate::DistributedMemory::new).
///
/// ```
/// let config = dsm_kv::Config {
///     vars_per_slave: Some(100),
///     ..dsm_kv::Config::new(1000)
/// };
/// assert_eq!(config.max_per_slave, 1000);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Config {
    /// The number of `i64` slots every host (every rank but 0) lends (the
    /// seed's name).
    #[doc(alias = "slots_per_host")]
    pub max_per_slave: usize,
    /// The number of variable descriptors per host; `None` gives
    /// `max_per_slave + 8`, enough for a memory full of integers plus a few
    /// empty lists. Each costs 32 bytes on its host.
    pub vars_per_slave: Option<usize>,
}

/// How the ranks of a memory reach the data of its hosts, for
/// [`DistributedMemory::with_access`](crate::DistributedMemory::with_access).
///
/// [`DistributedMemory::new`](crate::DistributedMemory::new) takes
/// [`Access::Auto`], unless the environment variable `DSM_KV_ACCESS` says
/// otherwise ([`Access::from_env`]): `mixed` or `rma` run a whole program on
/// the path of a memory that spans nodes, or on RMA alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Access {
    /// When every rank of the communicator shares one node and MPI gives
    /// the window the unified memory model, the hosts' windows are
    /// allocated in shared memory (`MPI_Win_allocate_shared`) and every
    /// word moves by CPU atomics, loads and stores (no MPI call at all);
    /// otherwise as [`Access::Mixed`]. All ranks take the same path.
    #[default]
    Auto,
    /// One window over the communicator (`MPI_Win_allocate`), whose
    /// protocol words every rank reaches by MPI atomics; list elements and
    /// integer values of the hosts whose memory MPI maps into this process
    /// (the co-located ones, with an MPI that answers `MPI_Win_shared_query`
    /// for such windows, as MPICH 5 does) move by loads and
    /// stores, the others' by `MPI_Put` and `MPI_Get`. With an MPI that maps
    /// nothing this is [`Access::Rma`].
    Mixed,
    /// Every access is one-sided communication (`MPI_Win_allocate`,
    /// `MPI_Put`, `MPI_Get`), whatever the layout: for comparisons and
    /// tests.
    Rma,
}

impl Access {
    /// The access `DSM_KV_ACCESS` asks for: [`Access::Mixed`] for `mixed`,
    /// [`Access::Rma`] for `rma`, [`Access::Auto`] for `auto` or when it is
    /// not set; any other value is an error that names it.
    pub fn from_env() -> Result<Access, String> {
        match std::env::var("DSM_KV_ACCESS").as_deref() {
            Err(_) | Ok("auto") => Ok(Access::Auto),
            Ok("mixed") => Ok(Access::Mixed),
            Ok("rma") => Ok(Access::Rma),
            Ok(other) => Err(format!(
                "DSM_KV_ACCESS={other:?}: expected \"auto\", \"mixed\" or \"rma\""
            )),
        }
    }
}

impl Config {
    /// `max_per_slave` slots per host and the default number of descriptors.
    pub fn new(max_per_slave: usize) -> Config {
        Config {
            max_per_slave,
            vars_per_slave: None,
        }
    }

    /// The descriptors per host.
    pub(crate) fn descriptors(&self) -> usize {
        self.vars_per_slave
            .unwrap_or_else(|| self.max_per_slave.saturating_add(8))
    }

    /// The layout of every host's window for a communicator of `size`
    /// ranks, or why there is none.
    pub(crate) fn layout(&self, size: i32) -> Result<WindowLayout, String> {
        let (slots, descs) = (self.max_per_slave, self.descriptors());
        let layout = WindowLayout::new(slots, descs);
        if slots > MAX_SLOTS {
            Err(format!(
                "max_per_slave = {slots} is too large (at most 2^40 - 1)"
            ))
        } else if descs == 0 || descs > u32::MAX as usize {
            Err(format!(
                "vars_per_slave = {descs} must be between 1 and 2^32 - 1"
            ))
        } else if i64::from(size) > MAX_RANKS {
            Err(format!("{size} processes are too many (at most 2^23 - 1)"))
        } else {
            layout.ok_or_else(|| {
                format!("{slots} slots and {descs} descriptors per host do not fit in memory")
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_limits() {
        let config = Config::new(10);
        assert_eq!(config.descriptors(), 18);
        assert_eq!(config.layout(4), Ok(WindowLayout::new(10, 18).unwrap()));
        assert_eq!(Config::new(usize::MAX).descriptors(), usize::MAX);
        assert!(Config::new(MAX_SLOTS + 1)
            .layout(4)
            .unwrap_err()
            .contains("too large"));
        let largest = Config {
            vars_per_slave: Some(1),
            ..Config::new(MAX_SLOTS)
        };
        assert!(largest.layout(4).is_ok());
        assert!(
            Config::new(MAX_SLOTS).layout(4).is_err(),
            "too many descriptors"
        );
        let none = Config {
            vars_per_slave: Some(0),
            ..config
        };
        assert!(none.layout(4).unwrap_err().contains("vars_per_slave = 0"));
        let too_many = Config {
            vars_per_slave: Some(u32::MAX as usize + 1),
            ..config
        };
        assert!(too_many.layout(4).is_err());
        assert!(config.layout(1 << 23).unwrap_err().contains("too many"));
        assert!(config.layout((1 << 23) - 1).is_ok());
    }
}
