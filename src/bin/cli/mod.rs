//! Command-line handling shared by the binaries and the examples (included
//! with `#[path]`; not part of the library).
//!
//! Arguments are parsed before MPI is initialised, so that a bad command line
//! is answered the same way with or without `mpirun`, and without waiting for
//! the other ranks. Under a launcher every rank parses the same command line
//! and reaches the same verdict; only the first rank prints it, so that the
//! message appears once.

#![allow(dead_code)]

/// The exit status of a bad command line: 2, as most command-line tools use,
/// distinct from 1 for a run that failed.
pub const USAGE_EXIT: i32 = 2;

/// This process's rank as announced by the launcher, before `MPI_Init`
/// (Open MPI, PMIx and Hydra/PMI launchers); 0 when run without one.
pub fn launcher_rank() -> u32 {
    ["OMPI_COMM_WORLD_RANK", "PMIX_RANK", "PMI_RANK"]
        .iter()
        .find_map(|var| std::env::var(var).ok()?.trim().parse().ok())
        .unwrap_or(0)
}

/// `true` on the one rank that speaks for all when the command line is bad.
pub fn speaks() -> bool {
    launcher_rank() == 0
}

/// Runs `parse` on the arguments after the program name and returns its
/// settings. Otherwise ends the process: `--help`/`-h` anywhere prints
/// `usage` on stdout and exits 0; a parse error prints `program: error`, then
/// `usage`, on stderr and exits [`USAGE_EXIT`]. Call it before initialising
/// MPI (ending the process here skips no MPI clean-up).
pub fn parse_or_exit<T>(
    program: &str,
    usage: &str,
    parse: impl FnOnce(&[String]) -> Result<T, String>,
) -> T {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "--help" || a == "-h") {
        if speaks() {
            println!("{usage}");
        }
        std::process::exit(0);
    }
    match parse(&args) {
        Ok(settings) => settings,
        Err(message) => usage_error(program, &message, usage),
    }
}

/// Prints a usage error (on the speaking rank) and exits [`USAGE_EXIT`].
pub fn usage_error(program: &str, message: &str, usage: &str) -> ! {
    if speaks() {
        eprintln!("{program}: {message}\n\n{usage}");
    } else {
        // A launcher ends the job on the first non-zero exit, possibly before
        // it has forwarded the speaking rank's message (seen with Open MPI
        // when ranks are on other hosts): the silent ranks leave a little
        // later, so the message is never lost.
        std::thread::sleep(std::time::Duration::from_millis(500));
    }
    std::process::exit(USAGE_EXIT)
}

/// The parser of a program that takes no arguments.
pub fn no_arguments(args: &[String]) -> Result<(), String> {
    match args.first() {
        None => Ok(()),
        Some(arg) => Err(format!("takes no arguments, got {arg:?}")),
    }
}
