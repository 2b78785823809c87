//! `mpi_lock::RwLock` on real MPI processes, under both kinds of access:
//! readers share, writers exclude, waiting writers are not starved.

mod common;

use common::sync::*;

use mpi::traits::*;
use mpi_lock::{Access, LockError, RwLock};
use shm_core::window::{LockedWindow, Op, Rma};
use shm_core::Error;

/// Words of the scratch window on rank 0.
const READERS: usize = 0;
const WRITERS: usize = 1;
const MAX_READERS: usize = 2;
const COUNTER: usize = 3;
const DONE: usize = 4;

/// Counts a reader in; checks that no writer is inside.
fn reader_enters(win: &LockedWindow<i64>) {
    let readers = add_word(win, 0, READERS, 1) + 1;
    win.fetch_and_op(0, MAX_READERS, readers, Op::Max).unwrap();
    assert_eq!(
        read_word(win, 0, WRITERS),
        0,
        "a reader got in while a writer writes"
    );
}

fn reader_leaves(win: &LockedWindow<i64>) {
    add_word(win, 0, READERS, -1);
}

/// Counts a writer in; checks that it is alone; bumps the counter with a
/// non-atomic read-modify-write (only correct if writers exclude).
fn writer_works(win: &LockedWindow<i64>) {
    assert_eq!(add_word(win, 0, WRITERS, 1), 0, "two writers inside");
    assert_eq!(
        read_word(win, 0, READERS),
        0,
        "a writer got in while readers read"
    );
    let mut value = [0i64];
    win.get(0, COUNTER, &mut value).unwrap();
    value[0] += 1;
    win.put(0, COUNTER, &value).unwrap();
    win.flush(0).unwrap();
    assert_eq!(add_word(win, 0, WRITERS, -1), 1);
}

mpi_test!(fn readers_overlap(world, 4) {
    for access in ACCESSES {
        let lock = RwLock::options().access(access).create(world).unwrap();
        let win = scratch(world, 8);
        world.barrier();
        let guard = lock.read().unwrap();
        reader_enters(&win);
        // Every rank is inside at once: with exclusive readers this barrier
        // would never complete.
        world.barrier();
        assert_eq!(read_word(&win, 0, READERS), world.size() as i64);
        world.barrier();
        reader_leaves(&win);
        guard.unlock().unwrap();
        world.barrier();
        assert_eq!(read_word(&win, 0, MAX_READERS), world.size() as i64);
        assert_eq!(read_word(&win, 0, READERS), 0);
        drop(win);
        lock.close().unwrap();
    }
});

mpi_test!(fn writers_exclude_readers_and_writers(world, 4) {
    const ROUNDS: i64 = 24;
    let rank = world.rank() as i64;
    for access in ACCESSES {
        let lock = RwLock::options().access(access).root(2).create(world).unwrap();
        let win = scratch(world, 8);
        world.barrier();
        let mut writes = 0;
        let mut last_ticket = 0;
        for round in 0..ROUNDS {
            if (round + rank) % 3 == 0 {
                let guard = lock.write().unwrap();
                // Writers are served in request order: tickets grow.
                assert!(guard.ticket() > last_ticket);
                last_ticket = guard.ticket();
                writer_works(&win);
                writes += 1;
                guard.unlock().unwrap();
            } else {
                let guard = lock.read().unwrap();
                reader_enters(&win);
                // A nested read costs nothing and is allowed.
                let nested = lock.read().unwrap();
                assert!(lock.is_reading());
                drop(nested);
                reader_leaves(&win);
                drop(guard);
            }
        }
        world.barrier();
        let mut total = 0i64;
        world.all_reduce_into(&writes, &mut total, mpi::collective::SystemOperation::sum());
        assert_eq!(read_word(&win, 0, COUNTER), total);
        assert_eq!(read_word(&win, 0, READERS) + read_word(&win, 0, WRITERS), 0);
        drop(win);
        lock.close().unwrap();
    }
});

mpi_test!(fn a_waiting_writer_is_not_starved_by_readers(world, 4) {
    // Ranks 1.. read in a loop, overlapping, so that some reader is nearly
    // always inside; rank 0 writes once. A read that starts after the
    // writer has announced itself must wait for it, and the writer gets in
    // within a bounded number of reader rounds.
    const MAX_ROUNDS: i64 = 400;
    for access in ACCESSES {
        let lock = RwLock::options().access(access).create(world).unwrap();
        let win = scratch(world, 8);
        world.barrier();
        if world.rank() == 0 {
            // Let the readers get going first.
            while read_word(&win, 0, COUNTER) < 3 * (world.size() as i64 - 1) {
                std::thread::yield_now();
            }
            let guard = lock.write().unwrap();
            assert_eq!(read_word(&win, 0, READERS), 0);
            add_word(&win, 0, DONE, 1);
            guard.unlock().unwrap();
        } else {
            let mut rounds = 0;
            while read_word(&win, 0, DONE) == 0 {
                assert!(rounds < MAX_ROUNDS, "the writer starved for {rounds} reader rounds");
                let announced = lock.is_write_pending().unwrap();
                let guard = lock.read().unwrap();
                reader_enters(&win);
                if announced {
                    // This read began after the writer announced itself.
                    assert_eq!(read_word(&win, 0, DONE), 1, "a read overtook a waiting writer");
                }
                add_word(&win, 0, COUNTER, 1);
                std::thread::sleep(std::time::Duration::from_micros(200));
                reader_leaves(&win);
                drop(guard);
                rounds += 1;
            }
        }
        world.barrier();
        drop(win);
        lock.close().unwrap();
    }
});

mpi_test!(fn try_read_and_try_write_fail_on_conflict(world, 4) {
    let rank = world.rank();
    for access in ACCESSES {
        let lock = RwLock::options().access(access).create(world).unwrap();
        // Rank 0 writes: nobody else may read or write.
        let writing = if rank == 0 { Some(lock.write().unwrap()) } else { None };
        world.barrier();
        if rank != 0 {
            assert!(lock.try_read().unwrap().is_none(), "try_read while a writer holds");
            assert!(lock.try_write().unwrap().is_none(), "try_write while a writer holds");
            assert!(lock.is_write_pending().unwrap());
        }
        world.barrier();
        drop(writing);
        world.barrier();
        // Rank 1 reads: others may read too, but not write.
        let reading = if rank == 1 { Some(lock.read().unwrap()) } else { None };
        world.barrier();
        if rank != 1 {
            assert!(lock.try_write().unwrap().is_none(), "try_write while a reader holds");
        }
        // A try_write announces itself for a moment, which fails concurrent
        // try_reads: the phases are apart.
        world.barrier();
        if rank != 1 {
            let shared = lock.try_read().unwrap();
            assert!(shared.is_some(), "try_read while only readers hold");
        }
        world.barrier();
        drop(reading);
        world.barrier();
        // Free: a lone rank's try_write succeeds.
        if rank == 3 {
            let guard = lock.try_write().unwrap().expect("the lock is free");
            assert!(lock.is_writing());
            drop(guard);
        }
        world.barrier();
        lock.close().unwrap();
    }
});

mpi_test!(fn misuse_gives_typed_errors(world, 4) {
    let rank = world.rank();
    for access in ACCESSES {
        let lock = RwLock::options().access(access).create(world).unwrap();
        {
            let _r = lock.read().unwrap();
            let expected = LockError::SelfDeadlock { held: "reading", requested: "writing" };
            assert_eq!(lock.write().unwrap_err(), expected);
            assert_eq!(lock.try_write().unwrap_err(), expected);
        }
        world.barrier();
        if rank == 2 {
            let _w = lock.write().unwrap();
            assert_eq!(
                lock.read().unwrap_err(),
                LockError::SelfDeadlock { held: "writing", requested: "reading" }
            );
            assert_eq!(
                lock.write().unwrap_err(),
                LockError::SelfDeadlock { held: "writing", requested: "writing" }
            );
        }
        world.barrier();
        // A leaked write guard is released at close (so rank 0, waiting to
        // read, gets in) and reported on every rank.
        if rank == 1 {
            std::mem::forget(lock.write().unwrap());
        }
        world.barrier();
        if rank == 0 {
            drop(lock.read().unwrap());
        }
        assert_eq!(lock.close().unwrap_err(), LockError::HeldAtClose { rank: 1 });
    }
    // Bad collective input: the same error on every rank.
    let err = RwLock::options().root(-1).create(world).unwrap_err();
    assert!(matches!(&err, LockError::Core(Error::Invalid { message, .. }) if message.contains("outside")), "{err}");
    let access = if rank == 3 { Access::Mpi } else { Access::Auto };
    let err = RwLock::options().access(access).create(world).unwrap_err();
    assert!(matches!(&err, LockError::Core(Error::Invalid { message, .. }) if message.contains("differ")), "{err}");
    world.barrier();
});
