//! `Sequential` (`mpi-lock`) on real MPI processes: mpi4py's
//! `test_util_sync.py` sequential cases, ported, with the order of entries
//! recorded in a scratch window.

mod common;

use common::sync::*;

use mpi::traits::*;
use mpi_lock::{Access, Counter, LockError, Sequential};
use shm_core::window::{Op, Rma};
use std::time::Duration;

mpi_test!(fn ranks_enter_in_rank_order_round_after_round(world, 4) {
    const ROUNDS: i64 = 6;
    let size = world.size() as i64;
    let rank = world.rank() as i64;
    for access in ACCESSES {
        let seq = Sequential::with_access(world, access).unwrap();
        if access == Access::Mpi {
            assert!(!seq.uses_cpu_atomics());
        }
        // Word 0 on rank 0: entries so far; word 1 on rank 0: ranks inside.
        let log = scratch(world, 2);
        let mut positions = Vec::new();
        for round in 0..ROUNDS {
            // Perturb the timing so that a missing wait shows: the last rank
            // arrives late (rank 0 of the next round must wait for it), and
            // some round a low rank dawdles inside.
            if rank == size - 1 && round % 2 == 0 {
                std::thread::sleep(Duration::from_millis(20));
            }
            let turn = seq.begin().unwrap();
            assert_eq!(turn.round() as i64, round + 1);
            assert!(seq.is_inside());
            assert_eq!(log.fetch_and_op(0, 1, 1, Op::Sum).unwrap(), 0, "two ranks in the section");
            let position = log.fetch_and_op(0, 0, 1, Op::Sum).unwrap();
            log.flush(0).unwrap();
            if rank == round % size {
                std::thread::sleep(Duration::from_millis(10));
            }
            assert_eq!(log.fetch_and_op(0, 1, -1, Op::Sum).unwrap(), 1);
            log.flush(0).unwrap();
            if round % 2 == 0 {
                turn.end().unwrap();
            } else {
                drop(turn); // dropping the guard ends the turn too
            }
            assert!(!seq.is_inside());
            positions.push(position);
        }
        // Entry number round * size + rank: rank order in every round, and
        // no rank of one round before every rank of the round before.
        let expected: Vec<i64> = (0..ROUNDS).map(|round| round * size + rank).collect();
        assert_eq!(positions, expected, "{access:?}");
        assert_eq!(seq.rounds(), ROUNDS as u64);
        world.barrier();
        drop(log);
        seq.close().unwrap();
    }
});

mpi_test!(fn counter_in_sequence_follows_rank_order(world, 4) {
    // mpi4py's testWith and testBeginEnd: a counter taken inside the section
    // gives each rank its own rank, three times over, with a new section
    // each time and with one section used three times.
    let size = world.size() as i64;
    for access in ACCESSES {
        for _ in 0..3 {
            let counter = Counter::options().access(access).create::<i64>(world).unwrap();
            let seq = Sequential::with_access(world, access).unwrap();
            let value = {
                let _turn = seq.begin().unwrap();
                counter.next().unwrap()
            };
            seq.close().unwrap();
            counter.close().unwrap();
            assert_eq!(gather(world, value), (0..size).collect::<Vec<_>>());
        }
        let seq = Sequential::with_access(world, access).unwrap();
        for _ in 0..3 {
            let counter = Counter::options().access(access).create::<i64>(world).unwrap();
            let turn = seq.begin().unwrap();
            let value = counter.next().unwrap();
            turn.end().unwrap();
            counter.close().unwrap();
            assert_eq!(gather(world, value), (0..size).collect::<Vec<_>>());
        }
        seq.close().unwrap();
    }
});

mpi_test!(fn misuse_is_an_error_not_a_hang(world, 4) {
    let rank = world.rank();
    for access in ACCESSES {
        let seq = Sequential::with_access(world, access).unwrap();
        // Entering twice without leaving: an error, and the first turn
        // still holds and ends normally.
        let turn = seq.begin().unwrap();
        assert_eq!(seq.begin().unwrap_err(), LockError::AlreadyEntered { what: "the sequential section" });
        assert!(seq.is_inside());
        turn.end().unwrap();
        // The section still works for everyone afterwards.
        for _ in 0..2 {
            drop(seq.begin().unwrap());
        }
        assert_eq!(seq.rounds(), 3);
        world.barrier();

        // A leaked turn: rank 2 forgets its guard, so rank 3 waits. At close
        // rank 2 lets it in first (nobody is left waiting), and every rank
        // reports the leak.
        let turn = seq.begin().unwrap();
        if rank == 2 {
            std::mem::forget(turn);
        } else {
            drop(turn);
        }
        assert_eq!(seq.close().unwrap_err(), LockError::HeldAtClose { rank: 2 }, "{access:?}");
    }
    // Dropping a section is collective too and frees everything.
    let seq = Sequential::new(world).unwrap();
    drop(seq.begin().unwrap());
    drop(seq);
    world.barrier();
});

#[test]
fn local_section_without_mpi() {
    let seq = Sequential::local();
    assert!(seq.is_local());
    assert_eq!((seq.rank(), seq.size()), (0, 1));
    for _ in 0..3 {
        let turn = seq.begin().unwrap();
        assert!(matches!(
            seq.begin().unwrap_err(),
            LockError::AlreadyEntered { .. }
        ));
        turn.end().unwrap();
    }
    seq.close().unwrap();
}
