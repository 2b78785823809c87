//! What each MPI implementation leaves behind when a job ends badly:
//! `scripts/mpi-leftovers.txt`, the table `scripts/clean-shm.sh` reads too.

/// Where a leftover lies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Place {
    /// `/dev/shm`.
    Shm,
    /// The job's temporary directory (`$TMPDIR`).
    TmpDir,
    /// `/tmp` itself, for launchers that ignore `$TMPDIR`.
    Tmp,
}

/// The fault that leaves it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum When {
    /// A rank dies inside the creation of a shared window.
    Window,
    /// The whole job, launcher included, is killed.
    WholeJob,
    /// Any abnormal end.
    Abnormal,
}

/// One row of the table.
#[derive(Debug, Clone)]
pub struct Leftover {
    pub mpi: String,
    pub place: Place,
    /// A glob: `*` is any run of characters but `/`, `<pid>` a run of digits.
    pub name: String,
    pub when: When,
    pub note: String,
}

impl Leftover {
    /// `true` when `path` (relative to the place) is this leftover.
    pub fn matches(&self, path: &str) -> bool {
        glob_match(&self.name, path)
    }
}

/// The whole table.
pub fn table() -> Vec<Leftover> {
    include_str!("../../scripts/mpi-leftovers.txt")
        .lines()
        .filter(|l| !l.trim_start().starts_with('#') && !l.trim().is_empty())
        .map(|line| {
            let words: Vec<&str> = line.split_whitespace().collect();
            assert!(
                words.len() >= 4,
                "scripts/mpi-leftovers.txt: short line {line:?}"
            );
            Leftover {
                mpi: words[0].to_string(),
                place: match words[1] {
                    "shm" => Place::Shm,
                    "tmpdir" => Place::TmpDir,
                    "tmp" => Place::Tmp,
                    other => panic!("scripts/mpi-leftovers.txt: unknown place {other:?}"),
                },
                name: words[2].to_string(),
                when: match words[3] {
                    "window" => When::Window,
                    "whole-job" => When::WholeJob,
                    "abnormal" => When::Abnormal,
                    other => panic!("scripts/mpi-leftovers.txt: unknown case {other:?}"),
                },
                note: words[4..].join(" "),
            }
        })
        .collect()
}

/// The MPI build under test (`scripts/mpi.sh` sets `RMA_MPI_NAME`).
pub fn current_mpi() -> String {
    std::env::var("RMA_MPI_NAME").unwrap_or_else(|_| "unknown".to_string())
}

/// `*` matches any run of characters other than `/`; `<pid>` a non-empty
/// run of digits; anything else itself.
pub fn glob_match(pattern: &str, text: &str) -> bool {
    fn go(p: &[u8], t: &[u8]) -> bool {
        if p.is_empty() {
            return t.is_empty();
        }
        if p.starts_with(b"<pid>") {
            let digits = t.iter().take_while(|c| c.is_ascii_digit()).count();
            return (1..=digits).any(|n| go(&p[5..], &t[n..]));
        }
        if p[0] == b'*' {
            return (0..=t.len())
                .take_while(|&n| n == 0 || t[n - 1] != b'/')
                .any(|n| go(&p[1..], &t[n..]));
        }
        !t.is_empty() && p[0] == t[0] && go(&p[1..], &t[1..])
    }
    go(pattern.as_bytes(), text.as_bytes())
}
