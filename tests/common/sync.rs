//! What the tests of the sync toolkit share: both kinds of access, a scratch
//! window to count in, and the reductions their checks use.

use mpi::topology::SimpleCommunicator;
use mpi::traits::*;
use mpi_lock::Access;
use shm_core::window::{LockedWindow, Op, Rma, Window};

/// Both ways an object reaches its words: CPU atomics where every rank
/// shares a node (MPI atomics otherwise, as on the multi-node bed), and MPI
/// atomics.
pub const ACCESSES: [Access; 2] = [Access::Auto, Access::Mpi];

/// A scratch window of `len` i64 words per rank, in a lock_all epoch.
pub fn scratch(world: &SimpleCommunicator, len: usize) -> LockedWindow<i64> {
    Window::<i64>::allocate(world, len)
        .unwrap()
        .into_locked(true)
        .unwrap()
}

/// Word `disp` of `rank`, read atomically.
pub fn read_word(win: &LockedWindow<i64>, rank: i32, disp: usize) -> i64 {
    win.fetch_and_op(rank, disp, 0, Op::NoOp).unwrap()
}

/// Adds `delta` to word `disp` of `rank` atomically, completed at the
/// target; returns the value before.
pub fn add_word(win: &LockedWindow<i64>, rank: i32, disp: usize, delta: i64) -> i64 {
    let old = win.fetch_and_op(rank, disp, delta, Op::Sum).unwrap();
    win.flush(rank).unwrap();
    old
}

/// Every rank's `mine`, in rank order.
pub fn gather(world: &SimpleCommunicator, mine: i64) -> Vec<i64> {
    let mut all = vec![0i64; world.size() as usize];
    world.all_gather_into(&mine, &mut all[..]);
    all
}

/// The sum of every rank's `value`.
pub fn sum(world: &SimpleCommunicator, value: i64) -> i64 {
    let mut total = 0i64;
    world.all_reduce_into(&value, &mut total, mpi::collective::SystemOperation::sum());
    total
}
