//! The communicator helpers of shm-core on real MPI processes.

mod common;

use mpi::traits::*;
use shm_core::window::{Op, Rma, Window};
use shm_core::OwnedComm;
use std::time::Duration;

mpi_test!(fn idle_barrier_waits_for_every_rank(world, 4) {
    let (rank, size) = (world.rank(), world.size() as i64);
    let comm = OwnedComm::duplicate(world).unwrap();
    let win = Window::<i64>::allocate(world, 1).unwrap();
    let epoch = win.lock_all().unwrap();
    for round in 1..=3 {
        // Ranks arrive late by different amounts, the last one last.
        std::thread::sleep(Duration::from_millis(10 * rank as u64));
        epoch.fetch_and_op(0, 0, 1, Op::Sum).unwrap();
        epoch.flush_all().unwrap();
        comm.barrier_idle().unwrap();
        // Every rank's arrival is counted before any rank leaves.
        let arrived = epoch.fetch_and_op(0, 0, 0, Op::NoOp).unwrap();
        assert!(arrived >= round * size, "round {round}: {arrived} arrivals");
        comm.barrier_idle().unwrap();
    }
    drop(epoch);
    world.barrier();
});
