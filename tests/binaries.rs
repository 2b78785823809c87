//! Every program of the workspace (the binaries `dsm-demo` and `rma-bench`,
//! and the examples) answers a bad command line with clap's error and the
//! usage on stderr and exit status 2, and `--help` with the help on stdout
//! and status 0: run directly (no launcher, no MPI) and under `mpirun`, where
//! only the first rank prints and the job ends at once. The rule is
//! `crates/mpi-cli`'s; the programs are built by [`common::programs`].

mod common;

use std::path::PathBuf;
use std::process::{Command, Output};

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
        (vec!["4"], "unexpected argument '4' found"),
        (vec!["--bogus"], "unexpected argument '--bogus' found"),
        (vec!["--size", "3"], "unexpected argument '--size' found"),
        (vec![""], "unexpected argument '' found"),
    ]
}

fn programs() -> Vec<Program> {
    let mut all = vec![
        Program {
            name: "dsm-demo",
            path: common::programs::binary("dsm-demo", "dsm-demo"),
            bad: vec![
                (vec![], "required arguments were not provided"),
                (vec!["--size"], "a value is required for '--size <N>'"),
                (
                    vec!["--size", "ten"],
                    "invalid value 'ten' for '--size <N>'",
                ),
                (vec!["--size=ten"], "invalid value 'ten' for '--size <N>'"),
                (vec!["--size", "-3"], "wants an integer from 0 to"),
                (
                    vec!["--size", "99999999999999999999"],
                    "wants an integer from 0 to",
                ),
                (
                    vec!["--size", "9223372036854775808"],
                    "wants an integer from 0 to 9223372036854775807",
                ),
                (
                    vec!["--size", "20", "--bogus"],
                    "unexpected argument '--bogus' found",
                ),
                (
                    vec!["--size", "20", "extra"],
                    "unexpected argument 'extra' found",
                ),
                (vec!["-n"], "a value is required for '--size <N>'"),
            ],
        },
        Program {
            name: "rma-bench",
            path: common::programs::binary("rma-bench", "rma-bench"),
            bad: vec![
                (
                    vec!["--frobnicate"],
                    "unexpected argument '--frobnicate' found",
                ),
                (vec!["--suite"], "a value is required for '--suite <SUITE>'"),
                (
                    vec!["--suite", "nope"],
                    "invalid value 'nope' for '--suite <SUITE>'",
                ),
                (vec!["--suite", "raw,"], "'--suite <SUITE>'"),
                (vec!["--out"], "a value is required for '--out <FILE>'"),
                (vec!["--op"], "a value is required for '--op <NAME>'"),
                (
                    vec!["--op", "nope"],
                    "invalid value 'nope' for '--op <NAME>'",
                ),
                (
                    vec!["--suite", "raw", "--op", "set"],
                    "operation set belongs to suite shm-core, which is not selected",
                ),
                (vec!["extra"], "unrecognized subcommand 'extra'"),
                (vec!["report"], "required arguments were not provided"),
                (
                    vec!["report", "a.csv", "b.csv"],
                    "unexpected argument 'b.csv' found",
                ),
                (
                    vec!["report", "a.csv", "--outdir"],
                    "a value is required for '--outdir <DIR>'",
                ),
                (
                    vec!["report", "--bogus"],
                    "unexpected argument '--bogus' found",
                ),
                (
                    vec!["--quick", "report", "a.csv"],
                    "the subcommand 'report' cannot be used with '--quick'",
                ),
            ],
        },
    ];
    for name in [
        "shared_array",
        "lock_serialize",
        "dsm_basic",
        "pool_vector_add",
    ] {
        all.push(Program {
            name,
            path: common::programs::example(name),
            bad: no_arguments(),
        });
    }
    let pool_bad = |extra: Vec<(Vec<&'static str>, &'static str)>| {
        let mut bad = vec![
            (vec!["4"], "unexpected argument '4' found"),
            (vec!["--bogus"], "unexpected argument '--bogus' found"),
            (vec!["--workers", "0"], "0 is not in 1.."),
            (
                vec!["--workers"],
                "a value is required for '--workers <WORKERS>'",
            ),
        ];
        bad.extend(extra);
        bad
    };
    all.push(Program {
        name: "pool_map",
        path: common::programs::example("pool_map"),
        bad: pool_bad(vec![(vec!["--cores-per-task", "0"], "0 is not in 1..")]),
    });
    all.push(Program {
        name: "work_queue",
        path: common::programs::example("work_queue"),
        bad: vec![
            (vec!["4"], "unexpected argument '4' found"),
            (vec!["--bogus"], "unexpected argument '--bogus' found"),
            (vec!["--chunk", "0"], "0 is not in 1.."),
            (vec!["--tasks", "-1"], "unexpected argument '-1' found"),
        ],
    });
    all.push(Program {
        name: "pool_submit",
        path: common::programs::example("pool_submit"),
        bad: pool_bad(vec![(
            vec!["--cores-per-task", "2"],
            "unexpected argument '--cores-per-task' found",
        )]),
    });
    all
}

/// The usage line of clap's message, which names the program.
fn usage_line(text: &str) -> Option<&str> {
    text.lines().find(|l| l.starts_with("Usage:"))
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
            assert!(stderr.starts_with("error: "), "{what}:\n{stderr}");
            assert!(
                stderr.contains(expected),
                "{what}: no {expected:?} in:\n{stderr}"
            );
            assert_eq!(stderr.matches("Usage:").count(), 1, "{what}:\n{stderr}");
            assert!(
                usage_line(&stderr).is_some_and(|l| l.contains(program.name)),
                "{what}: the usage does not name the program:\n{stderr}"
            );
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
        for args in [&["--help"][..], &["-h"]] {
            let out = run_directly(&program, args);
            let stdout = String::from_utf8_lossy(&out.stdout);
            let what = format!("{} {args:?}", program.name);
            assert!(out.status.success(), "{what}: {out:?}");
            assert!(
                usage_line(&stdout).is_some_and(|l| l.contains(program.name)),
                "{what}:\n{stdout}"
            );
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
        assert_eq!(out.matches("Usage:").count(), 1, "{what}:\n{out}");
        assert_eq!(out.matches(expected).count(), 1, "{what}:\n{out}");

        let (ok, out) = common::mpirun(3, path, &["--help"], &[]);
        assert!(ok, "mpirun {} --help failed:\n{out}", program.name);
        assert_eq!(
            out.matches("Usage:").count(),
            1,
            "{} --help:\n{out}",
            program.name
        );
    }
}
