//! Compiles `src/shim.c` with the MPI C compiler wrapper.
//!
//! Several handles of `mpi.h` are preprocessor macros whose expansion differs
//! between implementations (integers in MPICH, addresses of global objects in
//! Open MPI), so Rust cannot name them directly. The shim turns each into a
//! `const` object with a stable symbol name that `src/sys.rs` declares.
//!
//! The wrapper is `$MPICC` when set, else `mpicc`: the same rule that
//! rsmpi's `mpi-sys` follows, so both are built against the same library.
//! Documentation builds (`DOCS_RS` set) skip the shim.

fn main() {
    println!("cargo:rerun-if-changed=src/shim.c");
    println!("cargo:rerun-if-env-changed=MPICC");
    println!("cargo:rerun-if-env-changed=DOCS_RS");
    // Documentation builds (docs.rs sets DOCS_RS) link nothing, so they need
    // no C compiler wrapper for the shim. rsmpi's mpi-sys still needs an
    // MPI's headers (docs.rs has MPICH; elsewhere pkg-config finds one
    // without `mpicc`).
    if std::env::var_os("DOCS_RS").is_some() {
        return;
    }
    let mpicc = std::env::var("MPICC").unwrap_or_else(|_| "mpicc".to_string());
    cc::Build::new()
        .compiler(&mpicc)
        .file("src/shim.c")
        .warnings(true)
        .compile("shm_core_shim");
}
