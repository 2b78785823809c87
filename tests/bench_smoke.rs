//! A smoke run of the benchmark harness (`crates/rma-bench`, built by
//! [`common::programs`]): every suite with `--quick` (tiny iteration counts)
//! at 2 ranks, checking the CSV it appends. Timings are never asserted; the
//! benchmark itself is `make bench`.

mod common;

use std::path::PathBuf;

/// The CSV's columns, as `bench/peers.py` and existing files have them.
const HEADER: &str = "suite,op,impl,ranks,size,median_us,p10_us,p90_us,throughput_mb_s,count";

fn temp_csv(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("rma-bench-smoke-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    let _ = std::fs::remove_file(&path);
    path
}

fn bench() -> PathBuf {
    common::programs::binary("rma-bench", "rma-bench")
}

#[test]
fn every_suite_writes_rows() {
    let bench = bench();
    let csv = temp_csv("results.csv");
    let (ok, output) = common::mpirun(
        2,
        bench.to_str().unwrap(),
        &["--quick", "--suite", "all", "--out", csv.to_str().unwrap()],
        &[],
    );
    assert!(ok, "rma-bench failed:\n{output}");
    assert!(
        output.contains("raw 1/10] put-flush ranks=2"),
        "no progress line:\n{output}"
    );
    let text = std::fs::read_to_string(&csv).unwrap();
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some(HEADER));
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    assert!(rows.iter().all(|r| r.len() == 10), "ragged rows:\n{text}");
    let has = |suite: &str, op: &str, imp: &str| {
        rows.iter()
            .any(|r| r[0] == suite && r[1] == op && r[2] == imp && r[3] == "2")
    };
    for (suite, op, imp) in [
        ("raw", "put-flush", "raw-mpi"),
        ("raw", "cas-flush", "raw-mpi"),
        ("raw", "win-lock-unlock-contended", "raw-mpi"),
        ("raw", "win-lock-shared-contended", "raw-mpi"),
        ("raw", "bcast", "raw-mpi"),
        ("raw", "memcpy", "memcpy"),
        ("shm-core", "set", "ours"),
        ("shm-core", "set-single-source", "ours"),
        ("shm-core", "read-view", "ours"),
        ("shm-core", "create-close", "ours"),
        ("shm-core", "create-10000", "ours"),
        ("mpi-lock", "lock-unlock-uncontended", "ours"),
        ("mpi-lock", "lock-unlock-contended", "ours"),
        ("mpi-lock", "try-lock", "ours"),
        ("mpi-lock", "lock-unlock-contended", "ours-mpi-atomics"),
        ("mpi-lock", "lock-unlock-contended", "ours-node-batched"),
        ("mpi-lock", "remote-ops-per-acquire", "ours"),
        (
            "mpi-lock",
            "inter-node-handoffs-per-acquire",
            "ours-node-batched",
        ),
        ("mpi-lock", "counter-next", "ours"),
        ("mpi-lock", "rwlock-read-contended", "ours"),
        ("mpi-lock", "semaphore-acquire-release", "ours"),
        ("mpi-lock", "condition-notify", "ours-mpi-atomics"),
        ("mpi-lock", "sequential-round", "ours"),
        ("dsm-kv", "add", "ours"),
        ("dsm-kv", "read-int", "ours"),
        ("dsm-kv", "modify", "ours"),
        ("dsm-kv", "read-list", "ours"),
        ("dsm-kv", "map", "ours"),
        ("dsm-kv", "filter", "ours"),
        ("dsm-kv", "filter", "memcpy-fresh"),
        ("dsm-kv", "reduce", "ours"),
        ("pool", "empty-task-throughput", "ours"),
        ("pool", "empty-task-throughput", "ours-chunk-16"),
        ("pool", "load-balance", "ours"),
        ("pool", "load-balance", "static-split"),
    ] {
        assert!(
            has(suite, op, imp),
            "no row for {suite}/{op}/{imp}:\n{text}"
        );
    }
    // Latency rows carry a median; the count rows carry a count (no
    // hand-off crosses nodes on one node: 0; an efficiency is above 0).
    for r in &rows {
        if r[1] == "remote-ops-per-acquire" || r[1] == "load-balance" {
            assert!(r[9].parse::<f64>().unwrap() > 0.0, "{r:?}");
        } else if r[1] == "inter-node-handoffs-per-acquire" {
            assert_eq!(r[9].parse::<f64>().unwrap(), 0.0, "{r:?}");
        } else {
            assert!(r[5].parse::<f64>().unwrap() >= 0.0, "{r:?}");
        }
    }

    // The report step reads the CSV back and writes the Markdown table.
    let out = std::process::Command::new(&bench)
        .args(["report", csv.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(out.status.success(), "report failed: {out:?}");
    let md = std::fs::read_to_string(csv.with_file_name("results.md")).unwrap();
    assert!(
        md.contains("| target |") && md.contains("put-flush"),
        "{md}"
    );
    let _ = std::fs::remove_dir_all(csv.parent().unwrap());
}

#[test]
fn bad_arguments_print_usage_and_fail() {
    let bench = bench();
    for args in [
        &["--suite", "nope"][..],
        &["--frobnicate"],
        &["--out"],
        &["report"],
    ] {
        let out = std::process::Command::new(&bench)
            .args(args)
            .output()
            .unwrap();
        assert!(!out.status.success(), "{args:?} succeeded");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("Usage: rma-bench"), "{args:?}: {err}");
    }
}
