//! # mpi-cli
//!
//! The command line of a program started by an MPI launcher (`mpirun`),
//! parsed with [clap] before `MPI_Init`: one place for the rule that the
//! toolkit's binaries (`rma-bench`, `dsm-demo`) and its examples share.
//!
//! Parsing before MPI is initialised answers a bad command line the same way
//! with or without a launcher, at once (no wait for the other ranks), and
//! with no MPI clean-up to skip when the process exits. Under a launcher
//! every rank parses the same command line and reaches the same verdict;
//! only the launcher's rank 0 prints it, so that the message appears once.
//!
//! * a bad command line: clap's error and the usage on stderr, exit status
//!   [`USAGE_EXIT`] (2), as most command-line tools, distinct from 1 for a
//!   run that failed;
//! * `--help`: the help on stdout, exit status 0.
//!
//! ```no_run
//! use clap::Parser;
//!
//! /// Does one thing on every rank.
//! #[derive(Parser)]
//! struct Args {
//!     /// How many times
//!     #[arg(long)]
//!     count: u32,
//! }
//!
//! let args: Args = mpi_cli::parse();
//! // Only now: mpi::initialize().
//! # let _ = args.count;
//! ```
//!
//! The rank comes from the launcher's environment ([`launcher_rank`]), since
//! MPI cannot be asked before `MPI_Init`.

#![warn(missing_docs)]

use clap::error::{ContextKind, ContextValue, ErrorKind};
use clap::{CommandFactory, Parser};
use std::fmt::Display;
use std::time::Duration;

/// The exit status of a bad command line.
pub const USAGE_EXIT: i32 = 2;

/// The variables through which launchers announce a process's rank before
/// `MPI_Init`: Open MPI, PMIx and Hydra/PMI launchers.
pub const LAUNCHER_RANK_VARS: [&str; 3] = ["OMPI_COMM_WORLD_RANK", "PMIX_RANK", "PMI_RANK"];

/// How long the ranks that stay silent wait before exiting with
/// [`USAGE_EXIT`]. A launcher ends the job on the first non-zero exit,
/// possibly before it has forwarded rank 0's message (seen with Open MPI when
/// ranks are on other hosts, docs/multinode.md): leaving a little later, the
/// silent ranks never cut that message off.
pub const SILENT_RANK_DELAY: Duration = Duration::from_millis(500);

/// This process's rank as announced by the launcher, before `MPI_Init`; 0
/// when run without one.
pub fn launcher_rank() -> u32 {
    LAUNCHER_RANK_VARS
        .iter()
        .find_map(|var| std::env::var(var).ok()?.trim().parse().ok())
        .unwrap_or(0)
}

/// `true` on the launcher's rank 0 (or without a launcher): the one rank
/// that prints the usage error or the help for all.
pub fn launched_as_rank_zero() -> bool {
    launcher_rank() == 0
}

/// Parses the process's arguments into `T`. Otherwise ends the process (see
/// [`exit_on`]): `--help` with status 0, a bad command line with
/// [`USAGE_EXIT`]. Call it before initialising MPI.
pub fn parse<T: Parser>() -> T {
    T::try_parse().unwrap_or_else(|error| exit_on::<T>(error))
}

/// Ends the process for a command line that clap parsed but the program
/// refuses (a check across arguments that clap cannot express), as for a
/// parse error: `message` and the usage of `T`, status [`USAGE_EXIT`].
pub fn reject<T: CommandFactory>(kind: ErrorKind, message: impl Display) -> ! {
    exit_on::<T>(T::command().error(kind, message))
}

/// Ends the process for a clap `error` of the command line of `T`: the help
/// on stdout and status 0 for `--help`, else the error with the usage on
/// stderr and status [`USAGE_EXIT`]; printed by the launcher's rank 0 only.
pub fn exit_on<T: CommandFactory>(error: clap::Error) -> ! {
    let bad_command_line = error.use_stderr();
    if launched_as_rank_zero() {
        // Nothing better to do if stdout or stderr is gone.
        let _ = with_usage::<T>(error).print();
    } else if bad_command_line {
        std::thread::sleep(SILENT_RANK_DELAY);
    }
    std::process::exit(if bad_command_line { USAGE_EXIT } else { 0 })
}

/// `error`, with the usage of `T` added if it is a bad command line shown
/// without one: clap shows the usage with some errors only (not with an
/// invalid value, for one).
fn with_usage<T: CommandFactory>(mut error: clap::Error) -> clap::Error {
    if error.use_stderr() && error.get(ContextKind::Usage).is_none() {
        let usage = T::command().render_usage();
        error.insert(ContextKind::Usage, ContextValue::StyledStr(usage));
    }
    error
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Takes a count.
    #[derive(Parser, Debug)]
    #[command(name = "counter")]
    struct Args {
        /// How many
        #[arg(long)]
        count: u32,
    }

    fn rendered(error: clap::Error) -> String {
        with_usage::<Args>(error).render().to_string()
    }

    #[test]
    fn an_invalid_value_is_shown_with_the_usage() {
        let error = Args::try_parse_from(["counter", "--count", "ten"]).unwrap_err();
        assert_eq!(error.kind(), ErrorKind::ValueValidation);
        let text = rendered(error);
        assert!(text.contains("invalid value 'ten'"), "{text}");
        assert!(text.contains("Usage: counter --count <COUNT>"), "{text}");
    }

    #[test]
    fn a_rejection_is_shown_with_the_usage() {
        let error = Args::command().error(ErrorKind::ArgumentConflict, "too many");
        let text = rendered(error);
        assert!(text.contains("error: too many"), "{text}");
        assert!(text.contains("Usage: counter --count <COUNT>"), "{text}");
        assert_eq!(text.matches("Usage:").count(), 1, "{text}");
    }

    #[test]
    fn help_is_not_a_usage_error() {
        let error = Args::try_parse_from(["counter", "--help"]).unwrap_err();
        assert!(!error.use_stderr());
        assert_eq!(error.exit_code(), 0);
        let error = Args::try_parse_from(["counter"]).unwrap_err();
        assert!(error.use_stderr());
        assert_eq!(error.exit_code(), USAGE_EXIT);
    }
}
