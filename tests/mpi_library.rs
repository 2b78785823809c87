//! A program must run with the MPI library it was built against: started
//! with another MPI's library of the same file name (Open MPI 5 and 4.1 are
//! both `libmpi.so.40`; MPICH 5 and Intel MPI both `libmpi.so.12`), it is
//! told so, before `MPI_Init`, instead of failing in ways that name nothing.
//!
//! `scripts/mpi.sh` sets `RMA_FOREIGN_MPI_LIB` to a directory holding
//! another MPI's library of the same name as this build's; where none
//! exists here (Debian's MPICH is `libmpich.so.12`), that test says it was
//! skipped.

use std::io::Write;
use std::process::Command;

const CHILD_VAR: &str = "RMA_LIBRARY_CHILD";
const FOREIGN_VAR: &str = "RMA_FOREIGN_MPI_LIB";

/// The check, in a process of its own (no MPI_Init: the check must work
/// before it). Exits 3 with the error when the check fails.
#[test]
#[ignore = "a process of its own; launched by the other tests of this file"]
fn library_child() {
    if std::env::var_os(CHILD_VAR).is_none() {
        return;
    }
    let (name, version) = shm_core::built_against();
    println!("built against: {name} {version}");
    println!("loaded: {}", shm_core::loaded_library());
    if let Err(e) = shm_core::check_mpi_library() {
        eprintln!("{e}");
        std::process::exit(3);
    }
}

/// Runs [`library_child`] with `library_path` first on the library path.
fn run_child(library_path: Option<&str>) -> (Option<i32>, String) {
    let mut cmd = Command::new(std::env::current_exe().expect("test binary"));
    cmd.args(["--exact", "library_child", "--ignored", "--nocapture"])
        .env(CHILD_VAR, "1");
    if let Some(dir) = library_path {
        cmd.env("LD_LIBRARY_PATH", dir);
    }
    let out = cmd.output().expect("run the test binary");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code(), text)
}

#[test]
fn the_library_loaded_is_the_one_built_against() {
    let (code, out) = run_child(None);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("built against: "), "{out}");
    // Names the MPI of this run in the log of `make test`.
    let (name, version) = shm_core::built_against();
    let _ = writeln!(
        std::io::stderr(),
        "    MPI: built against {name} {version}; loaded {}",
        shm_core::loaded_library()
    );
}

#[test]
fn another_mpi_library_of_the_same_name_is_caught() {
    let Ok(dir) = std::env::var(FOREIGN_VAR) else {
        let _ = writeln!(
            std::io::stderr(),
            "    another_mpi_library_of_the_same_name_is_caught: skipped: {FOREIGN_VAR} is not set \
             (scripts/mpi.sh sets it where another MPI has a library of this build's file name)"
        );
        return;
    };
    let (code, out) = run_child(Some(&dir));
    // Either our check says it, or the dynamic loader refuses first (a
    // symbol this build needs is missing from the other library).
    let ours = out.contains("was built against") && out.contains("loaded another MPI library");
    let loader = out.contains("symbol lookup error") || out.contains("undefined symbol");
    assert!(
        code != Some(0) && (ours || loader),
        "with {dir} first on the library path the program ran (exit {code:?}):\n{out}"
    );
    let _ = writeln!(
        std::io::stderr(),
        "    with {dir}: {}",
        out.lines()
            .find(|l| l.contains("was built against") || l.contains("symbol"))
            .unwrap_or("")
    );
}
