//! Catching a task's panic on a worker.
//!
//! `catch_unwind` stops the unwinding, but the panic hook runs before any
//! unwinding starts, and the toolkit's hook ([`shm_core::abort_on_panic`])
//! ends the whole job with `MPI_Abort`. So while its worker loop runs, a
//! worker puts a hook of its own in front: a panic on this thread *inside a
//! task* is recorded (message and location) for the driver and goes no
//! further; any other panic goes to the previous hook as before, so a bug in
//! the pool itself still ends the job. The previous hook is restored when
//! the loop ends.

use std::cell::{Cell, RefCell};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;

thread_local! {
    /// `true` while this thread runs a task.
    static IN_TASK: Cell<bool> = const { Cell::new(false) };
    /// The message of the task panic the hook saw last on this thread.
    static CAUGHT: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// The task-aware panic hook, in place until dropped.
pub(crate) struct TaskPanicHook {
    /// Puts the previous hook back (a closure, so that the hook's type,
    /// which changed name in Rust 1.81, need not be written down).
    restore: Option<Box<dyn FnOnce()>>,
}

impl TaskPanicHook {
    /// Puts the task-aware hook in front of the current one. Must not be
    /// called while panicking (`std::panic::set_hook` would panic).
    pub(crate) fn install() -> Self {
        let previous = Arc::new(std::panic::take_hook());
        let behind = Arc::clone(&previous);
        std::panic::set_hook(Box::new(move |info| {
            if IN_TASK.with(Cell::get) {
                let message = info
                    .payload()
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| info.payload().downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "(a panic payload that is not a string)".into());
                let location = info
                    .location()
                    .map(|l| format!(" at {l}"))
                    .unwrap_or_default();
                CAUGHT.with(|c| *c.borrow_mut() = Some(format!("{message}{location}")));
            } else {
                behind(info);
            }
        }));
        let restore = Box::new(move || {
            drop(std::panic::take_hook());
            std::panic::set_hook(Box::new(move |info| previous(info)));
        });
        TaskPanicHook {
            restore: Some(restore),
        }
    }
}

impl Drop for TaskPanicHook {
    fn drop(&mut self) {
        // `set_hook` panics while panicking; our hook then stays, and
        // forwards every panic outside a task as before.
        if std::thread::panicking() {
            return;
        }
        if let Some(restore) = self.restore.take() {
            restore();
        }
    }
}

/// Runs `task`, returning its value or, if it panicked, the panic's message
/// and location.
pub(crate) fn run_catching<T>(task: impl FnOnce() -> T) -> Result<T, String> {
    IN_TASK.with(|f| f.set(true));
    let result = catch_unwind(AssertUnwindSafe(task));
    IN_TASK.with(|f| f.set(false));
    result.map_err(|_| {
        CAUGHT
            .with(|c| c.borrow_mut().take())
            .unwrap_or_else(|| "panicked (no message recorded)".into())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_inside_a_task_is_caught_with_its_message() {
        let hook = TaskPanicHook::install();
        let caught = run_catching(|| -> u32 { panic!("boom {}", 42) });
        let message = caught.unwrap_err();
        assert!(message.starts_with("boom 42 at "), "{message}");
        assert!(message.contains("catch.rs"), "{message}");
        assert_eq!(run_catching(|| 7), Ok(7));
        drop(hook);
    }
}
