//! Node memory: how much shared memory the system can still give, and
//! touching new pages so that running out is an error rather than a crash.
//!
//! MPI implementations back shared windows with sparse files (in `/dev/shm`
//! on Linux for Open MPI and MPICH). Creating one larger than the memory left
//! may *succeed* (MPICH 4 and 5), and the first store to a page that the file
//! system cannot provide then kills the process with `SIGBUS`; or one rank's
//! creation fails while the others wait inside MPI (Open MPI 4.1). So the
//! window layer checks a request against what is left before calling MPI
//! ([`check_available`]), and new memory is touched with
//! `madvise(MADV_POPULATE_WRITE)` ([`populate`]), which reports a page the
//! system cannot provide as an error (Linux 5.14 and later; older kernels
//! keep only the check before the call).

use std::ffi::CString;
use std::path::Path;

/// Where Linux MPI implementations keep shared-memory segments.
const SHM_DIR: &str = "/dev/shm";

/// Checks that `bytes` of new shared memory fit in what the node has left:
/// the free space of `/dev/shm`, the kernel's `MemAvailable`, and the memory
/// left under this process's cgroup (v2) limit, whichever is smallest.
/// Limits that cannot be read on this system are skipped.
pub(crate) fn check_available(bytes: usize) -> Result<(), String> {
    if bytes == 0 {
        return Ok(());
    }
    let limits = [
        shm_free().map(|b| (b, format!("{SHM_DIR} has"))),
        mem_available().map(|b| (b, "the node has".to_string())),
        cgroup_left().map(|b| (b, "this job's memory limit leaves".to_string())),
    ];
    match limits.into_iter().flatten().min_by_key(|(b, _)| *b) {
        Some((left, what)) if (bytes as u64) > left => Err(format!(
            "cannot allocate {} of node shared memory: {what} {} left",
            human_bytes(bytes as u64),
            human_bytes(left)
        )),
        _ => Ok(()),
    }
}

/// Makes the pages of `[ptr, ptr + len)` resident and writable, failing
/// instead of raising `SIGBUS` when the system cannot provide them.
///
/// A kernel without `MADV_POPULATE_WRITE` (before 5.14) makes this a no-op.
pub(crate) fn populate(ptr: *mut u8, len: usize) -> Result<(), String> {
    if len == 0 {
        return Ok(());
    }
    let page = page_size();
    let start = (ptr as usize) & !(page - 1);
    let end = (ptr as usize + len).next_multiple_of(page);
    // The range is a segment of a live window rounded out to whole pages of
    // the same mapping (MPI maps whole pages).
    // SAFETY: madvise only changes how the kernel backs pages the caller owns.
    let rc = unsafe {
        libc::madvise(
            start as *mut libc::c_void,
            end - start,
            libc::MADV_POPULATE_WRITE,
        )
    };
    if rc == 0 {
        return Ok(());
    }
    let err = std::io::Error::last_os_error();
    if err.raw_os_error() == Some(libc::EINVAL) {
        // Not supported by this kernel: the check before the call is all we
        // have.
        return Ok(());
    }
    Err(format!(
        "the system could not provide {} of node shared memory ({err})",
        human_bytes(len as u64)
    ))
}

fn page_size() -> usize {
    // SAFETY: sysconf has no memory effects.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    if page > 0 {
        page as usize
    } else {
        4096
    }
}

/// Free bytes of the shared-memory file system.
fn shm_free() -> Option<u64> {
    let path = CString::new(SHM_DIR).ok()?;
    // SAFETY: an all-zero statvfs is a valid value to be overwritten.
    let mut stat: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: `path` is a NUL-terminated string and `stat` a valid output.
    if unsafe { libc::statvfs(path.as_ptr(), &mut stat) } != 0 {
        return None;
    }
    Some(stat.f_bavail as u64 * stat.f_frsize as u64)
}

/// `MemAvailable` of `/proc/meminfo`, in bytes.
fn mem_available() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = text.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// Bytes left under this process's cgroup v2 memory limit.
fn cgroup_left() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/self/cgroup").ok()?;
    let rel = text.lines().find_map(|l| l.strip_prefix("0::"))?;
    let dir = Path::new("/sys/fs/cgroup").join(rel.trim_start_matches('/'));
    let max: u64 = std::fs::read_to_string(dir.join("memory.max"))
        .ok()?
        .trim()
        .parse()
        .ok()?; // "max" (no limit) does not parse
    let current: u64 = std::fs::read_to_string(dir.join("memory.current"))
        .ok()?
        .trim()
        .parse()
        .ok()?;
    Some(max.saturating_sub(current))
}

/// `1.5 GiB`, `320 B`.
pub(crate) fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn more_than_the_node_has_is_refused() {
        let err = check_available(usize::MAX / 2).unwrap_err();
        assert!(err.contains("cannot allocate"), "{err}");
        assert!(check_available(4096).is_ok());
    }

    #[test]
    fn populate_touches_heap_pages() {
        let mut v = vec![0u8; 1 << 16];
        populate(v.as_mut_ptr(), v.len()).unwrap();
        populate(v.as_mut_ptr(), 0).unwrap();
    }

    #[test]
    fn sizes_read_well() {
        assert_eq!(human_bytes(320), "320 B");
        assert_eq!(human_bytes(3 << 29), "1.5 GiB");
    }
}
