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

pub mod arrays;
pub mod leftovers;
pub mod programs;
pub mod sync;

use std::io::Write;
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Set in the environment of the launched ranks.
pub const CHILD_VAR: &str = "RMA_MPI_CHILD";

/// Launches are serialised: each already runs more ranks than cores.
static LAUNCH: Mutex<()> = Mutex::new(());

/// Sleeps for `duration` while driving MPI progress. Across hosts (Open
/// MPI's osc/pt2pt, MPICH) RMA aimed at a rank completes only when that rank
/// calls MPI: a rank holding words that others update must not simply sleep
/// when the test depends on the order in which their updates arrive.
pub fn sleep_with_progress(world: &mpi::topology::SimpleCommunicator, duration: Duration) {
    use mpi::traits::*;
    let end = Instant::now() + duration;
    while Instant::now() < end {
        let _ = world.any_process().immediate_probe();
        std::thread::sleep(Duration::from_micros(200));
    }
}

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

/// The toolkit's waits give up with an error after this many seconds in
/// tests (`RMA_WAIT_DEADLINE`, default 60, below the job timeout): a
/// protocol bug then fails by assertion, naming the wait, instead of being
/// killed as a hang.
fn wait_deadline() -> String {
    std::env::var("RMA_WAIT_DEADLINE").unwrap_or_else(|_| "60".to_string())
}

/// Runs `program args` under the launcher with `np` ranks and returns
/// (success, combined output). Kills the job when it exceeds the timeout.
pub fn mpirun(np: usize, program: &str, args: &[&str], env: &[(&str, &str)]) -> (bool, String) {
    let limit = timeout();
    let mut end = mpirun_bounded(np, program, args, env, limit);
    match end.status {
        None => end.output.push_str(&format!(
            "\n*** killed after the {} s timeout ***\n",
            limit.as_secs()
        )),
        // How the launcher ended, for a failure whose output says nothing.
        Some(status) if !status.success() => end.output.push_str(&format!(
            "\n*** the launcher ended with {status} after {:.1} s ***\n",
            end.elapsed.as_secs_f64()
        )),
        Some(_) => {}
    }
    (end.status.is_some_and(|s| s.success()), end.output)
}

fn unique_nanos() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos()
}

/// The parent side of [`mpi_test!`]: runs test `name` of this binary on `np`
/// ranks and fails with the ranks' output if any rank failed.
pub fn launch(name: &str, np: usize) {
    launch_echoing(name, np, None);
}

/// [`launch`], also echoing to stderr the ranks' lines that contain
/// `echo` (from where it starts), which a passing test would otherwise not
/// show: for tests whose figures are their point, such as the soaks.
pub fn launch_echoing(name: &str, np: usize, echo: Option<&str>) {
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
        &[(CHILD_VAR, "1"), ("RMA_WAIT_DEADLINE", &wait_deadline())],
    );
    // Written to the real stderr (not captured by libtest) so that a run
    // shows which multi-rank tests ran.
    let mut err = std::io::stderr();
    if let Some(echo) = echo {
        // libtest has printed "test name ... " without a newline, and it may
        // precede a rank's first line.
        let _ = writeln!(err);
        for line in output
            .lines()
            .filter_map(|l| l.find(echo).map(|at| &l[at..]))
        {
            let _ = writeln!(err, "    {line}");
        }
    }
    let _ = writeln!(
        err,
        "    [mpirun -np {np}] {name}: {} in {:.1} s",
        if ok { "ok" } else { "FAILED" },
        started.elapsed().as_secs_f64()
    );
    assert!(
        ok,
        "{name} failed on {np} ranks; output of the ranks:\n{output}"
    );
}

/// Two emulated nodes of two ranks each, ranks {0, 1} and {2, 3}: the
/// multi-node paths of `MpiShared` on one machine (4 ranks).
pub fn two_emulated_nodes(
    world: &mpi::topology::SimpleCommunicator,
) -> std::sync::Arc<shm_core::NodeTopology> {
    emulated_nodes(world, |rank| rank / 2)
}

/// Emulated nodes on one machine: rank `r` of `world` goes to node
/// `node_of(r)`, so tests can build any layout (uneven nodes, a node of one,
/// ranks of a node that are not contiguous).
pub fn emulated_nodes(
    world: &mpi::topology::SimpleCommunicator,
    node_of: impl Fn(i32) -> i32,
) -> std::sync::Arc<shm_core::NodeTopology> {
    use mpi::topology::{Color, Communicator};
    let node = world
        .split_by_color(Color::with_value(node_of(world.rank())))
        .unwrap();
    std::sync::Arc::new(shm_core::NodeTopology::with_node_comm(world, &node).unwrap())
}

/// The thread level the ranks ask for: `$RMA_MPI_THREADING` (`multiple`,
/// `serialized`, `funneled` or `single`), default `multiple`. Lower levels
/// exist for MPI components that refuse `MPI_THREAD_MULTIPLE`, such as Open
/// MPI 4.1's osc/pt2pt on the multi-node bed (docs/multinode.md).
pub fn threading() -> mpi::Threading {
    match std::env::var("RMA_MPI_THREADING").as_deref() {
        Err(_) | Ok("multiple") => mpi::Threading::Multiple,
        Ok("serialized") => mpi::Threading::Serialized,
        Ok("funneled") => mpi::Threading::Funneled,
        Ok("single") => mpi::Threading::Single,
        Ok(other) => {
            panic!("RMA_MPI_THREADING={other:?}: expected multiple, serialized, funneled or single")
        }
    }
}

/// The child side of [`mpi_test!`]: initialises MPI and runs the body.
pub fn run_child(body: impl FnOnce(&mpi::topology::SimpleCommunicator)) {
    let (universe, _) = mpi::initialize_with_threading(threading()).expect("MPI initialises once");
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

// ---------------------------------------------------------------------------
// Fault injection: jobs expected to fail, and what they leave behind.

/// How a job launched by [`mpirun_bounded`] ended.
#[derive(Debug)]
pub struct JobEnd {
    /// The launcher's exit status, or `None` when it outlived the bound and
    /// was killed.
    pub status: Option<std::process::ExitStatus>,
    /// The launcher's and ranks' output (stdout and stderr together).
    pub output: String,
    /// From the launch to the launcher's exit.
    pub elapsed: Duration,
}

/// Runs `program args` under the launcher with `np` ranks, killing the job
/// (SIGTERM to the launcher, then SIGKILL 3 s later) when it outlives
/// `limit`, and reports how it ended: [`mpirun`] for jobs expected to pass,
/// this directly for jobs expected to fail.
pub fn mpirun_bounded(
    np: usize,
    program: &str,
    args: &[&str],
    env: &[(&str, &str)],
    limit: Duration,
) -> JobEnd {
    let _serial = LAUNCH.lock().unwrap_or_else(|e| e.into_inner());
    let launcher = launcher();
    let mut cmd = Command::new(&launcher[0]);
    cmd.args(&launcher[1..])
        .arg("-np")
        .arg(np.to_string())
        .arg(program)
        .args(args)
        .env("OMPI_ALLOW_RUN_AS_ROOT", "1")
        .env("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out_path = std::env::temp_dir().join(format!(
        "rma-mpirun-{}-{}.log",
        std::process::id(),
        unique_nanos()
    ));
    let out = std::fs::File::create(&out_path).expect("create log file");
    cmd.stdout(out.try_clone().unwrap())
        .stderr(out)
        .stdin(Stdio::null());
    let started = Instant::now();
    let mut child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {:?}: {e}", launcher));
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for mpirun") {
            break Some(status);
        }
        if started.elapsed() > limit {
            send_signal(child.id(), SIGTERM);
            std::thread::sleep(Duration::from_secs(3));
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let elapsed = started.elapsed();
    let output = std::fs::read_to_string(&out_path).unwrap_or_default();
    let _ = std::fs::remove_file(&out_path);
    JobEnd {
        status,
        output,
        elapsed,
    }
}

/// Prepares `cmd` to outlive this process without holding anything of it:
/// its own process group, standard streams to `/dev/null`, and no other
/// inherited descriptor (MPI libraries open sockets and files without
/// close-on-exec, and a launcher waits for every holder of a rank's output
/// or of its connections before it exits).
pub fn detached(cmd: &mut Command) -> &mut Command {
    use std::os::unix::process::CommandExt;
    cmd.process_group(0)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    // SAFETY: the closure runs in the child between fork and exec and only
    // makes the close_range(2) system call, which is async-signal-safe.
    unsafe {
        cmd.pre_exec(|| {
            c_close_range(3, u32::MAX, 0);
            Ok(())
        })
    }
}

/// `SIGKILL` on Linux.
pub const SIGKILL: i32 = 9;
/// `SIGTERM` on Linux.
pub const SIGTERM: i32 = 15;

extern "C" {
    // The C library's kill(2); std links the C library already.
    #[link_name = "kill"]
    fn c_kill(pid: i32, sig: i32) -> i32;
    // close_range(2) (glibc 2.34 and later).
    #[link_name = "close_range"]
    fn c_close_range(first: u32, last: u32, flags: i32) -> i32;
}

/// Sends `sig` to process `pid`; `true` when it was delivered.
pub fn send_signal(pid: u32, sig: i32) -> bool {
    // SAFETY: kill(2) takes plain integers and has no memory effects on this
    // process (unless `pid` is this process and `sig` ends it).
    unsafe { c_kill(pid as i32, sig) == 0 }
}

/// Ends this process with `SIGKILL`, like the kernel's OOM killer or a
/// batch system would: no unwinding, no destructors, no atexit handlers.
pub fn kill_self() -> ! {
    send_signal(std::process::id(), SIGKILL);
    // The signal is delivered before kill(2) returns to a single-threaded
    // process, and shortly after to a multi-threaded one.
    loop {
        std::thread::sleep(Duration::from_secs(1));
    }
}

/// The processes (pid, command line) whose environment holds `var=value`,
/// other than this process.
pub fn processes_with_env(var: &str, value: &str) -> Vec<(u32, String)> {
    let needle = format!("{var}={value}");
    let me = std::process::id();
    let mut found = Vec::new();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return found;
    };
    for entry in entries.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<u32>().ok())
        else {
            continue;
        };
        if pid == me {
            continue;
        }
        let Ok(environ) = std::fs::read(entry.path().join("environ")) else {
            continue;
        };
        if environ.split(|&b| b == 0).any(|kv| kv == needle.as_bytes()) {
            let cmdline = std::fs::read(entry.path().join("cmdline"))
                .map(|c| String::from_utf8_lossy(&c).replace('\0', " "))
                .unwrap_or_default();
            // A zombie has an empty command line and is no longer running.
            if !cmdline.is_empty() {
                found.push((pid, cmdline.trim_end().to_string()));
            }
        }
    }
    found
}

/// Waits up to `grace` for the processes marked with `var=value` to end;
/// kills the ones still running and returns them.
pub fn reap_stragglers(var: &str, value: &str, grace: Duration) -> Vec<(u32, String)> {
    let started = Instant::now();
    loop {
        let left = processes_with_env(var, value);
        if left.is_empty() {
            return left;
        }
        if started.elapsed() > grace {
            for (pid, _) in &left {
                send_signal(*pid, SIGKILL);
            }
            return left;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The names of the entries of `dir` (empty when it cannot be read).
pub fn dir_entries(dir: &std::path::Path) -> std::collections::BTreeSet<String> {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// A unique token for marking one job's processes and files.
pub fn unique_token() -> String {
    format!("{}-{}", std::process::id(), unique_nanos())
}
