//! Starting the workers from a program started without `mpirun`:
//! `MPI_Comm_spawn` of the same executable, as pympipool does.

use crate::error::{PoolError, Result};
use crate::options::PoolOptions;
use crate::pool::Pool;
use crate::registry::Registry;
use mpi::ffi;
use mpi::topology::{InterCommunicator, MergeOrder, SimpleCommunicator};
use mpi::traits::*;
use shm_core::OwnedComm;
use std::ffi::CString;
use std::os::raw::{c_char, c_int};
use std::os::unix::ffi::OsStrExt;

impl Pool {
    /// Creates a pool whose workers are `workers` new processes of this
    /// executable, started with `MPI_Comm_spawn` (pympipool's
    /// `Pool(cores=n)` from a serial program).
    ///
    /// Every process calls it with the same arguments: in the program that
    /// was started (usually a single process, without `mpirun`: MPI's
    /// singleton initialisation), `world`'s rank 0 spawns the workers with
    /// this program's command line; in a spawned process (which has a
    /// parent communicator) it joins the pool. The pool runs over the merge
    /// of both: the starting processes first, so the driver (rank 0 of
    /// `world`, which `options.driver` must name) is rank 0, and `world`'s
    /// other ranks, if any, are workers too. After [`run`](Self::run) a
    /// spawned process should leave `main` (run returns `None` there).
    ///
    /// Whether an MPI can spawn depends on how it was started: Open MPI
    /// needs its runtime (`orted`), MPICH its process manager (`hydra`);
    /// when the spawn fails the error says so, unless the MPI library
    /// aborts the process itself.
    ///
    /// ```no_run
    /// use mpi_pool::{Pool, PoolOptions, Registry};
    /// let universe = mpi::initialize().unwrap();
    /// let mut registry = Registry::new();
    /// let square = registry.register("square", |i: i64| Ok::<_, String>(i * i));
    /// let pool = Pool::spawn(&universe.world(), 2, registry, PoolOptions::default())?;
    /// if let Some(squares) = pool.run(|driver| driver.map(&square, [1, 2, 3, 4]))? {
    ///     println!("{squares:?}"); // [1, 4, 9, 16]
    /// }
    /// # Ok::<(), mpi_pool::PoolError>(())
    /// ```
    pub fn spawn(
        world: &SimpleCommunicator,
        workers: i32,
        registry: Registry,
        options: PoolOptions,
    ) -> Result<Pool> {
        let merged = match world.parent() {
            Some(parent) => parent.merge(MergeOrder::High),
            None => {
                let local = if workers < 1 {
                    Err(format!(
                        "cannot spawn {workers} workers: at least 1 is needed"
                    ))
                } else if options.driver != 0 {
                    Err(format!(
                        "a spawned pool's driver is rank 0 of the starting program, not {}",
                        options.driver
                    ))
                } else {
                    Ok(())
                };
                let starters = OwnedComm::duplicate(world)?;
                let command = local.and_then(|()| CommandLine::of_this_program());
                starters.agree(command.as_ref().map(|_| ()).map_err(Clone::clone))?;
                let command = command.expect("agreed to be Ok on every rank");
                // Collective over the starting ranks: every one gets the
                // same outcome.
                let children = command.spawn(&starters, workers)?;
                children.merge(MergeOrder::Low)
            }
        };
        Pool::new(&merged, registry, options)
    }
}

/// This executable's path and arguments, as C strings.
struct CommandLine {
    program: CString,
    args: Vec<CString>,
}

impl CommandLine {
    fn of_this_program() -> std::result::Result<Self, String> {
        let c_string = |s: &std::ffi::OsStr| {
            CString::new(s.as_bytes()).map_err(|_| format!("a NUL byte in {s:?}"))
        };
        let program =
            std::env::current_exe().map_err(|e| format!("cannot find this program's path: {e}"))?;
        Ok(CommandLine {
            program: c_string(program.as_os_str())?,
            args: std::env::args_os()
                .skip(1)
                .map(|a| c_string(&a))
                .collect::<std::result::Result<_, _>>()?,
        })
    }

    /// `MPI_Comm_spawn` of this command line, `workers` times, from rank 0
    /// of `starters` (whose `MPI_ERRORS_RETURN` turns a failure into an
    /// error code instead of an abort).
    fn spawn(&self, starters: &OwnedComm, workers: i32) -> Result<InterCommunicator> {
        let mut argv: Vec<*mut c_char> = self
            .args
            .iter()
            .map(|a| a.as_ptr() as *mut c_char)
            .chain(std::iter::once(std::ptr::null_mut()))
            .collect();
        let null = shm_core::sys::COMM_NULL();
        let mut children = null;
        let mut codes = vec![0 as c_int; workers as usize];
        let info = OversubscribeInfo::new()?;
        // `program` and the `argv` entries are NUL-terminated and outlive the
        // call; `argv` ends with a null pointer (MPI only reads it).
        // SAFETY: as above; `codes` holds `workers` ints; `starters` is live; `children` is ours.
        let code = unsafe {
            ffi::MPI_Comm_spawn(
                self.program.as_ptr(),
                argv.as_mut_ptr(),
                workers,
                info.0,
                0,
                starters.as_raw(),
                &mut children,
                codes.as_mut_ptr(),
            )
        };
        let failed = codes
            .iter()
            .filter(|&&c| c != ffi::MPI_SUCCESS as c_int)
            .count();
        if code != ffi::MPI_SUCCESS as c_int || children == null || failed > 0 {
            return Err(spawn_error(format!(
                "MPI_Comm_spawn of {workers} process(es) failed ({}; {failed} reported \
                 not started): this MPI cannot start processes in this setting (MPICH 4.0 \
                 could not on our test machines, with or without mpiexec); start the \
                 program under mpirun instead",
                error_text(code)
            )));
        }
        // SAFETY: `children` is the live inter-communicator MPI_Comm_spawn
        // just returned; rsmpi's handle frees it on drop.
        Ok(unsafe { <InterCommunicator as mpi::raw::FromRaw>::from_raw(children) })
    }
}

/// The info of our `MPI_Comm_spawn`: `map_by = slot:OVERSUBSCRIBE`, so that
/// Open MPI starts the workers even when they outnumber its free slots
/// (a singleton on a laptop has as many slots as cores, one of them its
/// own); the pool's workers wait with back-off, so sharing cores is
/// cheap. Other MPIs ignore a key they do not know, as the standard asks.
struct OversubscribeInfo(ffi::MPI_Info);

impl OversubscribeInfo {
    fn new() -> Result<Self> {
        let (key, value) = (c"map_by", c"slot:OVERSUBSCRIBE");
        // SAFETY: RSMPI_INFO_NULL is an initialised handle constant.
        let mut info = unsafe { ffi::RSMPI_INFO_NULL };
        // SAFETY: `info` receives a new info object that we own and free in
        // Drop; key and value are NUL-terminated and only read.
        let created = unsafe { ffi::MPI_Info_create(&mut info) };
        if created != ffi::MPI_SUCCESS as c_int {
            return Err(spawn_error(format!(
                "MPI_Info_create failed ({})",
                error_text(created)
            )));
        }
        let info = OversubscribeInfo(info);
        // SAFETY: as above; `info.0` is live.
        unsafe { ffi::MPI_Info_set(info.0, key.as_ptr(), value.as_ptr()) };
        Ok(info)
    }
}

impl Drop for OversubscribeInfo {
    fn drop(&mut self) {
        // SAFETY: `self.0` is the live info object we created, freed once.
        unsafe { ffi::MPI_Info_free(&mut self.0) };
    }
}

/// The MPI library's text for an error code.
fn error_text(code: c_int) -> String {
    let mut text = vec![0 as c_char; ffi::MPI_MAX_ERROR_STRING as usize + 1];
    let mut len: c_int = 0;
    // SAFETY: `text` holds MPI_MAX_ERROR_STRING + 1 chars, as the standard
    // asks; MPI_Error_string may be called with any code.
    unsafe { ffi::MPI_Error_string(code, text.as_mut_ptr(), &mut len) };
    let bytes: Vec<u8> = text[..len.clamp(0, text.len() as c_int) as usize]
        .iter()
        .map(|&c| c as u8)
        .collect();
    format!(
        "error code {code}: {}",
        String::from_utf8_lossy(&bytes).trim()
    )
}

impl Pool {
    /// [`Pool::new`] over `world` when the program was started with several
    /// ranks (under `mpirun`), [`Pool::spawn`] of `workers` workers when it
    /// runs alone (started without `mpirun`) or was itself spawned: one
    /// program for both ways of starting it.
    pub fn new_or_spawn(
        world: &SimpleCommunicator,
        workers: i32,
        registry: Registry,
        options: PoolOptions,
    ) -> Result<Pool> {
        if world.size() == 1 || was_spawned() {
            Pool::spawn(world, workers, registry, options)
        } else {
            Pool::new(world, registry, options)
        }
    }
}

/// `true` in a process started by `MPI_Comm_spawn`. (rsmpi's `parent()`
/// returns an owning handle, whose drop frees the parent communicator, after
/// which MPI reports no parent: so ask MPI directly.)
fn was_spawned() -> bool {
    let null = shm_core::sys::COMM_NULL();
    let mut parent = null;
    // SAFETY: MPI is initialised (the caller has a communicator); the handle
    // is only compared, not freed.
    unsafe { ffi::MPI_Comm_get_parent(&mut parent) };
    parent != null
}

fn spawn_error(message: String) -> PoolError {
    PoolError::Spawn { message }
}
