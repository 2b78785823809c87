//! The report's PNG plots: latency against size, the contended locks and
//! MpiLock's remote operations against ranks.
//!
//! Text is drawn with a TrueType font loaded at run time (see [`load_font`]),
//! so the plots need no system font lookup.

use crate::row::Row;
use anyhow::{Context, Result};
use plotters::prelude::*;
use std::path::{Path, PathBuf};

/// Registers a TrueType font for the plot labels: `$RMA_BENCH_FONT`, else
/// DejaVu Sans from Debian's fonts-dejavu-core.
pub fn load_font() -> Result<()> {
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

/// A named line of (x, y) points.
type Curve = (String, Vec<(f64, f64)>);

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
    series: &[Curve],
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

fn series_by(rows: &[Row], pick: impl Fn(&Row) -> Option<(String, f64, f64)>) -> Vec<Curve> {
    let mut out: Vec<Curve> = Vec::new();
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
pub fn plot_all(rows: &[Row], dir: &Path) -> Result<Vec<String>> {
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
            format!("{} {} ({} ranks)", r.op, r.implementation, r.ranks),
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
            (r.op.as_str(), r.implementation.as_str()),
            ("lock-unlock-contended", _) | ("win-lock-unlock-contended", "raw-mpi")
        );
        if !wanted {
            return None;
        }
        Some((
            format!("{} {}", r.op, r.implementation),
            r.ranks as f64,
            r.median_us?,
        ))
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
        Some((
            format!("{} {}", r.op, r.implementation),
            r.ranks as f64,
            r.count?,
        ))
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
