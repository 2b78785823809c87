//! What each worker of a [`Cluster::run`] receives (pydsm's `resource`).

use crate::cluster::Cluster;

/// A worker's view of a [`Cluster`] during [`Cluster::run`]: its id, the
/// number of workers, static splits of the work, and (through `Deref` to
/// the cluster) the named arrays and locks: [`Cluster::shared`],
/// [`Cluster::shared_mut`], [`Cluster::lock`], [`Cluster::set_each`],
/// [`Cluster::set_at`], [`Cluster::barrier`].
pub struct Resources<'c> {
    cluster: &'c mut Cluster,
}

impl<'c> Resources<'c> {
    pub(crate) fn new(cluster: &'c mut Cluster) -> Self {
        Resources { cluster }
    }

    /// This worker's indices of `0..n` (pydsm's `splitIndices(n, id)`;
    /// [`shm_core::split_indices`]): one contiguous block without a seed,
    /// or a block of a seeded shuffle of `0..n` (the same on every rank),
    /// which balances work whose cost varies along the range.
    pub fn split_indices(&self, n: usize, shuffle_seed: Option<u64>) -> Vec<usize> {
        shm_core::split_indices(n, self.id(), self.workers(), shuffle_seed)
    }
}

impl std::ops::Deref for Resources<'_> {
    type Target = Cluster;
    fn deref(&self) -> &Cluster {
        self.cluster
    }
}

impl std::ops::DerefMut for Resources<'_> {
    fn deref_mut(&mut self) -> &mut Cluster {
        self.cluster
    }
}

impl std::fmt::Debug for Resources<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Resources")
            .field("id", &self.id())
            .field("workers", &self.workers())
            .finish()
    }
}
