//! `rma-bench report FILE`: the Markdown table, the plots, and the summary of
//! each target (ratio of ours to the baseline, and whether it is met).
//!
//! When a (suite, op, impl, ranks, size) appears more than once in the CSV,
//! the last row wins, so runs may be appended to one file.

use crate::harness::{Row, HEADER};
use anyhow::{bail, ensure, Context, Result};
use plotters::prelude::*;
use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// pshmem's `MPILock` lock+unlock at 4 ranks on these machines, quoted by
/// issue 5, used when bench-peers has not produced a row.
const PSHMEM_LOCK_QUOTED_US: f64 = 174.0;

/// The bound on remote operations per acquisition (2 per lock, 2 per unlock)
/// that the MCS protocol promises whatever the number of ranks.
const REMOTE_OPS_BOUND: f64 = 4.0;

pub struct Args {
    csv: PathBuf,
    outdir: PathBuf,
}

pub fn parse_args(args: &[String]) -> Result<Args> {
    let mut csv = None;
    let mut outdir = None;
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--outdir" => {
                outdir = Some(PathBuf::from(it.next().context("--outdir needs a value")?))
            }
            a if a.starts_with('-') => bail!("unknown argument {a:?}"),
            a if csv.is_none() => csv = Some(PathBuf::from(a)),
            a => bail!("unexpected argument {a:?}"),
        }
    }
    let csv = csv.context("report needs the CSV file")?;
    let outdir = outdir.unwrap_or_else(|| {
        csv.parent()
            .filter(|p| !p.as_os_str().is_empty())
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("."))
    });
    Ok(Args { csv, outdir })
}

fn opt_f64(s: &str) -> Result<Option<f64>> {
    if s.is_empty() {
        Ok(None)
    } else {
        Ok(Some(
            s.parse().with_context(|| format!("bad number {s:?}"))?,
        ))
    }
}

/// Reads the CSV, keeping the last row of each key.
pub fn read_rows(path: &Path) -> Result<Vec<Row>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let mut lines = text.lines();
    ensure!(
        lines.next() == Some(HEADER),
        "{} does not start with the header {HEADER}",
        path.display()
    );
    let mut rows: Vec<Row> = Vec::new();
    for (i, line) in lines.enumerate().filter(|(_, l)| !l.trim().is_empty()) {
        let f: Vec<&str> = line.split(',').collect();
        ensure!(
            f.len() == 10,
            "line {}: expected 10 columns, got {}",
            i + 2,
            f.len()
        );
        let row = Row {
            suite: f[0].into(),
            op: f[1].into(),
            imp: f[2].into(),
            ranks: f[3]
                .parse()
                .with_context(|| format!("line {}: ranks", i + 2))?,
            size: if f[4].is_empty() {
                None
            } else {
                Some(
                    f[4].parse()
                        .with_context(|| format!("line {}: size", i + 2))?,
                )
            },
            median_us: opt_f64(f[5])?,
            p10_us: opt_f64(f[6])?,
            p90_us: opt_f64(f[7])?,
            throughput_mb_s: opt_f64(f[8])?,
            count: opt_f64(f[9])?,
        };
        let key = |r: &Row| {
            (
                r.suite.clone(),
                r.op.clone(),
                r.imp.clone(),
                r.ranks,
                r.size,
            )
        };
        match rows.iter_mut().find(|r| key(r) == key(&row)) {
            Some(old) => *old = row,
            None => rows.push(row),
        }
    }
    Ok(rows)
}

fn find<'r>(
    rows: &'r [Row],
    suite: &str,
    op: &str,
    imp: &str,
    ranks: i32,
    size: Option<usize>,
) -> Option<&'r Row> {
    rows.iter().find(|r| {
        r.suite == suite && r.op == op && r.imp == imp && r.ranks == ranks && r.size == size
    })
}

fn ranks_of(rows: &[Row], suite: &str, op: &str, imp: &str) -> Vec<i32> {
    let set: BTreeSet<i32> = rows
        .iter()
        .filter(|r| r.suite == suite && r.op == op && r.imp == imp)
        .map(|r| r.ranks)
        .collect();
    set.into_iter().collect()
}

/// One line of the summary.
pub struct Check {
    target: String,
    ranks: String,
    ours: String,
    baseline: String,
    ratio: String,
    goal: String,
    verdict: String,
}

fn us(v: f64) -> String {
    format!("{v:.2} µs")
}

fn verdict(ok: bool) -> String {
    if ok {
        "meets".into()
    } else {
        "MISSED".into()
    }
}

fn not_measured(target: &str, ranks: &str, goal: &str, why: &str) -> Check {
    Check {
        target: target.into(),
        ranks: ranks.into(),
        ours: "-".into(),
        baseline: "-".into(),
        ratio: "-".into(),
        goal: goal.into(),
        verdict: format!("not measured ({why})"),
    }
}

/// A latency comparison: `ratio = ours / baseline`, met when `<= limit`.
fn slower_than(
    target: &str,
    ranks: i32,
    ours: &Row,
    base: &Row,
    base_name: &str,
    limit: f64,
) -> Option<Check> {
    let (o, b) = (ours.median_us?, base.median_us?);
    let ratio = o / b;
    Some(Check {
        target: target.into(),
        ranks: ranks.to_string(),
        ours: us(o),
        baseline: format!("{} ({base_name})", us(b)),
        ratio: format!("{ratio:.2}x"),
        goal: format!("≤ {limit}x"),
        verdict: verdict(ratio <= limit),
    })
}

pub fn checks(rows: &[Row]) -> Vec<Check> {
    let mut out = Vec::new();

    // MpiShared::set of 10^6 f64 vs memcpy throughput.
    let t = "MpiShared::set 10^6 f64, throughput vs memcpy";
    let mut any = false;
    for r in ranks_of(rows, "shm-core", "set", "ours") {
        let ours = find(rows, "shm-core", "set", "ours", r, Some(1_000_000));
        let base = find(rows, "raw", "memcpy", "memcpy", r, Some(1_000_000));
        if let (Some(o), Some(b)) = (
            ours.and_then(|o| o.throughput_mb_s),
            base.and_then(|b| b.throughput_mb_s),
        ) {
            any = true;
            let ratio = o / b;
            out.push(Check {
                target: t.into(),
                ranks: r.to_string(),
                ours: format!("{o:.0} MB/s"),
                baseline: format!("{b:.0} MB/s (memcpy)"),
                ratio: format!("{ratio:.2}x"),
                goal: "≥ 0.8x".into(),
                verdict: verdict(ratio >= 0.8),
            });
        }
    }
    if !any {
        out.push(not_measured(t, "-", "≥ 0.8x", "no set/memcpy rows at 10^6"));
    }

    // MpiShared::set of 1 element at 4 ranks vs pshmem.
    let t = "MpiShared::set 1 element, speed-up over pshmem";
    match (
        find(rows, "shm-core", "set", "ours", 4, Some(1)),
        find(rows, "shm-core", "set", "pshmem", 4, Some(1)),
    ) {
        (Some(o), Some(p)) if o.median_us.is_some() && p.median_us.is_some() => {
            let (o, p) = (o.median_us.unwrap_or(0.0), p.median_us.unwrap_or(0.0));
            let ratio = p / o;
            out.push(Check {
                target: t.into(),
                ranks: "4".into(),
                ours: us(o),
                baseline: format!("{} (pshmem)", us(p)),
                ratio: format!("{ratio:.1}x faster"),
                goal: "≥ 10x faster".into(),
                verdict: verdict(ratio >= 10.0),
            });
        }
        (None, _) => out.push(not_measured(t, "4", "≥ 10x faster", "no 4-rank set row")),
        _ => out.push(not_measured(
            t,
            "4",
            "≥ 10x faster",
            "no pshmem row; run make bench-peers",
        )),
    }

    // Many small arrays alive at once on one communicator, at 2 ranks.
    let t = "MpiShared: 10,000 (5, 5) arrays created and kept alive";
    match find(rows, "shm-core", "create-10000", "ours", 2, Some(10_000)).and_then(|o| o.median_us)
    {
        Some(o) => {
            let secs = o / 1e6;
            out.push(Check {
                target: t.into(),
                ranks: "2".into(),
                ours: format!("{secs:.3} s"),
                baseline: "-".into(),
                ratio: "-".into(),
                goal: "< 2 s".into(),
                verdict: verdict(secs < 2.0),
            });
        }
        None => out.push(not_measured(
            t,
            "2",
            "< 2 s",
            "no create-10000 row at 2 ranks",
        )),
    }

    // MpiLock vs the raw window lock.
    for (op, raw_op, goal, t) in [
        (
            "lock-unlock-uncontended",
            "win-lock-unlock-uncontended",
            1.5,
            "MpiLock uncontended vs MPI_Win_lock",
        ),
        (
            "lock-unlock-contended",
            "win-lock-unlock-contended",
            1.0,
            "MpiLock contended vs MPI_Win_lock",
        ),
    ] {
        let mut any = false;
        for r in ranks_of(rows, "mpi-lock", op, "ours") {
            let (Some(o), Some(b)) = (
                find(rows, "mpi-lock", op, "ours", r, None),
                find(rows, "raw", raw_op, "raw-mpi", r, None),
            ) else {
                continue;
            };
            if let Some(c) = slower_than(t, r, o, b, "raw", goal) {
                any = true;
                out.push(c);
            }
        }
        if !any {
            out.push(not_measured(
                t,
                "-",
                &format!("≤ {goal}x"),
                "no mpi-lock/raw rows",
            ));
        }
    }

    // MpiLock vs pshmem's MPILock at 4 ranks.
    let t = "MpiLock contended, speed-up over pshmem MPILock";
    match find(rows, "mpi-lock", "lock-unlock-contended", "ours", 4, None).and_then(|o| o.median_us)
    {
        Some(o) => {
            let (p, source) =
                match find(rows, "mpi-lock", "lock-unlock-contended", "pshmem", 4, None)
                    .and_then(|p| p.median_us)
                {
                    Some(p) => (p, "pshmem, measured"),
                    None => (
                        PSHMEM_LOCK_QUOTED_US,
                        "pshmem, quoted in issue 5, not measured here",
                    ),
                };
            let ratio = p / o;
            out.push(Check {
                target: t.into(),
                ranks: "4".into(),
                ours: us(o),
                baseline: format!("{} ({source})", us(p)),
                ratio: format!("{ratio:.1}x faster"),
                goal: "≥ 10x faster".into(),
                verdict: verdict(ratio >= 10.0),
            });
        }
        None => out.push(not_measured(
            t,
            "4",
            "≥ 10x faster",
            "no 4-rank mpi-lock row",
        )),
    }

    // Remote operations per acquisition, across rank counts.
    let t = "MpiLock remote ops per acquire, constant in ranks";
    let counts: Vec<(i32, f64)> = ranks_of(rows, "mpi-lock", "remote-ops-per-acquire", "ours")
        .into_iter()
        .filter_map(|r| {
            Some((
                r,
                find(rows, "mpi-lock", "remote-ops-per-acquire", "ours", r, None)?.count?,
            ))
        })
        .collect();
    if counts.is_empty() {
        out.push(not_measured(t, "-", "bounded", "no rows"));
    } else {
        let max = counts.iter().map(|c| c.1).fold(0.0, f64::max);
        let min = counts.iter().map(|c| c.1).fold(f64::INFINITY, f64::min);
        out.push(Check {
            target: t.into(),
            ranks: counts
                .iter()
                .map(|c| c.0.to_string())
                .collect::<Vec<_>>()
                .join("/"),
            ours: counts
                .iter()
                .map(|c| format!("{:.2}", c.1))
                .collect::<Vec<_>>()
                .join(" / "),
            baseline: format!("bound {REMOTE_OPS_BOUND} (2 per lock + 2 per unlock)"),
            ratio: format!("max/min {:.2}", max / min),
            goal: format!("every count ≤ {REMOTE_OPS_BOUND}"),
            verdict: if counts.len() < 2 {
                format!("{} (only one rank count)", verdict(max <= REMOTE_OPS_BOUND))
            } else {
                verdict(max <= REMOTE_OPS_BOUND)
            },
        });
    }

    // dsm-kv point operations vs raw get/put + flush.
    for (op, raw_op, t) in [
        ("read-int", "get-flush", "dsm-kv read vs MPI_Get+flush"),
        ("modify", "put-flush", "dsm-kv modify vs MPI_Put+flush"),
    ] {
        let mut any = false;
        for r in ranks_of(rows, "dsm-kv", op, "ours") {
            let (Some(o), Some(b)) = (
                find(rows, "dsm-kv", op, "ours", r, Some(1)),
                find(rows, "raw", raw_op, "raw-mpi", r, Some(1)),
            ) else {
                continue;
            };
            if let Some(c) = slower_than(t, r, o, b, raw_op, 2.0) {
                any = true;
                out.push(c);
            }
        }
        if !any {
            out.push(not_measured(t, "-", "≤ 2x", "no dsm-kv rows"));
        }
    }
    // dsm-kv bulk list operations vs memcpy of the same bytes.
    for op in ["read-list", "map", "filter", "reduce"] {
        let t = format!("dsm-kv {op} 10^6 vs memcpy");
        let mut any = false;
        for r in ranks_of(rows, "dsm-kv", op, "ours") {
            let (Some(o), Some(b)) = (
                find(rows, "dsm-kv", op, "ours", r, Some(1_000_000)),
                find(rows, "raw", "memcpy", "memcpy", r, Some(1_000_000)),
            ) else {
                continue;
            };
            if let Some(c) = slower_than(&t, r, o, b, "memcpy", 2.0) {
                any = true;
                out.push(c);
            }
        }
        if !any {
            out.push(not_measured(&t, "-", "≤ 2x", "no dsm-kv rows"));
        }
    }
    out
}

fn summary_markdown(checks: &[Check]) -> String {
    let mut s = String::from("| target | ranks | ours | baseline | ratio | goal | verdict |\n|---|---|---|---|---|---|---|\n");
    for c in checks {
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} | {} | {} |",
            c.target, c.ranks, c.ours, c.baseline, c.ratio, c.goal, c.verdict
        );
    }
    s
}

fn results_markdown(rows: &[Row]) -> String {
    let f = |v: Option<f64>| v.map(|v| format!("{v:.3}")).unwrap_or_default();
    let mut s = String::from("| suite | op | impl | ranks | size | median µs | p10 µs | p90 µs | MB/s | count |\n|---|---|---|---|---|---|---|---|---|---|\n");
    for r in rows {
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            r.suite,
            r.op,
            r.imp,
            r.ranks,
            r.size.map(|v| v.to_string()).unwrap_or_default(),
            f(r.median_us),
            f(r.p10_us),
            f(r.p90_us),
            f(r.throughput_mb_s),
            f(r.count)
        );
    }
    s
}

pub fn run(args: &Args) -> Result<()> {
    let rows = read_rows(&args.csv)?;
    std::fs::create_dir_all(&args.outdir)
        .with_context(|| format!("creating {}", args.outdir.display()))?;
    let checks = checks(&rows);
    let summary = summary_markdown(&checks);
    let plots = match load_font() {
        Ok(()) => plot_all(&rows, &args.outdir)?,
        Err(e) => {
            eprintln!("rma-bench report: no plots: {e:#}");
            Vec::new()
        }
    };
    let mut md = format!(
        "# rma-bench results\n\nFrom `{}`.\n\n## Targets\n\n{summary}\n## All results\n\n",
        args.csv.display()
    );
    md.push_str(&results_markdown(&rows));
    if !plots.is_empty() {
        md.push_str("\n## Plots\n\n");
        for p in &plots {
            let _ = writeln!(md, "![{p}]({p})\n");
        }
    }
    let md_path = args.outdir.join("results.md");
    std::fs::write(&md_path, md).with_context(|| format!("writing {}", md_path.display()))?;
    println!("{summary}");
    println!("wrote {}", md_path.display());
    for p in plots {
        println!("wrote {}", args.outdir.join(p).display());
    }
    Ok(())
}

/// Registers a TrueType font for the plot labels: `$RMA_BENCH_FONT`, else
/// DejaVu Sans from Debian's fonts-dejavu-core.
fn load_font() -> Result<()> {
    let candidates: Vec<PathBuf> = std::env::var_os("RMA_BENCH_FONT")
        .map(PathBuf::from)
        .into_iter()
        .chain(
            [
                "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
                "/usr/share/fonts/TTF/DejaVuSans.ttf",
                "/usr/share/fonts/dejavu/DejaVuSans.ttf",
            ]
            .map(PathBuf::from),
        )
        .collect();
    let path = candidates
        .iter()
        .find(|p| p.is_file())
        .context("no font file found (install fonts-dejavu-core or set RMA_BENCH_FONT)")?;
    let bytes: &'static [u8] =
        Vec::leak(std::fs::read(path).with_context(|| format!("reading {}", path.display()))?);
    plotters::style::register_font("sans-serif", FontStyle::Normal, bytes)
        .map_err(|_| anyhow::anyhow!("{} is not a usable font", path.display()))
}

type Series = (String, Vec<(f64, f64)>);

const COLORS: [RGBColor; 8] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
];

/// A log-log line chart of `series` (points with positive coordinates).
fn line_chart(
    path: &Path,
    title: &str,
    x_label: &str,
    y_label: &str,
    series: &[Series],
    log_x: bool,
) -> Result<()> {
    let points = || series.iter().flat_map(|s| s.1.iter().copied());
    let (x0, x1) = points().fold((f64::INFINITY, 0.0f64), |(a, b), p| {
        (a.min(p.0), b.max(p.0))
    });
    let (y0, y1) = points().fold((f64::INFINITY, 0.0f64), |(a, b), p| {
        (a.min(p.1), b.max(p.1))
    });
    let root = BitMapBackend::new(path, (900, 600)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| anyhow::anyhow!("{e}"))?;
    let mut builder = ChartBuilder::on(&root);
    builder
        .caption(title, ("sans-serif", 24))
        .margin(15)
        .x_label_area_size(45)
        .y_label_area_size(70);
    let y_range = (y0 / 1.5..y1 * 1.5).log_scale();
    macro_rules! draw {
        ($chart:expr) => {{
            let mut chart = $chart;
            chart
                .configure_mesh()
                .x_desc(x_label)
                .y_desc(y_label)
                .draw()
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            for (i, (name, pts)) in series.iter().enumerate() {
                let color = COLORS[i % COLORS.len()];
                let mut pts = pts.clone();
                pts.sort_by(|a, b| a.0.total_cmp(&b.0));
                chart
                    .draw_series(LineSeries::new(pts.clone(), color.stroke_width(2)))
                    .map_err(|e| anyhow::anyhow!("{e}"))?
                    .label(name.as_str())
                    .legend(move |(x, y)| {
                        PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2))
                    });
                chart
                    .draw_series(pts.iter().map(|p| Circle::new(*p, 4, color.filled())))
                    .map_err(|e| anyhow::anyhow!("{e}"))?;
            }
            chart
                .configure_series_labels()
                .background_style(WHITE.mix(0.8))
                .border_style(BLACK)
                .position(SeriesLabelPosition::UpperLeft)
                .draw()
                .map_err(|e| anyhow::anyhow!("{e}"))?;
        }};
    }
    if log_x {
        draw!(builder
            .build_cartesian_2d((x0 / 2.0..x1 * 2.0).log_scale(), y_range)
            .map_err(|e| anyhow::anyhow!("{e}"))?);
    } else {
        draw!(builder
            .build_cartesian_2d((x0 - 1.0)..(x1 + 1.0), y_range)
            .map_err(|e| anyhow::anyhow!("{e}"))?);
    }
    root.present().map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok(())
}

fn series_by(rows: &[Row], pick: impl Fn(&Row) -> Option<(String, f64, f64)>) -> Vec<Series> {
    let mut out: Vec<Series> = Vec::new();
    for (name, x, y) in rows.iter().filter_map(pick) {
        if x <= 0.0 || y <= 0.0 {
            continue;
        }
        match out.iter_mut().find(|s| s.0 == name) {
            Some(s) => s.1.push((x, y)),
            None => out.push((name, vec![(x, y)])),
        }
    }
    out
}

/// Draws the plots that have data; returns their file names.
fn plot_all(rows: &[Row], dir: &Path) -> Result<Vec<String>> {
    let mut written = Vec::new();
    let sizes = series_by(rows, |r| {
        let wanted = matches!(
            (r.suite.as_str(), r.op.as_str()),
            ("shm-core", "set") | ("raw", "bcast") | ("raw", "memcpy")
        );
        if !wanted {
            return None;
        }
        Some((
            format!("{} {} ({} ranks)", r.op, r.imp, r.ranks),
            r.size? as f64,
            r.median_us?,
        ))
    });
    if !sizes.is_empty() {
        let name = "latency_vs_size.png";
        line_chart(
            &dir.join(name),
            "Latency vs size (median)",
            "elements (f64)",
            "µs",
            &sizes,
            true,
        )?;
        written.push(name.to_string());
    }
    let locks = series_by(rows, |r| {
        let wanted = matches!(
            (r.op.as_str(), r.imp.as_str()),
            ("lock-unlock-contended", _) | ("win-lock-unlock-contended", "raw-mpi")
        );
        if !wanted {
            return None;
        }
        Some((format!("{} {}", r.op, r.imp), r.ranks as f64, r.median_us?))
    });
    if !locks.is_empty() {
        let name = "lock_handoff_vs_ranks.png";
        line_chart(
            &dir.join(name),
            "Contended lock+unlock vs ranks (median per acquisition)",
            "ranks",
            "µs",
            &locks,
            false,
        )?;
        written.push(name.to_string());
    }
    let ops = series_by(rows, |r| {
        if r.op != "remote-ops-per-acquire" {
            return None;
        }
        Some((format!("{} {}", r.op, r.imp), r.ranks as f64, r.count?))
    });
    if !ops.is_empty() {
        let name = "lock_remote_ops_vs_ranks.png";
        line_chart(
            &dir.join(name),
            "MpiLock remote RMA operations per acquisition",
            "ranks",
            "operations",
            &ops,
            false,
        )?;
        written.push(name.to_string());
    }
    Ok(written)
}
