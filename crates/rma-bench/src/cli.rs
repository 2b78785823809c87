//! The command line: the run's options, or `report FILE`.

use crate::config::Config;
use crate::suites::{Op, Suite};
use clap::builder::{PossibleValue, PossibleValuesParser, TypedValueParser};
use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::{Path, PathBuf};

/// OSU-style benchmarks of the toolkit against plain MPI and memcpy.
///
/// Run it under mpirun (2 or more ranks). It prints one line per result, a
/// progress line per operation on stderr, and appends CSV rows to FILE
/// (columns: suite,op,impl,ranks,size,median_us,p10_us,p90_us,throughput_mb_s,count).
/// `rma-bench report FILE` reads the CSV back. See docs/benchmarks.md.
#[derive(Parser, Debug)]
#[command(
    name = "rma-bench",
    args_conflicts_with_subcommands = true,
    disable_help_subcommand = true
)]
pub struct Cli {
    /// The run's options (without a subcommand).
    #[command(flatten)]
    pub run: RunArgs,
    /// `report`, or `None` for a run.
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// What a run measures and where it writes.
#[derive(Args, Debug)]
pub struct RunArgs {
    /// Suites to run, comma-separated, in this order (default: all)
    #[arg(long, value_name = "SUITE", value_delimiter = ',', value_parser = suite_parser())]
    suite: Vec<SuiteChoice>,
    /// Tiny iteration counts (smoke test)
    #[arg(long)]
    quick: bool,
    /// Adds the 10^8-element sizes (800 MB per array)
    #[arg(long)]
    large: bool,
    /// Runs only these operations, comma-separated
    #[arg(long, value_name = "NAME", value_delimiter = ',')]
    op: Vec<Op>,
    /// Appends the rows to this CSV file (rank 0 writes it)
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
}

/// The subcommands.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Reads the CSV; writes results.md and PNG plots; prints the summary
    /// against the targets
    Report(ReportArgs),
}

/// `report`'s arguments.
#[derive(Args, Debug)]
pub struct ReportArgs {
    /// The CSV file that runs (and bench/peers.py) appended to
    #[arg(value_name = "FILE")]
    pub csv: PathBuf,
    /// Where to write results.md and the plots (default: the CSV's directory)
    #[arg(long, value_name = "DIR")]
    outdir: Option<PathBuf>,
}

impl ReportArgs {
    /// The output directory: `--outdir`, else the CSV's directory.
    pub fn outdir(&self) -> PathBuf {
        self.outdir.clone().unwrap_or_else(|| {
            self.csv
                .parent()
                .filter(|p| !p.as_os_str().is_empty())
                .map(Path::to_path_buf)
                .unwrap_or_else(|| PathBuf::from("."))
        })
    }
}

/// One value of `--suite`: a suite, or `all` of them.
#[derive(Debug, Clone, Copy)]
enum SuiteChoice {
    One(Suite),
    All,
}

/// The suites' names, and `all`.
fn suite_parser() -> impl TypedValueParser<Value = SuiteChoice> {
    let names = Suite::value_variants()
        .iter()
        .filter_map(ValueEnum::to_possible_value)
        .chain([PossibleValue::new("all").help("every suite, in the order above")]);
    PossibleValuesParser::new(names).map(|name| match Suite::from_str(&name, false) {
        Ok(suite) => SuiteChoice::One(suite),
        Err(_) => SuiteChoice::All,
    })
}

impl RunArgs {
    /// The run's settings: the suites in the order named, each once (all of
    /// them when none is named). Refused (with the reason) when an `--op`
    /// belongs to no selected suite: it would silently measure nothing.
    pub fn config(&self) -> Result<Config, String> {
        let mut suites: Vec<Suite> = Vec::new();
        for choice in &self.suite {
            let named = match choice {
                SuiteChoice::One(suite) => std::slice::from_ref(suite),
                SuiteChoice::All => Suite::value_variants(),
            };
            for suite in named {
                if !suites.contains(suite) {
                    suites.push(*suite);
                }
            }
        }
        if suites.is_empty() {
            suites = Suite::value_variants().to_vec();
        }
        if let Some(op) = self.op.iter().find(|op| !suites.contains(&op.suite())) {
            return Err(format!(
                "operation {op} belongs to suite {}, which is not selected",
                op.suite()
            ));
        }
        Ok(Config {
            suites,
            quick: self.quick,
            large: self.large,
            out: self.out.clone(),
            ops: self.op.clone(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    fn config(args: &[&str]) -> Result<Config, String> {
        let cli =
            Cli::try_parse_from(["rma-bench"].iter().chain(args)).map_err(|e| e.to_string())?;
        cli.run.config()
    }

    #[test]
    fn suites_run_once_in_the_order_named() {
        let cfg = config(&["--suite", "raw,dsm-kv,raw"]).unwrap();
        assert_eq!(cfg.suites, [Suite::Raw, Suite::DsmKv]);
        let cfg = config(&["--suite", "mpi-lock", "--suite", "all"]).unwrap();
        assert_eq!(
            cfg.suites,
            [
                Suite::MpiLock,
                Suite::Raw,
                Suite::ShmCore,
                Suite::DsmKv,
                Suite::Pool
            ]
        );
    }

    #[test]
    fn no_suite_means_all() {
        assert_eq!(config(&[]).unwrap().suites, Suite::value_variants());
    }

    #[test]
    fn an_op_of_an_unselected_suite_is_refused() {
        let err = config(&["--suite", "raw", "--op", "set"]).unwrap_err();
        assert_eq!(
            err,
            "operation set belongs to suite shm-core, which is not selected"
        );
        let cfg = config(&["--op", "set,memcpy", "--quick"]).unwrap();
        assert_eq!(cfg.ops, [Op::Set, Op::Memcpy]);
        assert!(cfg.quick);
    }

    #[test]
    fn unknown_names_are_errors() {
        assert!(config(&["--suite", "nope"]).is_err());
        assert!(config(&["--suite", "raw,"]).is_err());
        assert!(config(&["--op", "nope"]).is_err());
        assert!(config(&["--quick", "report", "x.csv"]).is_err());
    }

    /// The output directory of `rma-bench report ARGS..`.
    fn report_outdir(args: &[&str]) -> PathBuf {
        let argv = ["rma-bench", "report"].iter().chain(args);
        match Cli::try_parse_from(argv).unwrap().command {
            Some(Command::Report(report)) => report.outdir(),
            None => panic!("{args:?} is not a report"),
        }
    }

    #[test]
    fn the_report_writes_next_to_its_csv_by_default() {
        assert_eq!(report_outdir(&["dir/r.csv"]), Path::new("dir"));
        assert_eq!(report_outdir(&["r.csv"]), Path::new("."));
        assert_eq!(report_outdir(&["r.csv", "--outdir", "o"]), Path::new("o"));
    }

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }
}
