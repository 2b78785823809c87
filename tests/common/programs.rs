//! The workspace's programs that tests run as processes: the binaries of
//! other packages (`rma-bench`, `dsm-demo`) and this package's examples.
//!
//! `env!("CARGO_BIN_EXE_..")` names only this package's own binaries, and
//! `cargo test --test NAME` builds neither other packages' binaries nor the
//! examples. So each program is built here on first use, by the cargo that
//! runs the tests, into this test's target directory and profile: a no-op
//! when it is up to date (as after `cargo test --workspace --all-targets`),
//! and never a stale binary. Without cargo (a test binary run by hand), the
//! program must have been built already.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;

/// The binary `name` of workspace package `package`, built if needed.
pub fn binary(package: &str, name: &str) -> PathBuf {
    built(profile_dir().join(name), &["-p", package, "--bin", name])
}

/// This package's example `name`, built if needed.
pub fn example(name: &str) -> PathBuf {
    let package = env!("CARGO_PKG_NAME");
    built(
        profile_dir().join("examples").join(name),
        &["-p", package, "--example", name],
    )
}

/// `target/<profile>/`, where cargo put this test binary's `deps/` directory.
fn profile_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("the test binary's path");
    exe.parent()
        .and_then(Path::parent)
        .expect("the test binary is in target/<profile>/deps/")
        .to_path_buf()
}

/// `path`, after `cargo build TARGET_ARGS..` in this test's target directory
/// and profile (once per test process).
fn built(path: PathBuf, target_args: &[&str]) -> PathBuf {
    static BUILT: Mutex<BTreeSet<PathBuf>> = Mutex::new(BTreeSet::new());
    let mut built = BUILT.lock().unwrap_or_else(|e| e.into_inner());
    if built.contains(&path) {
        return path;
    }
    let Some(cargo) = std::env::var_os("CARGO") else {
        assert!(
            path.is_file(),
            "{} is missing: build it with `cargo build --workspace --all-targets`",
            path.display()
        );
        return path;
    };
    let dir = profile_dir();
    let target_dir = dir.parent().expect("target/<profile>/ has a parent");
    // Cargo's output directory of the `dev` profile is `debug`; the others
    // are named after their profile.
    let profile = match dir.file_name().and_then(|n| n.to_str()) {
        Some("debug") => "dev",
        Some(other) => other,
        None => panic!("no profile directory in {}", dir.display()),
    };
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml");
    let out = Command::new(&cargo)
        .arg("build")
        .arg("--manifest-path")
        .arg(&manifest)
        .arg("--target-dir")
        .arg(target_dir)
        .args(["--profile", profile])
        .args(target_args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cargo:?}: {e}"));
    assert!(
        out.status.success(),
        "cargo build {target_args:?} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(path.is_file(), "cargo built no {}", path.display());
    built.insert(path.clone());
    path
}
