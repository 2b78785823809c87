//! `rma-bench report FILE`: the Markdown table of every row, the plots, and
//! the summary against the targets (ratio of ours to the baseline, and
//! whether the goal is met).
//!
//! When a (suite, op, impl, ranks, size) appears more than once in the CSV,
//! the last row wins, so runs may be appended to one file.

mod summary;
mod targets;

use crate::plot;
use crate::row::{self, decimals, Row};
use anyhow::{Context, Result};
use std::fmt::Write as _;
use std::path::Path;

/// Reads the CSV at `csv` and writes `results.md` and the plots to `outdir`;
/// prints the summary and the files written.
pub fn run(csv: &Path, outdir: &Path) -> Result<()> {
    let rows = row::read(csv)?;
    std::fs::create_dir_all(outdir).with_context(|| format!("creating {}", outdir.display()))?;
    let summary = summary::markdown(&summary::checks(&rows));
    let plots = match plot::load_font() {
        Ok(()) => plot::plot_all(&rows, outdir)?,
        Err(e) => {
            eprintln!("rma-bench report: no plots: {e:#}");
            Vec::new()
        }
    };
    let mut md = format!(
        "# rma-bench results\n\nFrom `{}`.\n\n## Targets\n\n{summary}\n## All results\n\n",
        csv.display()
    );
    md.push_str(&results_markdown(&rows));
    if !plots.is_empty() {
        md.push_str("\n## Plots\n\n");
        for p in &plots {
            let _ = writeln!(md, "![{p}]({p})\n");
        }
    }
    let md_path = outdir.join("results.md");
    std::fs::write(&md_path, md).with_context(|| format!("writing {}", md_path.display()))?;
    println!("{summary}");
    println!("wrote {}", md_path.display());
    for p in plots {
        println!("wrote {}", outdir.join(p).display());
    }
    Ok(())
}

/// Every row as a Markdown table.
fn results_markdown(rows: &[Row]) -> String {
    let mut s = String::from("| suite | op | impl | ranks | size | median µs | p10 µs | p90 µs | MB/s | count |\n|---|---|---|---|---|---|---|---|---|---|\n");
    for r in rows {
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            r.suite,
            r.op,
            r.implementation,
            r.ranks,
            r.size.map(|v| v.to_string()).unwrap_or_default(),
            decimals(r.median_us),
            decimals(r.p10_us),
            decimals(r.p90_us),
            decimals(r.throughput_mb_s),
            decimals(r.count)
        );
    }
    s
}
