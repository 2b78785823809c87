//! Faults: a rank that panics or is killed ends the whole job, within a
//! bound, leaving no process running and no shared-memory file behind.
//!
//! Each test launches this binary under `$MPIRUN`, filtered to the ignored
//! test [`fault_child`], with `RMA_FAULT` naming the scenario the ranks play.
//! The parent then checks how the job ended:
//!
//! * the launcher exited with a failure status within [`BOUND`];
//! * for a panic, the output names the rank, the location and the message;
//! * no process of the job (found by a marker in its environment) is still
//!   running a few seconds later;
//! * no file the job created is left in `/dev/shm` (where Open MPI's vader
//!   BTL and osc/sm windows, and MPICH's shared memory, live) or in the job's
//!   private temporary directory (Open MPI's session directory).
//!
//! Some faults leave files whatever the toolkit does: a rank dying inside
//! the creation of a shared window (its backing file is linked until every
//! rank has attached), SIGKILL of the whole job, launcher included, and, with
//! MPICH 5, any abnormal end (its node memory file is linked for the job's
//! life). `scripts/mpi-leftovers.txt` names them per implementation; a test
//! accepts exactly the leftovers the table gives for the MPI under test
//! (`RMA_MPI_NAME`) and that fault, reports them, and checks that
//! `scripts/clean-shm.sh` removes them.

mod common;

use common::leftovers::{self, Leftover, Place, When};
use common::{JobEnd, CHILD_VAR};
use mpi::topology::SimpleCommunicator;
use mpi::traits::*;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Selects the scenario in the ranks.
const SCENARIO_VAR: &str = "RMA_FAULT";
/// Selects [`local_panic_child`].
const LOCAL_VAR: &str = "RMA_FAULT_LOCAL";
/// Marks every process of one job (the value is unique per job).
const JOB_VAR: &str = "RMA_FAULT_JOB";
/// A failed job must end within this long. The launcher ends it: Open MPI's
/// mpirun and MPICH's Hydra both kill the remaining ranks as soon as one
/// exits abnormally, whatever the others are blocked in.
const BOUND: Duration = Duration::from_secs(60);
/// Linux signal numbers the scenarios use besides SIGKILL and SIGTERM.
const SIGSTOP: i32 = 19;
const SIGCONT: i32 = 18;
/// How long after the launcher exits a rank may still be running.
const GRACE: Duration = Duration::from_secs(5);
/// The ranks of every scenario.
const NP: usize = 4;

/// Held by each test for its whole body: a test's checks (and the clean-up
/// of the whole-job test) must not overlap another fault job, whose files
/// would look like leftovers.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

// ---------------------------------------------------------------------------
// The ranks' side.

/// Runs the scenario named by `RMA_FAULT`; does nothing outside a fault job
/// (it is ignored by `cargo test`, and only the fault tests include it).
#[test]
#[ignore = "one rank of a fault job; launched by the other tests of this file"]
fn fault_child() {
    if !common::is_child() {
        return;
    }
    let scenario = std::env::var(SCENARIO_VAR).expect("RMA_FAULT names the scenario");
    common::run_child(|world| match scenario.as_str() {
        "panic-holding-lock" => panic_holding_lock(world),
        "panic-in-thread" => panic_in_thread(world),
        "kill-in-set" => kill_in_set(world),
        "kill-in-create" => kill_in_window_creation(world),
        "kill-holding-lock" => kill_holding_lock(world),
        "kill-in-handoff" => kill_in_handoff(world),
        "kill-in-sync" => kill_in_sync(world),
        "kill-in-kv-map" => kill_in_kv(world, 0),
        "kill-kv-host" => kill_in_kv(world, 3),
        "term-launcher" => signal_launcher(world, false),
        "kill-whole-job" => signal_launcher(world, true),
        "leak" => leak(world),
        "hold" => hold(world),
        other => panic!("unknown scenario {other:?}"),
    });
}

/// Panics with the hook installed but MPI never initialised (run by
/// [`without_mpi_the_hook_is_the_usual_panic`] as a plain process).
#[test]
#[ignore = "a process without MPI; launched by without_mpi_the_hook_is_the_usual_panic"]
fn local_panic_child() {
    if std::env::var_os(LOCAL_VAR).is_none() {
        return;
    }
    shm_core::abort_on_panic();
    panic!("injected fault: panic without MPI");
}

/// Milliseconds since the epoch: lets the parent measure from the fault to
/// the end of the job.
fn now_ms() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis()
}

/// Prints a progress line at once (ranks share the launcher's output).
fn say(world: &SimpleCommunicator, what: &str) {
    println!("rank {}: {what}", world.rank());
}

/// Kills this rank with SIGKILL, announcing the time first.
fn die(rank: i32, what: &str) -> ! {
    println!("rank {rank}: SIGKILL {what} at ms {}", now_ms());
    common::kill_self()
}

/// Kills this rank from another thread after `delay`, while the main thread
/// is busy in the operation under test.
fn die_later(rank: i32, delay: Duration, what: &'static str) {
    std::thread::spawn(move || {
        std::thread::sleep(delay);
        die(rank, what);
    });
}

/// Rank 2 takes the lock, the others queue behind it, rank 2 panics.
fn panic_holding_lock(world: &SimpleCommunicator) {
    let lock = mpi_lock::MpiLock::new(world).unwrap();
    if world.rank() == 2 {
        let _guard = lock.lock().unwrap();
        world.barrier();
        // Leave the others time to queue.
        std::thread::sleep(Duration::from_millis(300));
        panic!("injected fault: panic while holding the lock");
    }
    world.barrier();
    say(world, "queued");
    let _guard = lock.lock().unwrap();
    unreachable!("rank 2 never releases the lock");
}

/// Rank 1 panics in a spawned thread while its main thread waits for that
/// thread and the other ranks wait in a barrier: the hook must abort from
/// any thread, before the panic reaches `join`.
fn panic_in_thread(world: &SimpleCommunicator) {
    if world.rank() == 1 {
        let worker = std::thread::spawn(|| {
            std::thread::sleep(Duration::from_millis(200));
            panic!("injected fault: panic in a worker thread");
        });
        let _ = worker.join();
        unreachable!("the hook aborts before the panic reaches join");
    }
    say(world, "in the barrier");
    world.barrier();
    unreachable!("rank 1 never enters the barrier");
}

/// Rank 0, the source and the owner of the node's segment, is killed while
/// the ranks repeat `set` of a 32 MiB array: the kill lands in the copy or
/// in the collective steps around it.
fn kill_in_set(world: &SimpleCommunicator) {
    const LEN: usize = 4 << 20;
    let mut shm = shm_core::MpiShared::<f64>::new(&[LEN], world).unwrap();
    let data: Vec<f64> = (0..LEN).map(|i| i as f64).collect();
    let rank = world.rank();
    world.barrier();
    if rank == 0 {
        die_later(rank, Duration::from_millis(150), "during MpiShared::set");
    }
    for round in 0.. {
        let slab = if rank == 0 {
            shm_core::Slab::from(&data)
        } else {
            shm_core::Slab::none()
        };
        shm.set(slab, &[0], 0).unwrap();
        if round % 8 == 0 {
            say(world, &format!("set round {round} done"));
        }
    }
}

/// The files under /dev/shm this process maps or holds open and that are
/// still linked: a shared window's backing file during its creation (the
/// table's `window` names: Open MPI's `osc_sm.*`, MPICH's
/// `mpich_shar_tmp*`, Intel MPI's `Intel_MPI_*`), before every process has
/// attached and the creator unlinks it.
fn linked_window_files() -> Vec<String> {
    let window_files: Vec<Leftover> = leftovers::table()
        .into_iter()
        .filter(|l| l.place == Place::Shm && l.when == When::Window)
        .collect();
    let mut found = Vec::new();
    let maps = std::fs::read_to_string("/proc/self/maps").unwrap_or_default();
    let fds = std::fs::read_dir("/proc/self/fd")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|fd| std::fs::read_link(fd.path()).ok())
        .map(|t| t.to_string_lossy().into_owned());
    for path in maps
        .lines()
        .filter_map(|l| l.find("/dev/shm/").map(|at| l[at..].to_string()))
        .chain(fds)
    {
        let name = path.trim_start_matches("/dev/shm/");
        if window_files.iter().any(|l| l.matches(name)) && !path.ends_with(" (deleted)") {
            found.push(path);
        }
    }
    found
}

/// Rank 0, the creator of every shared window's backing file, is killed
/// while that file is still linked. All ranks create and free shared arrays
/// in a loop; a thread of rank 0 watches for the file, stops rank 3 with
/// SIGSTOP (so that the creation cannot finish and unlink it), checks that
/// the file is still there, and kills rank 0; when it was too late, rank 3
/// goes on and the thread waits for the next window.
fn kill_in_window_creation(world: &SimpleCommunicator) {
    let mut pids = vec![0u32; world.size() as usize];
    world.all_gather_into(&std::process::id(), &mut pids[..]);
    world.barrier();
    if world.rank() == 0 {
        let held = pids[3];
        std::thread::spawn(move || loop {
            let Some(file) = linked_window_files().pop() else {
                std::hint::spin_loop();
                continue;
            };
            common::send_signal(held, SIGSTOP);
            if Path::new(&file).exists() {
                println!("rank 0: window file {file} linked, rank 3 stopped");
                die(0, "while a window file is linked");
            }
            common::send_signal(held, SIGCONT);
        });
    }
    for round in 0u64.. {
        // A window of its own each round (MpiShared would reuse its pool's).
        drop(shm_core::SharedWindow::<f64>::allocate_shared(world, 1 << 16).unwrap());
        if round % 50 == 0 {
            say(world, &format!("window round {round}"));
        }
    }
}

/// Rank 1 holds the lock, the others queue, rank 1 is killed: the queue
/// waits for a hand-off that never comes.
fn kill_holding_lock(world: &SimpleCommunicator) {
    let lock = mpi_lock::MpiLock::new(world).unwrap();
    if world.rank() == 1 {
        let _guard = lock.lock().unwrap();
        world.barrier();
        std::thread::sleep(Duration::from_millis(300));
        die(1, "while holding the lock");
    }
    world.barrier();
    say(world, "queued");
    let _guard = lock.lock().unwrap();
    unreachable!("rank 1 never releases the lock");
}

/// The sync toolkit's primitives, their words on node-shared memory (CPU
/// atomics) or in MPI windows: rank 1 takes the counter's traffic, holds an
/// RwLock for writing, the only Semaphore permit and a Condition's lock
/// with MPI atomics, and is killed while rank 0 waits to read, rank 2 for
/// the permit and rank 3 for the condition's lock.
fn kill_in_sync(world: &SimpleCommunicator) {
    use mpi_lock::{Access, Condition, Counter, RwLock, Semaphore};
    let rank = world.rank();
    let counter = Counter::new(world).unwrap();
    let rw = RwLock::new(world).unwrap();
    let sem = Semaphore::new(world, 1).unwrap();
    let cv = Condition::options()
        .access(Access::Mpi)
        .create(world)
        .unwrap();
    for _ in 0..50 {
        counter.next().unwrap();
    }
    world.barrier();
    if rank == 1 {
        let _write = rw.write().unwrap();
        let _permit = sem.acquire().unwrap();
        let _locked = cv.lock().unwrap();
        world.barrier();
        std::thread::sleep(Duration::from_millis(300));
        die(
            1,
            "holding an RwLock, a Semaphore permit and a Condition's lock",
        );
    }
    world.barrier();
    say(world, "waiting");
    match rank {
        0 => drop(rw.read().unwrap()),
        2 => drop(sem.acquire().unwrap()),
        _ => drop(cv.lock().unwrap()),
    }
    unreachable!("rank 1 never releases what it holds");
}

/// Every rank takes and releases the lock in a loop; rank 0, which also
/// hosts the lock's tail word, is killed at some point of that traffic:
/// while queued, holding, or handing the lock to its successor.
fn kill_in_handoff(world: &SimpleCommunicator) {
    let lock = mpi_lock::MpiLock::new(world).unwrap();
    let rank = world.rank();
    world.barrier();
    if rank == 0 {
        die_later(rank, Duration::from_millis(200), "during lock traffic");
    }
    for round in 0u64.. {
        let guard = lock.lock().unwrap();
        std::hint::black_box(round);
        guard.unlock().unwrap();
        if round % 200 == 0 {
            say(world, &format!("lock round {round}"));
        }
    }
}

/// A list spread over the three hosts is mapped by rank 0, modified by rank
/// 2 and read by the others; `victim` is killed in the middle: rank 0 leaves
/// the list marked busy by its map, a host takes its slots with it.
fn kill_in_kv(world: &SimpleCommunicator, victim: i32) {
    let mem = dsm_kv::init_memory(world, 10).unwrap();
    let rank = world.rank();
    let mut words = [0i64; 2];
    if mem.is_master() {
        let var = mem.add((0..25).collect::<Vec<i64>>()).unwrap();
        let hosts: BTreeSet<i32> = mem
            .placement(&var)
            .unwrap()
            .iter()
            .map(|e| e.host)
            .collect();
        assert!(hosts.len() >= 3, "the list spans every host");
        words = var.to_words();
    }
    world.process_at_rank(0).broadcast_into(&mut words[..]);
    let var = dsm_kv::Var::from_words(words);
    world.barrier();
    if rank == victim {
        die_later(rank, Duration::from_millis(200), "during dsm-kv writes");
    }
    for round in 0u64.. {
        match rank {
            0 => mem.map(&var, |x| x + 1).unwrap(),
            2 => {
                mem.modify(&var, round as i64, (round % 25) as usize)
                    .unwrap();
            }
            _ => {
                mem.read(&var).unwrap();
            }
        }
        if round % 100 == 0 {
            say(world, &format!("kv round {round}"));
        }
    }
}

/// The job's processes, from this one up: the ancestors that carry the
/// job's marker (a rank, Hydra's proxy, the launcher), nearest first.
fn job_ancestry() -> Vec<u32> {
    let token = std::env::var(JOB_VAR).expect("fault jobs are marked");
    let mut chain = vec![std::process::id()];
    loop {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", chain.last().unwrap()))
            .expect("/proc/<pid>/stat");
        // The fields after the command name, which is in parentheses.
        let after = &stat[stat.rfind(')').expect("stat format") + 2..];
        let parent: u32 = after.split(' ').nth(1).unwrap().parse().unwrap();
        let marked = common::processes_with_env(JOB_VAR, &token)
            .iter()
            .any(|(pid, _)| *pid == parent);
        if !marked {
            return chain;
        }
        chain.push(parent);
    }
}

/// Every rank builds the three shared structures, then rank 0 signals the
/// launcher: SIGTERM, what a batch system sends at the time limit (the
/// launcher must take the job down); or SIGKILL to the launcher and every
/// process of the job at once, what the OOM killer or `kill -9` of a
/// process group does (nobody is left to clean up).
fn signal_launcher(world: &SimpleCommunicator, whole_job: bool) {
    let _shm = shm_core::MpiShared::<f64>::new(&[1 << 16], world).unwrap();
    let lock = mpi_lock::MpiLock::new(world).unwrap();
    let _mem = dsm_kv::init_memory(world, 10).unwrap();
    world.barrier();
    if world.rank() == 0 {
        let chain = job_ancestry();
        let launcher = *chain.last().unwrap();
        assert_ne!(launcher, std::process::id(), "a rank is not the launcher");
        if whole_job {
            let token = std::env::var(JOB_VAR).unwrap();
            println!("rank 0: SIGKILL to the whole job at ms {}", now_ms());
            send_to(launcher, common::SIGKILL);
            // Some may be gone already, taken down by the launcher's death.
            for (pid, _) in common::processes_with_env(JOB_VAR, &token) {
                common::send_signal(pid, common::SIGKILL);
            }
            common::kill_self();
        }
        println!(
            "rank 0: SIGTERM to the launcher (pid {launcher}) at ms {}",
            now_ms()
        );
        send_to(launcher, common::SIGTERM);
    }
    // Every rank waits here until the launcher ends the job.
    let _guard = lock.lock().unwrap();
    world.barrier();
    unreachable!("the launcher ends the job first");
}

fn send_to(pid: u32, sig: i32) {
    assert!(common::send_signal(pid, sig), "signal {sig} to {pid}");
}

/// The negative control: rank 0 leaves a file in /dev/shm and a process
/// outside the job's process group, then panics; the checks must see both.
fn leak(world: &SimpleCommunicator) {
    if world.rank() == 0 {
        let token = std::env::var(JOB_VAR).unwrap();
        std::fs::write(format!("/dev/shm/rma-fault-leak-{token}"), b"stale").unwrap();
        // Never waited for: leaving it behind is the point. It must not
        // hold the rank's output or sockets open, or launchers that wait for
        // them (Open MPI 5's, Intel's) would wait for it too.
        #[allow(clippy::zombie_processes)]
        let sleeper = common::detached(std::process::Command::new("sleep").arg("60"))
            .spawn()
            .unwrap();
        println!("rank 0: left a sleeper, pid {}", sleeper.id());
        panic!("injected fault: leaving a file and a process behind");
    }
    world.barrier();
}

/// Creates one of each shared structure and waits: for looking at the files
/// a job creates (`RMA_FAULT=hold`, by hand).
fn hold(world: &SimpleCommunicator) {
    let shm = shm_core::MpiShared::<f64>::new(&[1024], world).unwrap();
    let lock = mpi_lock::MpiLock::new(world).unwrap();
    let mem = dsm_kv::init_memory(world, 10).unwrap();
    world.barrier();
    say(world, &format!("holding, pid {}", std::process::id()));
    std::thread::sleep(Duration::from_secs(5));
    world.barrier();
    mem.quit().unwrap();
    lock.close().unwrap();
    drop(shm);
}

// ---------------------------------------------------------------------------
// The parent's side.

/// What a fault job left behind, and how it ended.
struct Outcome {
    end: JobEnd,
    /// The processes of the job still running [`GRACE`] after the launcher
    /// exited (they have been killed since).
    stragglers: Vec<(u32, String)>,
    /// Files in `/dev/shm` that this job created and nobody removed.
    stale_shm: Vec<String>,
    /// Entries left in the job's private temporary directory.
    stale_tmp: Vec<String>,
    /// Files of the leftover table's `/tmp` names that this job created and
    /// nobody removed (launchers that ignore `$TMPDIR`).
    stale_slash_tmp: Vec<String>,
    /// Seconds from the announced SIGKILL to the launcher's exit.
    after_kill: Option<f64>,
    /// The job's private temporary directory, removed on drop.
    tmp: PathBuf,
    /// The value of the job's marker.
    token: String,
}

impl Drop for Outcome {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.tmp);
    }
}

/// Launches `scenario` on [`NP`] ranks and collects its [`Outcome`].
fn run_fault(scenario: &str) -> Outcome {
    let exe = std::env::current_exe().expect("test binary path");
    let token = common::unique_token();
    let tmp = std::env::temp_dir().join(format!("rma-fault-{token}"));
    std::fs::create_dir_all(&tmp).expect("private temporary directory");
    let tmp_str = tmp.to_str().unwrap().to_string();
    let shm_before = common::dir_entries(Path::new("/dev/shm"));
    let tmp_before = common::dir_entries(Path::new("/tmp"));
    let end = common::mpirun_bounded(
        NP,
        exe.to_str().unwrap(),
        &[
            "--exact",
            "fault_child",
            "--nocapture",
            "--test-threads=1",
            "--include-ignored",
        ],
        &[
            (CHILD_VAR, "1"),
            (SCENARIO_VAR, scenario),
            (JOB_VAR, &token),
            // Session directories and anything else that honours TMPDIR go
            // to a directory of this job only, so leftovers are attributed.
            ("TMPDIR", &tmp_str),
            ("OMPI_MCA_orte_tmpdir_base", &tmp_str),
        ],
        BOUND,
    );
    // The launcher's exit was seen within milliseconds.
    let ended_ms = now_ms();
    let stragglers = common::reap_stragglers(JOB_VAR, &token, GRACE);
    // Waiting for files the MPI is known to leave after this fault changes
    // no verdict (they stay until clean-shm): stop waiting once only those
    // are left.
    let allowed = allows(scenario);
    let stale_shm = stale_files(
        "/dev/shm",
        &shm_before,
        |_| true,
        |name| allowed(Place::Shm, name),
    );
    let slash_tmp_names: Vec<Leftover> = leftovers::table()
        .into_iter()
        .filter(|l| l.place == Place::Tmp)
        .collect();
    let stale_slash_tmp = stale_files(
        "/tmp",
        &tmp_before,
        |name| slash_tmp_names.iter().any(|l| l.matches(name)),
        |name| allowed(Place::Tmp, name),
    );
    let stale_tmp = files_under(&tmp);
    let after_kill = end
        .output
        .lines()
        .filter(|l| l.contains(": SIGKILL ") || l.contains(": SIGTERM "))
        .filter_map(|l| l.rsplit("at ms ").next()?.trim().parse::<u128>().ok())
        .min()
        .map(|killed| (ended_ms.saturating_sub(killed)) as f64 / 1000.0);
    eprintln!(
        "    [{}] {scenario}: launcher {:?} after {:.1} s{}",
        common::launcher()[0],
        end.status,
        end.elapsed.as_secs_f64(),
        after_kill.map_or(String::new(), |s| format!(", {s:.1} s after the signal")),
    );
    Outcome {
        end,
        stragglers,
        stale_shm,
        stale_tmp,
        stale_slash_tmp,
        after_kill,
        tmp,
        token,
    }
}

/// The files under `dir`, recursively, relative to it.
fn files_under(dir: &Path) -> Vec<String> {
    fn walk(dir: &Path, root: &Path, out: &mut Vec<String>) {
        for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let path: PathBuf = entry.path();
            if path.is_dir() {
                walk(&path, root, out);
            } else {
                out.push(path.strip_prefix(root).unwrap().display().to_string());
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out
}

/// New files of `dir` (those `wanted` names) that belong to this job. Other
/// MPI jobs may run on the machine at the same time, so a new file counts
/// only when no running process maps it or holds it open: a job's live
/// segments are always mapped, and ours has ended. Waits up to [`GRACE`]
/// for them to go, unless every one left is `expected`.
fn stale_files(
    dir: &str,
    before: &BTreeSet<String>,
    wanted: impl Fn(&str) -> bool,
    expected: impl Fn(&str) -> bool,
) -> Vec<String> {
    let deadline = Instant::now() + GRACE;
    loop {
        let new: Vec<String> = common::dir_entries(Path::new(dir))
            .difference(before)
            .filter(|name| wanted(name))
            .cloned()
            .collect();
        let in_use = files_in_use(&format!("{dir}/"));
        let stale: Vec<String> = new
            .into_iter()
            .filter(|name| !in_use.contains(&format!("{dir}/{name}")))
            .collect();
        if stale.iter().all(|name| expected(name)) || Instant::now() > deadline {
            return stale;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The paths under `prefix` that some process maps or has open.
fn files_in_use(prefix: &str) -> BTreeSet<String> {
    let mut used = BTreeSet::new();
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        if let Ok(maps) = std::fs::read_to_string(entry.path().join("maps")) {
            for line in maps.lines() {
                if let Some(at) = line.find(prefix) {
                    let path = line[at..].trim_end_matches(" (deleted)");
                    used.insert(path.to_string());
                }
            }
        }
        for fd in std::fs::read_dir(entry.path().join("fd"))
            .into_iter()
            .flatten()
            .flatten()
        {
            if let Ok(target) = std::fs::read_link(fd.path()) {
                let target = target.to_string_lossy();
                if target.starts_with(prefix) {
                    used.insert(target.trim_end_matches(" (deleted)").to_string());
                }
            }
        }
    }
    used
}

/// The leftovers that the MPI under test may leave after `scenario`
/// (`scripts/mpi-leftovers.txt`).
fn allowed_leftovers(scenario: &str) -> Vec<Leftover> {
    let mpi = leftovers::current_mpi();
    leftovers::table()
        .into_iter()
        .filter(|l| l.mpi == mpi)
        .filter(|l| match l.when {
            When::Abnormal => true,
            When::Window => scenario == "kill-in-create",
            When::WholeJob => scenario == "kill-whole-job",
        })
        .collect()
}

/// Whether the table allows the MPI under test to leave `path` (relative
/// to its place) after `scenario`.
fn allows(scenario: &str) -> impl Fn(Place, &str) -> bool {
    let allowed = allowed_leftovers(scenario);
    move |place: Place, path: &str| {
        // A leftover may be a directory: any of the path's leading
        // components may be what the table names.
        let parts: Vec<&str> = path.split('/').collect();
        (1..=parts.len()).any(|n| {
            let prefix = parts[..n].join("/");
            allowed
                .iter()
                .any(|l| l.place == place && l.matches(&prefix))
        })
    }
}

/// What the job left that the table does not allow for this MPI and fault.
fn unexpected_leftovers(scenario: &str, outcome: &Outcome) -> Vec<String> {
    let allows = allows(scenario);
    let shm = outcome
        .stale_shm
        .iter()
        .map(|n| (Place::Shm, "/dev/shm/", n));
    let tmp = outcome
        .stale_slash_tmp
        .iter()
        .map(|n| (Place::Tmp, "/tmp/", n));
    let session = outcome
        .stale_tmp
        .iter()
        .map(|n| (Place::TmpDir, "$TMPDIR/", n));
    shm.chain(tmp)
        .chain(session)
        .filter(|(place, _, name)| !allows(*place, name))
        .map(|(_, dir, name)| format!("{dir}{name}"))
        .collect()
}

/// The checks every fault job must pass: it failed, no process of it is
/// left, and it left no file but the table's leftovers of this MPI for this
/// fault, which `scripts/clean-shm.sh` then removes.
fn assert_clean_failure(scenario: &str, outcome: &Outcome) {
    let out = &outcome.end.output;
    let status = outcome.end.status.unwrap_or_else(|| {
        panic!("{scenario}: the job was still running after {BOUND:?}; output:\n{out}")
    });
    assert!(
        !status.success(),
        "{scenario}: the job reported success; output:\n{out}"
    );
    assert!(
        outcome.stragglers.is_empty(),
        "{scenario}: processes still running {GRACE:?} after the launcher exited (killed now): {:?}\noutput:\n{out}",
        outcome.stragglers
    );
    let unexpected = unexpected_leftovers(scenario, outcome);
    assert!(
        unexpected.is_empty(),
        "{scenario}: left {unexpected:?}, which scripts/mpi-leftovers.txt does not list for {} \
         and this fault\noutput:\n{out}",
        leftovers::current_mpi()
    );
    if !(outcome.stale_shm.is_empty()
        && outcome.stale_tmp.is_empty()
        && outcome.stale_slash_tmp.is_empty())
    {
        sweep(scenario, outcome);
    }
}

/// The job's output has the hook's line for `rank`: rank, location in this
/// file, message and the abort; and no rank went on to a later statement.
fn assert_hook_line(scenario: &str, outcome: &Outcome, rank: i32, message: &str) {
    let out = &outcome.end.output;
    let prefix = format!("rank {rank} of {NP} panicked at tests/faults.rs:");
    let found = out.lines().any(|line| {
        line.starts_with(&prefix)
            && line.contains(&format!(
                ": {message}; calling MPI_Abort(MPI_COMM_WORLD, 1)"
            ))
    });
    assert!(
        found,
        "{scenario}: no line {prefix}...: {message}; calling MPI_Abort... in the output:\n{out}"
    );
    assert!(
        !out.contains("unreachable"),
        "{scenario}: a rank got past the point the fault should hold it at:\n{out}"
    );
    // The usual panic message is still printed, by the previous hook.
    assert!(
        out.lines()
            .any(|l| l.starts_with("thread '") && l.contains(" panicked at tests/faults.rs:")),
        "{scenario}: no standard panic message in the output:\n{out}"
    );
}

fn assert_killed(scenario: &str) {
    let outcome = run_fault(scenario);
    assert_clean_failure(scenario, &outcome);
    assert!(
        outcome.after_kill.is_some(),
        "{scenario}: the victim never announced its SIGKILL; output:\n{}",
        outcome.end.output
    );
}

#[test]
fn a_panic_while_holding_the_lock_aborts_the_job() {
    let _serial = serial();
    let scenario = "panic-holding-lock";
    let outcome = run_fault(scenario);
    assert_clean_failure(scenario, &outcome);
    assert_hook_line(
        scenario,
        &outcome,
        2,
        "injected fault: panic while holding the lock",
    );
}

#[test]
fn a_panic_in_a_worker_thread_aborts_the_job() {
    let _serial = serial();
    let scenario = "panic-in-thread";
    let outcome = run_fault(scenario);
    assert_clean_failure(scenario, &outcome);
    assert_hook_line(
        scenario,
        &outcome,
        1,
        "injected fault: panic in a worker thread",
    );
}

#[test]
fn a_rank_killed_during_set_ends_the_job() {
    let _serial = serial();
    assert_killed("kill-in-set");
}

#[test]
fn a_rank_killed_holding_the_lock_ends_the_job() {
    let _serial = serial();
    assert_killed("kill-holding-lock");
}

#[test]
fn a_rank_killed_during_lock_handoffs_ends_the_job() {
    let _serial = serial();
    assert_killed("kill-in-handoff");
}

#[test]
fn a_rank_killed_holding_sync_primitives_ends_the_job() {
    let _serial = serial();
    assert_killed("kill-in-sync");
}

#[test]
fn a_rank_killed_during_a_kv_map_ends_the_job() {
    let _serial = serial();
    assert_killed("kill-in-kv-map");
}

#[test]
fn a_kv_host_killed_under_access_ends_the_job() {
    let _serial = serial();
    assert_killed("kill-kv-host");
}

#[test]
fn a_sigterm_to_the_launcher_ends_the_job_cleanly() {
    let _serial = serial();
    let scenario = "term-launcher";
    let outcome = run_fault(scenario);
    assert_clean_failure(scenario, &outcome);
}

/// With the launcher killed too, nobody removes the files MPI keeps for the
/// job's life (Open MPI's shared-memory segments and session directory,
/// Hydra's topology file in /tmp; MPICH 4 unlinks its files as soon as they
/// are mapped). `scripts/clean-shm.sh` removes them.
#[test]
fn after_a_sigkill_of_the_whole_job_clean_shm_removes_what_is_left() {
    let _serial = serial();
    let scenario = "kill-whole-job";
    let outcome = run_fault(scenario);
    let out = &outcome.end.output;
    let status = outcome.end.status.expect("a killed launcher has ended");
    // The launcher died of the SIGKILL (the ranks' output may be lost with
    // it: Hydra's proxy forwards it).
    assert_eq!(
        std::os::unix::process::ExitStatusExt::signal(&status),
        Some(common::SIGKILL),
        "{out}"
    );
    assert_clean_failure(scenario, &outcome);
}

/// Rank 0 is killed inside the creation of a shared window, while its
/// backing file is linked (before every rank has attached and rank 0
/// unlinks it). No launcher removes that file: Open MPI's mpirun removes
/// only the segments registered with it, Hydra nothing.
/// `scripts/clean-shm.sh` does.
#[test]
fn a_rank_killed_while_a_window_file_is_linked_leaves_it_to_clean_shm() {
    let _serial = serial();
    let scenario = "kill-in-create";
    let outcome = run_fault(scenario);
    assert!(
        outcome.after_kill.is_some(),
        "{scenario}: no kill announced:\n{}",
        outcome.end.output
    );
    assert_clean_failure(scenario, &outcome);
}

/// Reports what a job left, checks that `scripts/clean-shm.sh` with its
/// default names would remove all of it, and removes it with the script
/// (naming the files, so as not to touch other jobs' files).
fn sweep(scenario: &str, outcome: &Outcome) {
    eprintln!(
        "    {scenario}: {} left, as scripts/mpi-leftovers.txt says: /dev/shm {:?}, /tmp {:?}, \
         session tree {} file(s)",
        leftovers::current_mpi(),
        outcome.stale_shm,
        outcome.stale_slash_tmp,
        outcome.stale_tmp.len()
    );
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/clean-shm.sh");
    let run = |args: &[String]| {
        let done = std::process::Command::new(&script)
            .args(args)
            .arg("--tmpdir")
            .arg(&outcome.tmp)
            .output()
            .expect("run scripts/clean-shm.sh");
        let report = format!(
            "{}{}",
            String::from_utf8_lossy(&done.stdout),
            String::from_utf8_lossy(&done.stderr)
        );
        assert!(done.status.success(), "clean-shm {args:?}: {report}");
        report
    };
    let slash_tmp: Vec<String> = outcome
        .stale_slash_tmp
        .iter()
        .map(|n| format!("/tmp/{n}"))
        .collect();
    // The default names: a dry run without names.
    let listed = run(&["--dry-run".into(), "--min-age".into(), "0".into()]);
    for path in outcome
        .stale_shm
        .iter()
        .map(|n| format!("/dev/shm/{n}"))
        .chain(slash_tmp.iter().cloned())
    {
        assert!(
            listed.contains(&format!("would remove {path}\n")),
            "the default names of clean-shm miss {path}:\n{listed}"
        );
    }
    let mut args: Vec<String> = vec!["--min-age".into(), "0".into()];
    args.extend(outcome.stale_shm.iter().cloned());
    args.extend(slash_tmp.iter().cloned());
    let report = run(&args);
    for path in outcome
        .stale_shm
        .iter()
        .map(|n| format!("/dev/shm/{n}"))
        .chain(slash_tmp)
    {
        assert!(
            !Path::new(&path).exists(),
            "clean-shm left {path}:\n{report}"
        );
    }
    let session = files_under(&outcome.tmp);
    assert!(session.is_empty(), "clean-shm left {session:?}:\n{report}");
}

/// The checks themselves: a file left in /dev/shm and a process that
/// escaped the launcher (its own process group) are both reported.
#[test]
fn the_checks_see_a_leaked_file_and_a_stray_process() {
    let _serial = serial();
    let scenario = "leak";
    let outcome = run_fault(scenario);
    let leaked = format!("rma-fault-leak-{}", outcome.token);
    let _ = std::fs::remove_file(Path::new("/dev/shm").join(&leaked));
    let out = &outcome.end.output;
    assert!(outcome.end.status.is_some_and(|s| !s.success()), "{out}");
    assert!(outcome.stale_shm.contains(&leaked), "{out}");
    assert!(
        unexpected_leftovers(scenario, &outcome).contains(&format!("/dev/shm/{leaked}")),
        "the checks accept the leaked file"
    );
    assert!(
        outcome.stragglers.iter().any(|(_, cmd)| cmd == "sleep 60"),
        "the stray sleeper was not found: {:?}\n{out}",
        outcome.stragglers
    );
    assert!(common::processes_with_env(JOB_VAR, &outcome.token).is_empty());
    // The MPI's own leftovers of the abort go as in the other tests.
    let mut rest = outcome;
    rest.stale_shm.retain(|name| name != &leaked);
    if !rest.stale_shm.is_empty() {
        sweep(scenario, &rest);
    }
}

/// Without MPI, the hook is the usual one: the panic unwinds to the test
/// harness, which reports a failed test (exit code 101), and nothing
/// mentions MPI_Abort.
#[test]
fn without_mpi_the_hook_is_the_usual_panic() {
    let exe = std::env::current_exe().expect("test binary path");
    let out = std::process::Command::new(exe)
        .args([
            "--exact",
            "local_panic_child",
            "--nocapture",
            "--include-ignored",
        ])
        .env(LOCAL_VAR, "1")
        .env_remove(CHILD_VAR)
        .output()
        .expect("run the test binary");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.status.code(), Some(101), "{text}");
    assert!(text.contains("test local_panic_child ... FAILED"), "{text}");
    assert!(text.contains("panicked at tests/faults.rs:"), "{text}");
    assert!(text.contains("injected fault: panic without MPI"), "{text}");
    assert!(!text.contains("MPI_Abort"), "{text}");
}

/// The table's names match as `scripts/clean-shm.sh` matches them.
#[test]
fn leftover_names_match_as_clean_shm_does() {
    use leftovers::glob_match;
    assert!(glob_match("mpich_shm_*", "mpich_shm_73669f3_0"));
    assert!(glob_match("ompi.<pid>", "ompi.22296"));
    assert!(!glob_match("ompi.<pid>", "ompi.vm.0"));
    assert!(glob_match("ompi.*/pid.<pid>", "ompi.vm.0/pid.19984"));
    assert!(!glob_match("osc_sm.*", "sm_segment.vm"));
    assert!(!glob_match("ompi.*", "ompi.a/b"));
    let table = leftovers::table();
    for mpi in ["openmpi", "mpich", "openmpi5", "mpich5", "impi"] {
        assert!(table.iter().any(|l| l.mpi == mpi), "no row for {mpi}");
    }
}
