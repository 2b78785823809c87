//! Is the MPI library loaded the one this program was built against?
//!
//! Implementations share library file names (Open MPI 4.1 and 5.0 are both
//! `libmpi.so.40`; MPICH 5 and Intel MPI both `libmpi.so.12`), so a program
//! built with one MPI's `mpicc` may load another's library without any
//! loader error, when the library path finds it first, and then fail in
//! ways that name nothing. The C shim records the implementation and
//! version of the `mpi.h` it was compiled with; [`check_mpi_library`]
//! compares them with `MPI_Get_library_version`, which MPI allows before
//! `MPI_Init`.

use crate::error::{Error, Result};
use std::ffi::CStr;
use std::os::raw::{c_char, c_int};
use std::sync::OnceLock;

extern "C" {
    static SHM_MPI_BUILT_NAME: [c_char; 0];
    static SHM_MPI_BUILT_VERSION: [c_char; 0];
}

/// The implementation and version this crate was compiled against, from
/// `mpi.h` (`("Open MPI", "4.1.4")`; empty for an implementation the shim
/// does not know).
pub fn built_against() -> (&'static str, &'static str) {
    // SAFETY: the shim defines both as NUL-terminated `const char` arrays,
    // initialised before `main` and never written.
    unsafe {
        (
            CStr::from_ptr(SHM_MPI_BUILT_NAME.as_ptr())
                .to_str()
                .unwrap_or(""),
            CStr::from_ptr(SHM_MPI_BUILT_VERSION.as_ptr())
                .to_str()
                .unwrap_or(""),
        )
    }
}

/// The first line of `MPI_Get_library_version` of the library loaded.
pub fn loaded_library() -> String {
    const MAX: usize = 8192; // MPI_MAX_LIBRARY_VERSION_STRING is at most this
    let mut buf = vec![0u8; MAX];
    let mut len: c_int = 0;
    // SAFETY: `buf` has room for any implementation's
    // MPI_MAX_LIBRARY_VERSION_STRING bytes; the call is allowed before
    // MPI_Init and after MPI_Finalize.
    unsafe { mpi::ffi::MPI_Get_library_version(buf.as_mut_ptr() as *mut c_char, &mut len) };
    let len = (len.max(0) as usize).min(MAX);
    let text = String::from_utf8_lossy(&buf[..len]);
    let text = text.trim_end_matches('\0');
    text.lines().next().unwrap_or("").trim().to_string()
}

/// Checks that the MPI library loaded is the implementation, and the major
/// version, that this program was built against. Callable before
/// `MPI_Init` (do it first thing when the library path may hold several
/// MPIs); the toolkit also checks by itself before it creates its first
/// communicator or window, and the result is kept.
///
/// ```no_run
/// shm_core::check_mpi_library()?;
/// let universe = mpi::initialize().unwrap();
/// # Ok::<(), shm_core::Error>(())
/// ```
pub fn check_mpi_library() -> Result<()> {
    static VERDICT: OnceLock<Result<()>> = OnceLock::new();
    VERDICT
        .get_or_init(|| {
            let (name, version) = built_against();
            verdict(name, version, &loaded_library())
        })
        .clone()
}

/// The rule: the loaded library names the same implementation and the same
/// major version (ABI breaks come with a major version; patch releases and,
/// for MPICH and Open MPI, minor ones keep it).
fn verdict(name: &str, version: &str, loaded: &str) -> Result<()> {
    if name.is_empty() {
        return Ok(()); // an implementation the shim does not know
    }
    let major = version.split('.').next().unwrap_or(version);
    let same_name = loaded.contains(name);
    let same_major = loaded
        .split(|c: char| !c.is_ascii_digit() && c != '.')
        .any(|word| word.split('.').next() == Some(major) && word.contains('.'));
    if same_name && same_major {
        Ok(())
    } else {
        Err(Error::MpiLibrary {
            built: format!("{name} {version}"),
            loaded: loaded.to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_library_passes() {
        let open_mpi = "Open MPI v4.1.4, package: Debian OpenMPI, ident: 4.1.4, repo rev: v4.1.4";
        assert!(verdict("Open MPI", "4.1.4", open_mpi).is_ok());
        assert!(verdict("Open MPI", "4.1.2", open_mpi).is_ok());
        assert!(verdict("MPICH", "4.0.2", "MPICH Version:\t4.0.2").is_ok());
        assert!(verdict(
            "Intel(R) MPI Library",
            "2021.19.0",
            "Intel(R) MPI Library 2021.19 for Linux* OS"
        )
        .is_ok());
        assert!(verdict("", "", "anything").is_ok());
    }

    #[test]
    fn another_implementation_or_major_version_is_refused() {
        let err = verdict(
            "Open MPI",
            "5.0.11",
            "Open MPI v4.1.4, package: Debian OpenMPI",
        )
        .unwrap_err();
        assert!(
            err.to_string().contains("built against Open MPI 5.0.11"),
            "{err}"
        );
        assert!(verdict(
            "MPICH",
            "5.0.2",
            "Intel(R) MPI Library 2021.19 for Linux* OS"
        )
        .is_err());
        assert!(verdict(
            "Intel(R) MPI Library",
            "2021.19.0",
            "MPICH Version:      5.0.2"
        )
        .is_err());
        assert!(verdict("MPICH", "5.0.2", "MPICH Version:\t4.0.2").is_err());
    }

    #[test]
    fn this_build_knows_its_mpi() {
        let (name, version) = built_against();
        assert!(!name.is_empty() && !version.is_empty());
        assert!(
            check_mpi_library().is_ok(),
            "{:?} vs {}",
            built_against(),
            loaded_library()
        );
    }
}
