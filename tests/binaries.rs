//! Every program of the package answers a bad command line with a usage
//! message on stderr and exit status 2, and `--help` with the usage on
//! stdout and status 0: run directly (no launcher, no MPI) and under
//! `mpirun`, where only the first rank prints and the job ends at once.
//!
//! The examples are found next to this test binary
//! (`target/<profile>/examples/`), where `cargo test --all-targets` (as run
//! by `make test`) builds them; when they are missing or older than their
//! source, the checks of that example are skipped with a message.

mod common;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::SystemTime;

/// Variables through which launchers tell a process its rank: removed for
/// the direct runs, so that a test run under a launcher still tests the
/// single-process case.
const LAUNCHER_VARS: [&str; 3] = ["OMPI_COMM_WORLD_RANK", "PMIX_RANK", "PMI_RANK"];

struct Program {
    name: &'static str,
    path: PathBuf,
    /// Command lines that must be refused, each with a piece of the message.
    bad: Vec<(Vec<&'static str>, &'static str)>,
}

fn no_arguments() -> Vec<(Vec<&'static str>, &'static str)> {
    vec![
        (vec!["4"], "takes no arguments, got \"4\""),
        (vec!["--bogus"], "takes no arguments"),
        (vec!["--size", "3"], "takes no arguments"),
        (vec![""], "takes no arguments"),
    ]
}

fn modified(path: &Path) -> Option<SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}

/// An example's binary, if it was built after its source last changed.
fn example(name: &str) -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    // target/<profile>/deps/<this test> -> target/<profile>/examples/<name>
    let path = exe.parent()?.parent()?.join("examples").join(name);
    let built = modified(&path);
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let sources = [
        root.join("examples").join(format!("{name}.rs")),
        root.join("src/bin/cli/mod.rs"),
    ];
    let fresh = built.is_some_and(|b| sources.iter().all(|s| modified(s).is_some_and(|m| m <= b)));
    if fresh {
        Some(path)
    } else {
        // Straight to stderr: libtest captures eprintln! of passing tests.
        let _ = writeln!(
            std::io::stderr(),
            "    skipping example {name}: {} is missing or older than its source \
             (build it with `cargo test --all-targets` or `cargo build --examples`)",
            path.display()
        );
        None
    }
}

fn programs() -> Vec<Program> {
    let mut all = vec![
        Program {
            name: "dsm-demo",
            path: PathBuf::from(env!("CARGO_BIN_EXE_dsm-demo")),
            bad: vec![
                (vec![], "--size is required"),
                (vec!["--size"], "--size needs a value"),
                (vec!["--size", "ten"], "--size wants an integer"),
                (vec!["--size=ten"], "--size wants an integer"),
                (vec!["--size", "-3"], "--size wants an integer"),
                (
                    vec!["--size", "99999999999999999999"],
                    "--size wants an integer",
                ),
                (
                    vec!["--size", "9223372036854775808"],
                    "--size wants an integer",
                ),
                (
                    vec!["--size", "20", "--bogus"],
                    "unknown argument \"--bogus\"",
                ),
                (vec!["--size", "20", "extra"], "unknown argument \"extra\""),
                (vec!["-n"], "-n needs a value"),
            ],
        },
        Program {
            name: "rma-bench",
            path: PathBuf::from(env!("CARGO_BIN_EXE_rma-bench")),
            bad: vec![
                (vec!["--frobnicate"], "unknown argument \"--frobnicate\""),
                (vec!["--suite"], "--suite needs a value"),
                (vec!["--suite", "nope"], "unknown suite \"nope\""),
                (vec!["--suite", "raw,"], "unknown suite \"\""),
                (vec!["--out"], "--out needs a value"),
                (vec!["--op"], "--op needs a value"),
                (vec!["--op", "nope"], "unknown operation \"nope\""),
                (
                    vec!["--suite", "raw", "--op", "set"],
                    "belongs to suite shm-core, which is not selected",
                ),
                (vec!["extra"], "unknown argument \"extra\""),
                (vec!["report"], "report needs the CSV file"),
                (
                    vec!["report", "a.csv", "b.csv"],
                    "unexpected argument \"b.csv\"",
                ),
                (
                    vec!["report", "a.csv", "--outdir"],
                    "--outdir needs a value",
                ),
                (vec!["report", "--bogus"], "unknown argument \"--bogus\""),
            ],
        },
    ];
    for name in ["shared_array", "lock_serialize", "dsm_basic"] {
        if let Some(path) = example(name) {
            all.push(Program {
                name,
                path,
                bad: no_arguments(),
            });
        }
    }
    all
}

fn run_directly(program: &Program, args: &[&str]) -> Output {
    let mut cmd = Command::new(&program.path);
    cmd.args(args);
    for var in LAUNCHER_VARS {
        cmd.env_remove(var);
    }
    cmd.output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", program.path.display()))
}

#[test]
fn bad_arguments_print_usage_and_exit_2() {
    if common::is_child() {
        return;
    }
    for program in programs() {
        for (args, expected) in &program.bad {
            let out = run_directly(&program, args);
            let stderr = String::from_utf8_lossy(&out.stderr);
            let what = format!("{} {args:?}", program.name);
            assert_eq!(out.status.code(), Some(2), "{what}: {out:?}");
            assert!(
                stderr.starts_with(&format!("{}: ", program.name)),
                "{what}: the message does not name the program:\n{stderr}"
            );
            assert!(
                stderr.contains(expected),
                "{what}: no {expected:?} in:\n{stderr}"
            );
            assert!(stderr.contains("usage:"), "{what}: no usage in:\n{stderr}");
            assert!(out.stdout.is_empty(), "{what}: wrote to stdout: {out:?}");
        }
    }
}

#[test]
fn help_prints_usage_and_succeeds() {
    if common::is_child() {
        return;
    }
    for program in programs() {
        for args in [&["--help"][..], &["-h"], &["--bogus", "--help"]] {
            let out = run_directly(&program, args);
            let stdout = String::from_utf8_lossy(&out.stdout);
            let what = format!("{} {args:?}", program.name);
            assert!(out.status.success(), "{what}: {out:?}");
            assert!(stdout.starts_with("usage:"), "{what}:\n{stdout}");
            assert!(stdout.contains(program.name), "{what}:\n{stdout}");
            assert!(out.stderr.is_empty(), "{what}: {out:?}");
        }
    }
}

/// Under the launcher: the job fails (or, for `--help`, succeeds) without
/// hanging, and the message appears once, from the first rank.
#[test]
fn under_mpirun_only_the_first_rank_speaks() {
    if common::is_child() {
        return;
    }
    for program in programs() {
        let path = program.path.to_str().unwrap();
        let (args, expected) = &program.bad[program.bad.len() / 2];
        let (ok, out) = common::mpirun(3, path, args, &[]);
        let what = format!("mpirun -np 3 {} {args:?}", program.name);
        assert!(!ok, "{what} succeeded:\n{out}");
        assert!(!out.contains("killed after"), "{what} hung:\n{out}");
        assert_eq!(out.matches("usage:").count(), 1, "{what}:\n{out}");
        assert_eq!(out.matches(expected).count(), 1, "{what}:\n{out}");

        let (ok, out) = common::mpirun(3, path, &["--help"], &[]);
        assert!(ok, "mpirun {} --help failed:\n{out}", program.name);
        assert_eq!(
            out.matches("usage:").count(),
            1,
            "{} --help:\n{out}",
            program.name
        );
    }
}
