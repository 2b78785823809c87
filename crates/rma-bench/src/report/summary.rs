//! The summary against the targets: each target of [`TARGETS`] checked on the
//! rows of the CSV, as lines of a Markdown table.

use super::targets::{Goal, IfMissing, Ranks, Series, Target, TARGETS};
use crate::row::Row;
use std::collections::BTreeSet;
use std::fmt::Write as _;

/// One line of the summary.
#[derive(Debug, Clone, PartialEq)]
pub struct Check {
    target: String,
    ranks: String,
    ours: String,
    baseline: String,
    ratio: String,
    goal: String,
    verdict: String,
}

/// The lines of the summary, target by target.
pub fn checks(rows: &[Row]) -> Vec<Check> {
    TARGETS.iter().flat_map(|t| check(t, rows)).collect()
}

/// The summary as a Markdown table.
pub fn markdown(checks: &[Check]) -> String {
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

impl Series {
    fn matches(&self, row: &Row) -> bool {
        row.suite == self.suite
            && row.op == self.op
            && row.implementation == self.implementation
            && row.size == self.size
    }

    /// The row of this series at `ranks`.
    fn at<'r>(&self, rows: &'r [Row], ranks: i32) -> Option<&'r Row> {
        rows.iter().find(|r| self.matches(r) && r.ranks == ranks)
    }

    /// The rank counts of this series' rows, ascending.
    fn rank_counts(&self, rows: &[Row]) -> BTreeSet<i32> {
        rows.iter()
            .filter(|r| self.matches(r))
            .map(|r| r.ranks)
            .collect()
    }
}

impl Goal {
    /// The column of a row that the goal is about.
    fn value(&self, row: &Row) -> Option<f64> {
        match self {
            Goal::ThroughputAtLeast(_) => row.throughput_mb_s,
            Goal::CountAtMost { .. } | Goal::CountAtLeast(_) => row.count,
            Goal::LatencyAtMost(_) | Goal::FasterAtLeast(_) | Goal::SecondsBelow(_) => {
                row.median_us
            }
        }
    }

    /// The `goal` column.
    fn text(&self, measured: bool) -> String {
        match self {
            Goal::ThroughputAtLeast(f) => format!("≥ {f}x"),
            Goal::LatencyAtMost(f) => format!("≤ {f}x"),
            Goal::FasterAtLeast(f) => format!("≥ {f}x faster"),
            Goal::CountAtLeast(f) => format!("≥ {f}x"),
            Goal::SecondsBelow(s) => format!("< {s} s"),
            Goal::CountAtMost { bound, .. } if measured => format!("every count ≤ {bound}"),
            Goal::CountAtMost { .. } => "bounded".into(),
        }
    }
}

/// A median in µs: to the nanosecond below 1 µs (point operations take a
/// few to a few tens of nanoseconds), else to 10 ns.
fn us(v: f64) -> String {
    if v < 1.0 {
        format!("{v:.3} µs")
    } else {
        format!("{v:.2} µs")
    }
}

fn verdict(ok: bool) -> String {
    if ok {
        "meets".into()
    } else {
        "MISSED".into()
    }
}

fn check(target: &Target, rows: &[Row]) -> Vec<Check> {
    let rank_counts = match target.ranks {
        Ranks::Each => target.ours.rank_counts(rows),
        Ranks::Only(r) => BTreeSet::from([r]),
    };
    let ours: Vec<(i32, f64)> = rank_counts
        .into_iter()
        .filter_map(|r| Some((r, target.goal.value(target.ours.at(rows, r)?)?)))
        .collect();
    if ours.is_empty() {
        return vec![not_measured(target, target.not_measured)];
    }
    if let Goal::CountAtMost { bound, reason } = target.goal {
        return vec![counts_bounded(target, &ours, bound, reason)];
    }
    let mut why = target.not_measured;
    let mut lines = Vec::new();
    for (ranks, value) in ours {
        match check_at(target, rows, ranks, value) {
            Ok(line) => lines.push(line),
            Err(reason) => why = reason,
        }
    }
    if lines.is_empty() {
        lines.push(not_measured(target, why));
    }
    lines
}

/// The line of `target` at `ranks`, where ours is `value`; the reason it is
/// not measured when its baseline is missing.
fn check_at(target: &Target, rows: &[Row], ranks: i32, value: f64) -> Result<Check, &'static str> {
    let baseline = match target.baseline {
        None => None,
        Some(b) => Some(
            match (
                b.series.at(rows, ranks).and_then(|r| target.goal.value(r)),
                b.if_missing,
            ) {
                (Some(v), _) => (v, b.label),
                (None, IfMissing::Quoted { median_us, label }) => (median_us, label),
                (None, IfMissing::NotMeasured) => return Err(target.not_measured),
                (None, IfMissing::NotMeasuredBecause(why)) => return Err(why),
            },
        ),
    };
    let o = value;
    let (ours, baseline, ratio, ok) = match (target.goal, baseline) {
        (Goal::ThroughputAtLeast(f), Some((b, label))) => (
            format!("{o:.0} MB/s"),
            format!("{b:.0} MB/s ({label})"),
            format!("{:.2}x", o / b),
            o / b >= f,
        ),
        (Goal::LatencyAtMost(f), Some((b, label))) => (
            us(o),
            format!("{} ({label})", us(b)),
            format!("{:.2}x", o / b),
            o / b <= f,
        ),
        (Goal::FasterAtLeast(f), Some((b, label))) => (
            us(o),
            format!("{} ({label})", us(b)),
            format!("{:.1}x faster", b / o),
            b / o >= f,
        ),
        (Goal::CountAtLeast(f), Some((b, label))) => (
            format!("{o:.2}"),
            format!("{b:.2} ({label})"),
            format!("{:.2}x", o / b),
            o / b >= f,
        ),
        (Goal::SecondsBelow(limit), None) => (
            format!("{:.3} s", o / 1e6),
            "-".into(),
            "-".into(),
            o / 1e6 < limit,
        ),
        (goal, _) => unreachable!("{goal:?} with baseline {baseline:?} (targets are tested)"),
    };
    Ok(Check {
        target: target.title.into(),
        ranks: ranks.to_string(),
        ours,
        baseline,
        ratio,
        goal: target.goal.text(true),
        verdict: verdict(ok),
    })
}

/// The one line of a count bounded at every rank count.
fn counts_bounded(target: &Target, counts: &[(i32, f64)], bound: f64, reason: &str) -> Check {
    let max = counts.iter().map(|c| c.1).fold(0.0, f64::max);
    let min = counts.iter().map(|c| c.1).fold(f64::INFINITY, f64::min);
    let join =
        |f: &dyn Fn(&(i32, f64)) -> String, sep| counts.iter().map(f).collect::<Vec<_>>().join(sep);
    let mut verdict = verdict(max <= bound);
    if counts.len() < 2 {
        verdict.push_str(" (only one rank count)");
    }
    Check {
        target: target.title.into(),
        ranks: join(&|c| c.0.to_string(), "/"),
        ours: join(&|c| format!("{:.2}", c.1), " / "),
        baseline: format!("bound {bound} ({reason})"),
        ratio: format!("max/min {:.2}", max / min),
        goal: target.goal.text(true),
        verdict,
    }
}

fn not_measured(target: &Target, why: &str) -> Check {
    Check {
        target: target.title.into(),
        ranks: match target.ranks {
            Ranks::Each => "-".into(),
            Ranks::Only(r) => r.to_string(),
        },
        ours: "-".into(),
        baseline: "-".into(),
        ratio: "-".into(),
        goal: target.goal.text(false),
        verdict: format!("not measured ({why})"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(op: (&str, &str, &str), ranks: i32, size: Option<usize>) -> Row {
        Row {
            suite: op.0.into(),
            op: op.1.into(),
            implementation: op.2.into(),
            ranks,
            size,
            ..Row::default()
        }
    }

    /// A row of a count (no size).
    fn counted(op: (&str, &str, &str), ranks: i32, count: f64) -> Row {
        Row {
            count: Some(count),
            ..row(op, ranks, None)
        }
    }

    #[test]
    fn lines_keep_their_format() {
        let million = Some(1_000_000);
        let rows = vec![
            Row {
                throughput_mb_s: Some(900.0),
                ..row(("shm-core", "set", "ours"), 2, million)
            },
            Row {
                throughput_mb_s: Some(1000.0),
                ..row(("raw", "memcpy", "memcpy"), 2, million)
            },
            Row {
                median_us: Some(1.0),
                ..row(("mpi-lock", "lock-unlock-contended", "ours"), 4, None)
            },
            counted(("mpi-lock", "remote-ops-per-acquire", "ours"), 2, 2.5),
            counted(("pool", "load-balance", "ours"), 4, 0.9),
            counted(("pool", "load-balance", "pympipool"), 4, 0.6),
            Row {
                median_us: Some(5.0),
                ..row(("pool", "empty-task-throughput", "ours"), 4, Some(2_000))
            },
        ];
        let md = markdown(&checks(&rows));
        for line in [
            "| MpiShared::set 10^6 f64, throughput vs memcpy | 2 | 900 MB/s | 1000 MB/s (memcpy) | 0.90x | ≥ 0.8x | meets |",
            "| MpiShared::set 1 element, speed-up over pshmem | 4 | - | - | - | ≥ 10x faster | not measured (no 4-rank set row) |",
            "| MpiLock contended vs MPI_Win_lock | - | - | - | - | ≤ 1x | not measured (no mpi-lock/raw rows) |",
            "| MpiLock contended, speed-up over pshmem MPILock | 4 | 1.00 µs | 174.00 µs (pshmem, quoted in issue 5, not measured here) | 174.0x faster | ≥ 10x faster | meets |",
            "| MpiLock remote ops per acquire, constant in ranks | 2 | 2.50 | bound 4 (2 per lock + 2 per unlock) | max/min 1.00 | every count ≤ 4 | meets (only one rank count) |",
            "| dsm-kv map 10^6 vs memcpy | - | - | - | - | ≤ 1.5x | not measured (no dsm-kv rows) |",
            "| Pool empty task (chunk 1), speed-up over pympipool map | 4 | - | - | - | ≥ 10x faster | not measured (no pympipool row; run make bench-peers) |",
            "| Pool load-balance efficiency vs pympipool map | 4 | 0.90 | 0.60 (pympipool) | 1.50x | ≥ 1x | meets |",
        ] {
            assert!(md.lines().any(|l| l == line), "no {line:?} in:\n{md}");
        }
        // Two header lines, then one line per target here.
        assert_eq!(md.lines().count(), 2 + TARGETS.len(), "{md}");
    }
}
