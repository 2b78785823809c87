//! Runs integration tests on real MPI processes.
//!
//! [`mpi_test!`] defines a `#[test]` that, when cargo runs it, launches this
//! same test binary under `mpirun -np N`, filtered to that one test. In the
//! launched processes (marked by `RMA_MPI_CHILD`), the test body runs with
//! MPI initialised. A panic on any rank prints its message and calls
//! `MPI_Abort`, so the job ends instead of hanging, and the parent test fails
//! with the ranks' output.
//!
//! The launcher is `$MPIRUN` (a command line, e.g. `mpirun.openmpi
//! --oversubscribe` or `mpiexec.mpich`), default `mpirun`. `$RMA_MPI_TIMEOUT`
//! bounds each launch (seconds, default 180).

#![allow(dead_code)]

use std::io::Write;
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Set in the environment of the launched ranks.
pub const CHILD_VAR: &str = "RMA_MPI_CHILD";

/// Launches are serialised: each already runs more ranks than cores.
static LAUNCH: Mutex<()> = Mutex::new(());

/// `true` inside a rank launched by [`launch`].
pub fn is_child() -> bool {
    std::env::var_os(CHILD_VAR).is_some()
}

/// The launcher command line.
pub fn launcher() -> Vec<String> {
    let line = std::env::var("MPIRUN").unwrap_or_else(|_| "mpirun".to_string());
    line.split_whitespace().map(String::from).collect()
}

fn timeout() -> Duration {
    let secs = std::env::var("RMA_MPI_TIMEOUT")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(180);
    Duration::from_secs(secs)
}

/// Runs `program args` under the launcher with `np` ranks and returns
/// (success, combined output). Kills the job when it exceeds the timeout.
pub fn mpirun(np: usize, program: &str, args: &[&str], env: &[(&str, &str)]) -> (bool, String) {
    let _serial = LAUNCH.lock().unwrap_or_else(|e| e.into_inner());
    let launcher = launcher();
    let mut cmd = Command::new(&launcher[0]);
    cmd.args(&launcher[1..])
        .arg("-np")
        .arg(np.to_string())
        .arg(program)
        .args(args);
    // Open MPI refuses to run as root without these; harmless elsewhere.
    cmd.env("OMPI_ALLOW_RUN_AS_ROOT", "1")
        .env("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out_path = std::env::temp_dir().join(format!(
        "rma-mpirun-{}-{}.log",
        std::process::id(),
        fastrand_id()
    ));
    let out = std::fs::File::create(&out_path).expect("create log file");
    cmd.stdout(out.try_clone().unwrap())
        .stderr(out)
        .stdin(Stdio::null());
    let started = Instant::now();
    let mut child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {:?}: {e}", launcher));
    let limit = timeout();
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for mpirun") {
            break Some(status);
        }
        if started.elapsed() > limit {
            // SIGTERM lets mpirun take its ranks down with it.
            let _ = Command::new("kill")
                .arg("-TERM")
                .arg(child.id().to_string())
                .status();
            std::thread::sleep(Duration::from_secs(3));
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut output = std::fs::read_to_string(&out_path).unwrap_or_default();
    let _ = std::fs::remove_file(&out_path);
    if status.is_none() {
        output.push_str(&format!(
            "\n*** killed after the {} s timeout ***\n",
            limit.as_secs()
        ));
    }
    (status.is_some_and(|s| s.success()), output)
}

fn fastrand_id() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos()
}

/// The parent side of [`mpi_test!`]: runs test `name` of this binary on `np`
/// ranks and fails with the ranks' output if any rank failed.
pub fn launch(name: &str, np: usize) {
    let exe = std::env::current_exe().expect("test binary path");
    let started = Instant::now();
    let (ok, output) = mpirun(
        np,
        exe.to_str().unwrap(),
        &[
            "--exact",
            name,
            "--nocapture",
            "--test-threads=1",
            "--include-ignored",
        ],
        &[(CHILD_VAR, "1")],
    );
    // Written to the real stderr (not captured by libtest) so that a run
    // shows which multi-rank tests ran.
    let _ = writeln!(
        std::io::stderr(),
        "    [mpirun -np {np}] {name}: {} in {:.1} s",
        if ok { "ok" } else { "FAILED" },
        started.elapsed().as_secs_f64()
    );
    assert!(
        ok,
        "{name} failed on {np} ranks; output of the ranks:\n{output}"
    );
}

/// The child side of [`mpi_test!`]: initialises MPI and runs the body.
pub fn run_child(body: impl FnOnce(&mpi::topology::SimpleCommunicator)) {
    let (universe, _) =
        mpi::initialize_with_threading(mpi::Threading::Multiple).expect("MPI initialises once");
    let world = universe.world();
    shm_core::abort_on_panic();
    body(&world);
    drop(world);
    drop(universe);
}

/// Defines a test that runs `body` on `np` MPI ranks:
///
/// ```ignore
/// mpi_test!(fn name(world, 4) { /* body using world */ });
/// ```
#[macro_export]
macro_rules! mpi_test {
    ($(#[$attr:meta])* fn $name:ident($world:ident, $np:expr) $body:block) => {
        $(#[$attr])*
        #[test]
        fn $name() {
            if $crate::common::is_child() {
                $crate::common::run_child(|$world| $body);
            } else {
                $crate::common::launch(stringify!($name), $np);
            }
        }
    };
}
