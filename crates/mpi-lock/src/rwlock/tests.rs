//! The in-process (local) mode of the RwLock.

use super::*;

#[test]
fn local_reads_nest_and_conflicts_are_errors() {
    let lock = RwLock::local();
    assert!(lock.is_local());
    assert_eq!((lock.rank(), lock.size()), (0, 1));
    let a = lock.read().unwrap();
    let b = lock.try_read().unwrap().expect("reads nest");
    assert!(lock.is_reading());
    assert_eq!(
        lock.write().unwrap_err(),
        LockError::SelfDeadlock {
            held: "reading",
            requested: "writing"
        }
    );
    assert!(lock.try_write().is_err());
    drop(a);
    assert!(lock.is_reading());
    b.unlock().unwrap();
    assert!(!lock.is_reading());
    let w = lock.write().unwrap();
    assert!(lock.is_writing() && lock.is_write_pending().unwrap());
    assert_eq!(
        lock.read().unwrap_err(),
        LockError::SelfDeadlock {
            held: "writing",
            requested: "reading"
        }
    );
    assert_eq!(
        lock.try_write().unwrap_err(),
        LockError::SelfDeadlock {
            held: "writing",
            requested: "writing"
        }
    );
    w.unlock().unwrap();
    assert!(!lock.is_writing());
    lock.close().unwrap();
}

#[test]
fn leaked_local_guard_is_reported_at_close() {
    let lock = RwLock::local();
    std::mem::forget(lock.write().unwrap());
    assert_eq!(
        lock.close().unwrap_err(),
        LockError::HeldAtClose { rank: 0 }
    );
}
