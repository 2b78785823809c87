//! One result as a CSV row, and the CSV file the runs append to and the
//! report reads.
//!
//! The columns are part of the output format (`bench/peers.py` writes the same
//! ones): [`HEADER`]. Numbers are written with three decimals; a cell is empty
//! where a column does not apply.

use anyhow::{ensure, Context, Result};
use serde::{Deserialize, Serialize, Serializer};
use std::path::Path;

/// The CSV header: the columns in order.
pub const HEADER: &str = "suite,op,impl,ranks,size,median_us,p10_us,p90_us,throughput_mb_s,count";

/// One measurement (or one count) of one operation of one implementation.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Row {
    /// The suite that measured it: `raw`, `shm-core`, `mpi-lock`, `dsm-kv`, `pool`.
    pub suite: String,
    /// The operation's name, shared with the baselines it is compared with.
    pub op: String,
    /// Whose code ran: `ours`, `raw-mpi`, `memcpy`, or a peer (`pshmem`,
    /// `mpi4py`).
    #[serde(rename = "impl")]
    pub implementation: String,
    /// The number of ranks of the run.
    pub ranks: i32,
    /// Elements per operation; `None` for synchronisation operations.
    pub size: Option<usize>,
    /// The median time of one iteration, in µs.
    #[serde(serialize_with = "three_decimals")]
    pub median_us: Option<f64>,
    /// The 10th percentile, in µs.
    #[serde(serialize_with = "three_decimals")]
    pub p10_us: Option<f64>,
    /// The 90th percentile, in µs.
    #[serde(serialize_with = "three_decimals")]
    pub p90_us: Option<f64>,
    /// Bytes per iteration / median, in MB/s (10^6 bytes per second).
    #[serde(serialize_with = "three_decimals")]
    pub throughput_mb_s: Option<f64>,
    /// A count instead of a time (remote operations per acquisition).
    #[serde(serialize_with = "three_decimals")]
    pub count: Option<f64>,
}

impl Row {
    /// The columns that identify a measurement: a later row with the same
    /// key replaces an earlier one.
    fn key(&self) -> (&str, &str, &str, i32, Option<usize>) {
        (
            &self.suite,
            &self.op,
            &self.implementation,
            self.ranks,
            self.size,
        )
    }
}

/// A number as the CSV, the console and the report write it: three decimals,
/// or nothing.
pub fn decimals(v: Option<f64>) -> String {
    v.map(|v| format!("{v:.3}")).unwrap_or_default()
}

fn three_decimals<S: Serializer>(v: &Option<f64>, s: S) -> Result<S::Ok, S::Error> {
    match v {
        Some(_) => s.serialize_str(&decimals(*v)),
        None => s.serialize_none(),
    }
}

/// Appends `rows` to the CSV file at `path`, writing the header first if the
/// file is new or empty (creating its directory if needed).
pub fn append(path: &Path, rows: &[Row]) -> Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let fresh = std::fs::metadata(path)
        .map(|m| m.len() == 0)
        .unwrap_or(true);
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .with_context(|| format!("opening {}", path.display()))?;
    write(file, fresh, rows).with_context(|| format!("writing {}", path.display()))
}

fn write(out: impl std::io::Write, header: bool, rows: &[Row]) -> Result<()> {
    let mut csv = csv::WriterBuilder::new()
        .has_headers(header)
        .from_writer(out);
    for row in rows {
        csv.serialize(row)?;
    }
    csv.flush()?;
    Ok(())
}

/// Reads the CSV file at `path`; of the rows with the same key (suite, op,
/// implementation, ranks, size) the last one wins, so runs may be appended
/// to one file.
pub fn read(path: &Path) -> Result<Vec<Row>> {
    let file = std::fs::File::open(path).with_context(|| format!("reading {}", path.display()))?;
    parse(file).with_context(|| format!("reading {}", path.display()))
}

fn parse(input: impl std::io::Read) -> Result<Vec<Row>> {
    let mut csv = csv::Reader::from_reader(input);
    let header = csv.headers()?.iter().collect::<Vec<_>>().join(",");
    ensure!(header == HEADER, "the header is {header:?}, not {HEADER:?}");
    let mut rows: Vec<Row> = Vec::new();
    for row in csv.deserialize() {
        let row: Row = row?;
        match rows.iter_mut().find(|r| r.key() == row.key()) {
            Some(old) => *old = row,
            None => rows.push(row),
        }
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Vec<Row> {
        vec![
            Row {
                suite: "raw".into(),
                op: "memcpy".into(),
                implementation: "memcpy".into(),
                ranks: 2,
                size: Some(1000),
                median_us: Some(1.0),
                p10_us: Some(0.5),
                p90_us: Some(2.25),
                throughput_mb_s: Some(8000.0),
                count: None,
            },
            Row {
                suite: "mpi-lock".into(),
                op: "remote-ops-per-acquire".into(),
                implementation: "ours".into(),
                ranks: 4,
                count: Some(2.5),
                ..Row::default()
            },
        ]
    }

    fn written(header: bool, rows: &[Row]) -> String {
        let mut out = Vec::new();
        write(&mut out, header, rows).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn the_columns_and_cells_keep_their_format() {
        assert_eq!(
            written(true, &sample()),
            format!(
                "{HEADER}\n\
                 raw,memcpy,memcpy,2,1000,1.000,0.500,2.250,8000.000,\n\
                 mpi-lock,remote-ops-per-acquire,ours,4,,,,,,2.500\n"
            )
        );
        assert!(!written(false, &sample()).contains("suite"));
    }

    #[test]
    fn rows_read_back_and_the_last_of_a_key_wins() {
        let mut newer = sample()[0].clone();
        newer.median_us = Some(3.0);
        let text = written(true, &sample()) + &written(false, &[newer.clone()]);
        let rows = parse(text.as_bytes()).unwrap();
        assert_eq!(rows, [newer, sample()[1].clone()]);
    }

    #[test]
    fn peer_rows_read() {
        // As bench/peers.py writes them: the count cell empty.
        let text = format!(
            "{HEADER}\nmpi-lock,lock-unlock-contended,pshmem,4,,174.250,100.000,300.000,,\n"
        );
        let rows = parse(text.as_bytes()).unwrap();
        assert_eq!(rows[0].implementation, "pshmem");
        assert_eq!(rows[0].size, None);
        assert_eq!(rows[0].median_us, Some(174.25));
        assert_eq!(rows[0].count, None);
    }

    #[test]
    fn bad_files_are_errors() {
        for text in [
            String::new(),
            "suite,op\nraw,memcpy\n".to_string(),
            format!("{HEADER}\nraw,memcpy,memcpy,2\n"),
            format!("{HEADER}\nraw,memcpy,memcpy,two,1,1,1,1,1,\n"),
            format!("{HEADER}\nraw,memcpy,memcpy,2,1,fast,1,1,1,\n"),
        ] {
            assert!(parse(text.as_bytes()).is_err(), "{text:?} was read");
        }
    }
}
